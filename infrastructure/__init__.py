"""Wiring: the application, storage, views, adapters and the command line."""
