"""The Google Reader API as FreshRSS and Miniflux serve it, for native reader apps
(Reeder, NetNewsWire, ReadYou ...). :data:`router` is mounted twice by
:func:`app.main.create_app`: at ``/reader`` (Miniflux's layout: the server URL is
``https://host/reader``) and at ``/api/greader.php`` (FreshRSS's: apps with a FreshRSS
account type append that path to the host themselves)."""

from __future__ import annotations

from fastapi import APIRouter

from app.greader import auth, routes, subscriptions

PREFIXES = ("/reader", "/api/greader.php")

router = APIRouter(include_in_schema=False)
router.include_router(auth.router)
router.include_router(routes.router)
router.include_router(subscriptions.router)
