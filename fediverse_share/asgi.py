"""Entry point for ASGI servers: ``uvicorn --factory fediverse_share.asgi:app_from_environment``."""

from __future__ import annotations

from starlette.applications import Starlette

from fediverse_share.app import create_app
from fediverse_share.settings import Settings


def app_from_environment() -> Starlette:
    return create_app(Settings.load())
