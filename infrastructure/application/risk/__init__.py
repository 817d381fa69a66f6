"""The risk room: limits, trading states and the pre-trade check, exposure, P&L in one desk
currency, the limits' standing, the loss limits' responses and limits replayed over the log."""
