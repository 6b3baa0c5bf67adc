"""voxpop's store: SQLAlchemy models, engine and sessions, queries, Alembic migrations."""
