"""Secrets at rest: Mastodon tokens, Bluesky app passwords and (later) SMTP credentials
are stored encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``).

- The key set is resolved once at start-up (:func:`install`) from the settings:
  ``KITH_ENCRYPTION_KEY`` (a Fernet key, or any passphrase, which is run through HKDF),
  else a key derived with HKDF-SHA256 from ``KITH_SECRET_KEY``, else a key file
  (``kith.key`` next to the SQLite database, created 0600 on first start).
  ``KITH_ENCRYPTION_OLD_KEYS`` lists keys that still decrypt (rotation).
- :class:`EncryptedString` is the column type: code reading ``source.access_token``
  sees plain text; the database holds ``enc:v1:<fernet token>``.
- :func:`check_keys` decrypts every stored secret at start-up, so a wrong key is one
  clear error naming the setting, not a failure per request; :func:`rotate` re-encrypts
  every secret with the primary key (``kith rotate-key``).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from app.config import Settings

PREFIX = "enc:v1:"
KEY_FILE_NAME = "kith.key"
_SALT = b"kith secrets at rest"
_INFO = b"fernet key v1"


class SecretsError(Exception):
    """A secret cannot be encrypted or read; ``code`` is stable."""

    code = "secrets_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class KeyMismatch(SecretsError):
    code = "encryption_key_mismatch"


@dataclass(frozen=True, slots=True)
class KeySet:
    """The primary key (encrypts) and old keys (still decrypt); ``origin`` names where
    the primary came from, for error messages."""

    primary: bytes
    old: tuple[bytes, ...] = ()
    origin: str = "KITH_ENCRYPTION_KEY"

    def fernet(self) -> MultiFernet:
        return MultiFernet([Fernet(k) for k in (self.primary, *self.old)])


def derive_key(secret: str) -> bytes:
    """A Fernet key from any passphrase (HKDF-SHA256; the passphrase should be long)."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=_INFO).derive(
        secret.encode("utf-8")
    )
    return base64.urlsafe_b64encode(raw)


def as_key(text: str) -> bytes:
    """``text`` itself when it is a Fernet key (32 url-safe base64 bytes), else derived."""
    text = text.strip()
    try:
        if len(base64.urlsafe_b64decode(text.encode())) == 32:
            return text.encode()
    except (binascii.Error, ValueError):
        pass
    return derive_key(text)


def key_file_for(database_url: str) -> Path:
    """Where the generated key lives: beside the SQLite file, else the working folder."""
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent / KEY_FILE_NAME
    return Path(KEY_FILE_NAME).resolve()


def load_or_create_key_file(path: Path) -> bytes:
    """The key in ``path``, written there first (mode 0600, never overwritten) if absent."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip().encode()
    with os.fdopen(fd, "w") as f:
        f.write(Fernet.generate_key().decode() + "\n")
    return path.read_text().strip().encode()


def _old_keys(value: str | None) -> tuple[bytes, ...]:
    """``KITH_ENCRYPTION_OLD_KEYS``: a JSON list, or keys separated by commas."""
    if not value or not value.strip():
        return ()
    try:
        parsed = json.loads(value)
        items = [str(v) for v in parsed] if isinstance(parsed, list) else [str(parsed)]
    except ValueError:
        items = value.split(",")
    return tuple(as_key(v) for v in items if v.strip())


def keys_from_settings(settings: Settings) -> KeySet:
    old = _old_keys(settings.encryption_old_keys)
    if settings.encryption_key:
        return KeySet(as_key(settings.encryption_key), old, "KITH_ENCRYPTION_KEY")
    if settings.secret_key:
        return KeySet(derive_key(settings.secret_key), old, "KITH_SECRET_KEY")
    path = Path(settings.encryption_key_file or key_file_for(settings.database_url))
    return KeySet(load_or_create_key_file(path), old, f"the key file {path}")


_KEYS: KeySet | None = None


def configure(keys: KeySet | None) -> None:
    """Set the process's key set (start-up does it once; tests may swap it)."""
    global _KEYS
    _KEYS = keys


def install(settings: Settings) -> KeySet:
    """Resolve the key set from ``settings`` and make it the process's."""
    keys = keys_from_settings(settings)
    configure(keys)
    return keys


def current() -> KeySet:
    """The configured key set (resolved from the environment on first use if start-up
    did not configure one)."""
    if _KEYS is None:
        from app.config import get_settings

        return install(get_settings())
    return _KEYS


def is_encrypted(value: str) -> bool:
    return value.startswith(PREFIX)


def encrypt(value: str, keys: KeySet | None = None) -> str:
    token = (keys or current()).fernet().encrypt(value.encode("utf-8"))
    return PREFIX + token.decode("ascii")


def decrypt(value: str, keys: KeySet | None = None) -> str:
    """Plain text of a stored value (a value stored before encryption is returned as is)."""
    if not is_encrypted(value):
        return value
    keys = keys or current()
    try:
        return keys.fernet().decrypt(value[len(PREFIX) :].encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError) as exc:
        raise KeyMismatch(
            f"a stored secret does not open with {keys.origin}: set the key it was stored "
            "with (or list it in KITH_ENCRYPTION_OLD_KEYS)"
        ) from exc


class EncryptedString(TypeDecorator[str]):
    """Text encrypted at rest; the code reading the attribute sees plain text. TEXT on
    PostgreSQL (a token grows by about 2x); SQLite keeps the old VARCHAR(500), whose
    length it does not enforce."""

    impl = sa.Text
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> Any:
        return sa.String(500) if dialect.name == "sqlite" else sa.Text()

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> str | None:
        if value is None or is_encrypted(value):
            return value
        return encrypt(value)

    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else decrypt(value)


# --- every secret in the database: start-up check, migration, rotation ------------------


def secret_columns(metadata: sa.MetaData) -> list[sa.Column[Any]]:
    """Columns typed :class:`EncryptedString` (a new secret column is covered at once)."""
    return [
        c for t in metadata.sorted_tables for c in t.columns if isinstance(c.type, EncryptedString)
    ]


def _raw_rows(conn: sa.Connection, column: sa.Column[Any]) -> Iterator[tuple[Any, str]]:
    """(primary key, stored text) of every non-null value, read without decrypting."""
    table = column.table
    pk = list(table.primary_key.columns)[0]
    raw = sa.column(column.name, sa.Text)
    query: Any = (
        sa.select(sa.column(pk.name), raw).select_from(sa.table(table.name)).where(raw.is_not(None))
    )
    for row in conn.execute(query):
        yield row[0], row[1]


def _write_raw(conn: sa.Connection, column: sa.Column[Any], pk_value: Any, text: str) -> None:
    table = column.table
    pk = list(table.primary_key.columns)[0]
    conn.execute(
        sa.update(sa.table(table.name, sa.column(pk.name), sa.column(column.name)))
        .where(sa.column(pk.name) == pk_value)
        .values({column.name: text})
    )


def _metadata() -> sa.MetaData:
    from sqlmodel import SQLModel

    import app.models  # noqa: F401 - registers the tables

    return SQLModel.metadata


def check_keys(engine: sa.Engine, keys: KeySet) -> int:
    """Decrypt every stored secret with ``keys``; the count, or :class:`KeyMismatch`
    naming the setting when any of them does not open."""
    fernet, count, bad = keys.fernet(), 0, 0
    with engine.connect() as conn:
        for column in secret_columns(_metadata()):
            for _pk, text in _raw_rows(conn, column):
                if not is_encrypted(text):
                    continue  # the migration encrypts these
                count += 1
                try:
                    fernet.decrypt(text[len(PREFIX) :].encode("ascii"))
                except (InvalidToken, ValueError):
                    bad += 1
    if bad:
        raise KeyMismatch(
            f"{bad} of {count} stored secrets do not open with {keys.origin}. Set "
            "KITH_ENCRYPTION_KEY (or KITH_SECRET_KEY) to the key they were stored with; "
            "after changing the key, list the old one in KITH_ENCRYPTION_OLD_KEYS and run "
            "`kith rotate-key`"
        )
    return count


def encrypt_plaintext(conn: sa.Connection, keys: KeySet, columns: list[tuple[str, str]]) -> int:
    """Encrypt the plain-text values of ``(table, column)`` in place (migrations); an
    encrypted value is left alone. Returns how many were encrypted."""
    done = 0
    for table, name in columns:
        t = sa.table(table, sa.column("id"), sa.column(name, sa.Text))
        rows = conn.execute(sa.select(t.c.id, t.c[name]).where(t.c[name].is_not(None))).all()
        for pk, text in rows:
            if not is_encrypted(text):
                conn.execute(sa.update(t).where(t.c.id == pk).values({name: encrypt(text, keys)}))
                done += 1
    return done


def rotate(engine: sa.Engine, keys: KeySet) -> int:
    """Re-encrypt every stored secret with the primary key (any key of the set opens
    it), in one transaction; returns how many."""
    fernet, done = keys.fernet(), 0
    with engine.begin() as conn:
        for column in secret_columns(_metadata()):
            for pk, text in list(_raw_rows(conn, column)):
                if is_encrypted(text):
                    try:
                        token = fernet.rotate(text[len(PREFIX) :].encode("ascii"))
                    except InvalidToken as exc:
                        raise KeyMismatch(
                            f"a stored secret does not open with {keys.origin} or the "
                            "keys in KITH_ENCRYPTION_OLD_KEYS"
                        ) from exc
                    new = PREFIX + token.decode("ascii")
                else:
                    new = encrypt(text, keys)
                _write_raw(conn, column, pk, new)
                done += 1
    return done
