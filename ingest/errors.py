"""The one exception hierarchy of :mod:`ingest`.

Every error carries a stable machine ``code`` (stored on a source, returned by the API)
and the ``url`` it concerns. httpx errors are wrapped in :mod:`ingest.fetch` only.
"""

from __future__ import annotations


class IngestError(Exception):
    """Base class: ``code`` is stable, ``message`` is for people."""

    code = "ingest_error"

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.url = url


class InvalidURL(IngestError):
    code = "invalid_url"


class DestinationNotAllowed(IngestError):
    code = "destination_not_allowed"


class FetchTimeout(IngestError):
    code = "timeout"


class ConnectionFailed(IngestError):
    code = "connection_failed"


class ProtocolError(IngestError):
    """The server broke HTTP, including headers over the cap (h11 allows 100 KiB)."""

    code = "protocol_error"


class ResponseTooLarge(IngestError):
    code = "response_too_large"


class TooManyRedirects(IngestError):
    code = "too_many_redirects"


class HTTPStatusError(IngestError):
    """A non-success HTTP status; ``status`` and ``retry_after`` (seconds) carry the data."""

    code = "http_error"

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status: int,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, url=url)
        self.status = status
        self.retry_after = retry_after
        if status == 404:
            self.code = "not_found"
        elif status == 410:
            self.code = "gone"
        elif status == 429:
            self.code = "rate_limited"
        elif status in (401, 403):
            self.code = "auth_failed"
        elif status == 422:
            self.code = "invalid_request"
        elif status >= 500:
            self.code = "server_error"


class ParseError(IngestError):
    code = "parse_error"


class OPMLError(IngestError):
    """A broken OPML document; ``line`` names where, when the parser knows."""

    code = "invalid_opml"

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class NoFeedFound(IngestError):
    """A page that names no feed, and none of the usual feed paths answered with one."""

    code = "no_feed_found"
