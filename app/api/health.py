from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from app.api.deps import SessionDep
from app.schemas import Health

router = APIRouter(prefix="/health", tags=["health"])


@router.get("", response_model=Health)
def read_health(session: SessionDep) -> Health:
    """Liveness and database reachability; needs no token."""
    session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    return Health(status="ok", database="ok")
