"""The write path's stages inside the application: each line translated, then recorded through the
risk door, decided and committed, and what placing an order answers."""
