"""Every error leaves the API as {"error": {"code": ..., "message": ...}}."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import AppError, RateLimited
from ingest.errors import DestinationNotAllowed, IngestError, InvalidURL, NoFeedFound, OPMLError

log = logging.getLogger("kith.api")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def error_body(code: str, message: str, **extra: object) -> dict[str, object]:
    return {"error": {"code": code, "message": message, **extra}}


def _json(status: int, code: str, message: str, **extra: object) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(error_body(code, message, **extra), status_code=status, headers=headers)


def _out_of_range(exc: BaseException) -> bool:
    """An integer the database cannot hold: SQLite's driver raises OverflowError beyond
    64 bits, PostgreSQL answers 22003 (numeric_value_out_of_range) beyond 32."""
    orig = getattr(exc, "orig", None)
    for candidate in (exc, orig, exc.__cause__):
        if isinstance(candidate, OverflowError):
            return True
        if getattr(candidate, "sqlstate", None) == "22003":
            return True
        if candidate is not None and "int too large" in str(candidate):
            return True
    return False


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(_: Request, exc: AppError) -> JSONResponse:
        response = _json(exc.status, exc.code, exc.message)
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(IngestError)
    async def ingest_error(_: Request, exc: IngestError) -> JSONResponse:
        refused = DestinationNotAllowed | InvalidURL | OPMLError | NoFeedFound
        status = 422 if isinstance(exc, refused) else 502
        extra = {"line": exc.line} if isinstance(exc, OPMLError) and exc.line else {}
        return _json(status, exc.code, exc.message, **extra)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()))
            fields.append({"field": where, "message": err.get("msg", "invalid")})
        message = "; ".join(f"{f['field']}: {f['message']}" for f in fields) or "invalid request"
        return _json(422, "validation_error", message, fields=fields)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return _json(exc.status_code, code, str(exc.detail))

    async def database_error(_: Request, exc: Exception) -> JSONResponse:
        if _out_of_range(exc):  # an id no row can have (beyond the database's integers)
            return _json(422, "out_of_range", "a number in the request is out of range")
        log.exception("unhandled error", exc_info=exc)
        return _json(500, "internal_error", "something went wrong on our side; it was logged")

    app.add_exception_handler(OverflowError, database_error)
    app.add_exception_handler(sa_exc.DBAPIError, database_error)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return _json(500, "internal_error", "something went wrong on our side; it was logged")
