"""The HTTP API and the operator's page (``orderledger serve``): a thin shell over the ledger.

``service`` is the one module that calls the Python API; ``routes/`` maps the routes onto it, one
module per area (writing, reading, audit); ``access`` is what every route shares (roles, the body,
the ledger context); ``app`` assembles them; ``auth`` holds the bearer tokens; ``problems`` turns
every error into an RFC 9457 problem document; ``stream`` serves the committed log as Server-Sent
Events; ``static/`` is the page.
"""
