"""Alembic revision scripts, applied in order by ``storage.migrate.upgrade_database``."""
