"""The pure domain: order events, the Order aggregate and its lifecycle rules.

Imports only the standard library and pydantic (checked by import-linter).
"""
