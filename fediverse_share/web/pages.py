"""HTML pages: one Jinja2 environment per app, built on first use (not at import)."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request

from activitypub.html import sanitise_html


def environment(request: Request) -> Environment:
    state = request.app.state
    env: Environment | None = getattr(state, "jinja", None)
    if env is None:
        env = Environment(
            loader=PackageLoader("fediverse_share", "templates"),
            autoescape=select_autoescape(default=True),
            auto_reload=False,
        )
        # Stored HTML passes the same allow-list as remote HTML before it is shown.
        env.filters["sanitise"] = sanitise_html
        state.jinja = env
    return env


def render(request: Request, template: str, **context: Any) -> str:
    runtime = request.app.state.runtime
    return environment(request).get_template(template).render(instance=runtime.instance, **context)
