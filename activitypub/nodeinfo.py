"""NodeInfo 2.0 and 2.1 documents and the ``/.well-known/nodeinfo`` links.

The schemas are at http://nodeinfo.diaspora.software/ns/schema/2.0 and …/2.1. Both
require ``version``, ``software``, ``protocols``, ``services``, ``openRegistrations``,
``usage`` and ``metadata``; 2.1 adds the optional ``software.repository`` and
``software.homepage``. Mastodon serves 2.0 only, Lemmy and Fedify 2.1, GoToSocial and
Mitra both, so we serve both.

The links document also carries FEP-2677's ``Application`` link to the instance
actor, which lets peers find the actor that signs our GETs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

VERSIONS = ("2.0", "2.1")
SCHEMA_REL = "http://nodeinfo.diaspora.software/ns/schema/{version}"
APPLICATION_REL = "https://www.w3.org/ns/activitystreams#Application"
# 2.0 restricts software names to this pattern; 2.1 relaxes it, we keep it for both.
SOFTWARE_NAME_RE = re.compile(r"[a-z0-9-]+")


def nodeinfo_url(base_url: str, version: str) -> str:
    """Where the NodeInfo document of ``version`` is served."""
    return f"{base_url.rstrip('/')}/nodeinfo/{version}"


def render_nodeinfo_links(base_url: str, instance_actor_url: str) -> dict[str, Any]:
    """The JRD served at ``/.well-known/nodeinfo``."""
    links: list[dict[str, str]] = [
        {"rel": SCHEMA_REL.format(version=version), "href": nodeinfo_url(base_url, version)}
        for version in VERSIONS
    ]
    links.append({"rel": APPLICATION_REL, "href": instance_actor_url})
    return {"links": links}


def _software(
    version: str, name: str, software_version: str, repository: str | None, homepage: str | None
) -> dict[str, str]:
    software = {"name": name, "version": software_version}
    if version == "2.1":
        if repository:
            software["repository"] = repository
        if homepage:
            software["homepage"] = homepage
    return software


def render_nodeinfo(
    version: str,
    *,
    software_name: str,
    software_version: str,
    users_total: int,
    active_month: int,
    active_halfyear: int,
    local_posts: int,
    open_registrations: bool,
    metadata: Mapping[str, Any] | None = None,
    software_repository: str | None = None,
    software_homepage: str | None = None,
) -> dict[str, Any]:
    """The NodeInfo document of ``version`` ("2.0" or "2.1")."""
    if version not in VERSIONS:
        raise ValueError(f"NodeInfo {version!r} is not supported; use one of {VERSIONS}")
    if not SOFTWARE_NAME_RE.fullmatch(software_name):
        raise ValueError("a NodeInfo software name is lowercase letters, digits and dashes")
    software = _software(
        version, software_name, software_version, software_repository, software_homepage
    )
    return {
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": open_registrations,
        "usage": {
            "users": {
                "total": users_total,
                "activeMonth": active_month,
                "activeHalfyear": active_halfyear,
            },
            "localPosts": local_posts,
        },
        "metadata": dict(metadata or {}),
    }
