"""Logging that never writes a secret: the Atom feed's token travels in its URL path,
and uvicorn's access log prints paths. :class:`RedactSecrets` masks it there (and any
``token=`` query parameter) before a line is written."""

from __future__ import annotations

import logging
import re

_SECRETS = (
    (re.compile(r"(/feeds/)[^/?#\s]+"), r"\1[redacted]"),
    (re.compile(r"(/unsubscribe/)[^/?#\s]+"), r"\1[redacted]"),  # digest mail links
    (re.compile(r"((?:^|[?&])(?:token|access_token|api_key)=)[^&#\s]*", re.I), r"\1[redacted]"),
)


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Masks secrets in a record's message arguments (uvicorn's access log passes the
    request path as one of them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install() -> None:
    """Add the filter to the access logger once (``create_app`` calls this)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactSecrets) for f in access.filters):
        access.addFilter(RedactSecrets())
