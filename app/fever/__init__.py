"""The Fever API for native reader apps (Reeder, Unread, Fiery Feeds ...): people as
feeds, app passwords as keys. :mod:`app.fever.protocol` answers, :mod:`app.fever.routes`
serves ``/fever/``."""

from __future__ import annotations

from app.fever.routes import router

__all__ = ["router"]
