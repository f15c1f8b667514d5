"""GraphQL types: each mirrors a view of ``projections/views.py`` (or a ledger record)."""
