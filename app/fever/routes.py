"""``/fever/``: the one endpoint of the Fever API (see :mod:`app.fever.protocol`)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app.api.deps import EngineDep
from app.fever.protocol import answer

router = APIRouter(include_in_schema=False)

MAX_PARAMS = 100


async def _params(request: Request) -> dict[str, str]:
    """The query string and, for a POST, the form body (the body wins on a clash)."""
    params = {k: v for k, v in list(request.query_params.multi_items())[:MAX_PARAMS]}
    if request.method == "POST":
        try:
            form = await request.form(max_files=0, max_fields=MAX_PARAMS)
        except Exception:  # noqa: BLE001 - a body that is no form: the query alone
            form = None
        if form is not None:
            params.update({k: v for k, v in form.multi_items() if isinstance(v, str)})
    return params


@router.api_route("/fever/", methods=["GET", "POST"])
async def fever(request: Request, engine: EngineDep) -> JSONResponse:
    """The Fever API: auth with api_key, then reads (groups, feeds, items ...) or a mark."""
    params = await _params(request)
    body = await run_in_threadpool(answer, engine, params, now=datetime.now(UTC))
    return JSONResponse(body, headers={"cache-control": "no-store"})
