"""Failpoints: named places where a drill or a test makes this process fail on purpose.

The clearing protocol must survive a community dying at any step (issue: "kill an
instance at every protocol step and restart it"). Killing a process from outside at
the right instant is a race; a failpoint makes it exact. ``Settings.failpoints``
(``FEDIVERSE_SHARE_FAILPOINTS``) lists ``name=exit`` (the process ends at once, as if
killed: nothing after this point runs, no cleanup) or ``name=error`` (the request
fails with `FailpointHit`, an unexpected error: a 500 to whoever asked). With the
setting empty, as in production, `reach` is one dictionary lookup.

The names are the protocol steps, after the database write of that step committed:
``payer_prepared``, ``hop_prepared``, ``payee_committed``, ``hop_committed``.
"""

from __future__ import annotations

import os
from functools import cache

from fediverse_share.errors import ConfigError
from fediverse_share.settings import Settings

STEPS = frozenset({"payer_prepared", "hop_prepared", "payee_committed", "hop_committed"})


class FailpointHit(Exception):
    """Raised at a failpoint set to ``error``."""


@cache
def _parse(text: str) -> dict[str, str]:
    points: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, action = item.partition("=")
        if name not in STEPS or action not in ("exit", "error"):
            raise ConfigError(f"failpoints are <step>=exit|error with a step of {sorted(STEPS)}")
        points[name] = action
    return points


def check(settings: Settings) -> None:
    """Refuse a malformed ``failpoints`` setting at start-up."""
    _parse(settings.failpoints)


def reach(settings: Settings, name: str) -> None:
    """Fail here if ``name`` is set (see the module docstring)."""
    if not settings.failpoints:
        return
    action = _parse(settings.failpoints).get(name)
    if action == "exit":
        os._exit(75)
    if action == "error":
        raise FailpointHit(name)
