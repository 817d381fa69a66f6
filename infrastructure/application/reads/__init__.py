"""The reads: orders and their figures from the views, lots and P&L under a cost-basis rule, the
P&L series and days, instruments, the display rule and following the log."""
