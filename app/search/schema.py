"""The search index's DDL, kept in step with ``item`` by the database itself.

SQLite: ``item_fts``, an FTS5 table (rowid = item id; columns title, body, person) that
keeps its own copy of the text, so a row is removed by rowid alone and can never drift
from what was indexed. AFTER INSERT/UPDATE/DELETE triggers on ``item`` maintain it, a
trigger on ``person`` follows a rename and one on ``identity`` a merge or split (both
through ``ix_item_identity_id``). ``body`` is ``kith_text(content)``: the text of the
sanitized HTML, a deterministic function :mod:`app.db` registers on every connection.

PostgreSQL: ``item.search_vector`` (tsvector, ``simple`` configuration: title weight A,
person name B, content text D) set by a BEFORE INSERT/UPDATE trigger and read through
the GIN index ``ix_item_search``; renames and merges touch the affected items so the
trigger recomputes them. The column is not in :mod:`app.models` (the ORM never reads
it); :func:`is_search_object` names what the schema comparison leaves out.

A later migration that rebuilds ``item`` on SQLite (``batch_alter_table``) drops its
triggers with the old table: it must call :func:`install_sqlite_triggers` again."""

from __future__ import annotations

from typing import Any

FTS_TABLE = "item_fts"
TOKENIZE = "unicode61 remove_diacritics 0"
PG_COLUMN, PG_INDEX = "search_vector", "ix_item_search"

SQLITE_TRIGGERS = {
    "item_fts_insert": """
CREATE TRIGGER item_fts_insert AFTER INSERT ON item BEGIN
  INSERT INTO item_fts(rowid, title, body, person)
  VALUES (new.id, new.title, kith_text(new.content),
    (SELECT p.name FROM identity AS i JOIN person AS p ON p.id = i.person_id
          WHERE i.id = new.identity_id));
END""",
    "item_fts_update": """
CREATE TRIGGER item_fts_update AFTER UPDATE OF title, content, identity_id ON item
WHEN old.title IS NOT new.title OR old.content IS NOT new.content
  OR old.identity_id IS NOT new.identity_id
BEGIN
  DELETE FROM item_fts WHERE rowid = old.id;
  INSERT INTO item_fts(rowid, title, body, person)
  VALUES (new.id, new.title, kith_text(new.content),
    (SELECT p.name FROM identity AS i JOIN person AS p ON p.id = i.person_id
          WHERE i.id = new.identity_id));
END""",
    "item_fts_delete": """
CREATE TRIGGER item_fts_delete AFTER DELETE ON item BEGIN
  DELETE FROM item_fts WHERE rowid = old.id;
END""",
    "item_fts_person_name": """
CREATE TRIGGER item_fts_person_name AFTER UPDATE OF name ON person
WHEN old.name IS NOT new.name
BEGIN
  UPDATE item_fts SET person = new.name WHERE rowid IN (
    SELECT item.id FROM item JOIN identity ON identity.id = item.identity_id
    WHERE identity.person_id = new.id);
END""",
    "item_fts_identity_person": """
CREATE TRIGGER item_fts_identity_person AFTER UPDATE OF person_id ON identity
WHEN old.person_id IS NOT new.person_id
BEGIN
  UPDATE item_fts SET person = (SELECT name FROM person WHERE id = new.person_id)
  WHERE rowid IN (SELECT id FROM item WHERE identity_id = new.id);
END""",
}

SQLITE_BACKFILL = """
INSERT INTO item_fts(rowid, title, body, person)
SELECT item.id, item.title, kith_text(item.content),
  (SELECT p.name FROM identity AS i JOIN person AS p ON p.id = i.person_id
        WHERE i.id = item.identity_id)
FROM item WHERE item.id > :after AND item.id <= :upto"""

PG_FUNCTIONS = [
    # the text of sanitized HTML: tags out, the entities nh3 writes decoded
    r"""
CREATE OR REPLACE FUNCTION kith_text(html text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT regexp_replace(replace(replace(replace(replace(replace(
    regexp_replace(coalesce(html, ''), '<[^>]*>', ' ', 'g'),
    '&lt;', '<'), '&gt;', '>'), '&quot;', '"'), '&#39;', ''''), '&amp;', '&'),
    '&#?[A-Za-z0-9]+;', ' ', 'g')
$$""",
    """
CREATE OR REPLACE FUNCTION kith_item_search_vector() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.search_vector :=
    setweight(to_tsvector('simple', coalesce(NEW.title, '')), 'A') ||
    setweight(to_tsvector('simple', coalesce((SELECT p.name FROM identity AS i
      JOIN person AS p ON p.id = i.person_id WHERE i.id = NEW.identity_id), '')), 'B') ||
    setweight(to_tsvector('simple', kith_text(NEW.content)), 'D');
  RETURN NEW;
END $$""",
    # a rename or a merge: touching identity_id makes the item trigger recompute
    """
CREATE OR REPLACE FUNCTION kith_person_renamed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE item SET identity_id = identity_id
  WHERE identity_id IN (SELECT id FROM identity WHERE person_id = NEW.id);
  RETURN NULL;
END $$""",
    """
CREATE OR REPLACE FUNCTION kith_identity_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE item SET identity_id = identity_id WHERE identity_id = NEW.id;
  RETURN NULL;
END $$""",
]

PG_TRIGGERS = [
    """
CREATE TRIGGER item_search_vector BEFORE INSERT OR UPDATE OF title, content, identity_id
ON item FOR EACH ROW EXECUTE FUNCTION kith_item_search_vector()""",
    """
CREATE TRIGGER person_search_name AFTER UPDATE OF name ON person FOR EACH ROW
WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION kith_person_renamed()""",
    """
CREATE TRIGGER identity_search_person AFTER UPDATE OF person_id ON identity FOR EACH ROW
WHEN (OLD.person_id IS DISTINCT FROM NEW.person_id) EXECUTE FUNCTION kith_identity_moved()""",
]

PG_BACKFILL = "UPDATE item SET identity_id = identity_id WHERE id > :after AND id <= :upto"


def register_sqlite_functions(dbapi_connection: Any) -> None:
    """``kith_text`` on a raw sqlite3 connection (the triggers call it)."""
    from app.search.text import html_text

    dbapi_connection.create_function("kith_text", 1, html_text, deterministic=True)


def install_sqlite_triggers(exec_sql: Any) -> None:
    """(Re)create the SQLite triggers; ``exec_sql`` runs one statement."""
    for name, ddl in SQLITE_TRIGGERS.items():
        exec_sql(f"DROP TRIGGER IF EXISTS {name}")
        exec_sql(ddl)


def is_search_object(name: str | None, type_: str) -> bool:
    """True for what the index adds beside the models: the FTS5 table and its shadow
    tables, the PostgreSQL column and its index (for ``include_name`` in autogenerate)."""
    if name is None:
        return False
    if type_ == "table":
        return name == FTS_TABLE or name.startswith(FTS_TABLE + "_")
    if type_ == "column":
        return name == PG_COLUMN
    if type_ == "index":
        return name == PG_INDEX
    return False
