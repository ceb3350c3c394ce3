"""Alembic migration environment of the CryptoGuard schema (see ``storage.migrate``)."""
