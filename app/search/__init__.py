"""Full-text search over a user's items: the query parser (pure), the index's schema on
both backends (SQLite FTS5, PostgreSQL tsvector) and the store that reads it."""
