"""NodeInfo documents and discovery links."""

from __future__ import annotations

import pytest

from activitypub.nodeinfo import render_nodeinfo, render_nodeinfo_links

REQUIRED = {
    "version",
    "software",
    "protocols",
    "services",
    "openRegistrations",
    "usage",
    "metadata",
}


def _document(version: str, **extra):
    return render_nodeinfo(
        version,
        software_name="fediverse-share",
        software_version="0.1.0",
        users_total=12,
        active_month=5,
        active_halfyear=9,
        local_posts=40,
        open_registrations=False,
        metadata={"nodeName": "Neighbours"},
        **extra,
    )


@pytest.mark.parametrize("version", ["2.0", "2.1"])
def test_documents_carry_the_schema_fields(version):
    """Both versions have every required key with the right shapes and values."""
    document = _document(version)
    assert set(document) == REQUIRED
    assert document["version"] == version
    assert document["software"] == {"name": "fediverse-share", "version": "0.1.0"}
    assert document["protocols"] == ["activitypub"]
    assert document["services"] == {"inbound": [], "outbound": []}
    assert document["openRegistrations"] is False
    assert document["usage"] == {
        "users": {"total": 12, "activeMonth": 5, "activeHalfyear": 9},
        "localPosts": 40,
    }
    assert document["metadata"] == {"nodeName": "Neighbours"}


def test_repository_and_homepage_only_in_2_1():
    """software.repository and software.homepage exist in the 2.1 schema only."""
    links = {
        "software_repository": "https://git.example/fs",
        "software_homepage": "https://fs.example",
    }
    assert _document("2.1", **links)["software"]["repository"] == "https://git.example/fs"
    assert set(_document("2.0", **links)["software"]) == {"name", "version"}


def test_unknown_version_and_bad_software_name_are_refused():
    """Only 2.0 and 2.1 are rendered, and the software name follows the 2.0 pattern."""
    with pytest.raises(ValueError):
        _document("1.0")
    with pytest.raises(ValueError):
        render_nodeinfo(
            "2.0",
            software_name="Fediverse Share",
            software_version="1",
            users_total=0,
            active_month=0,
            active_halfyear=0,
            local_posts=0,
            open_registrations=True,
        )


def test_links_name_both_versions_and_the_instance_actor():
    """The well-known document links 2.0, 2.1 and the FEP-2677 Application actor."""
    links = render_nodeinfo_links("https://share.example/", "https://share.example/actor")
    assert links == {
        "links": [
            {
                "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0",
                "href": "https://share.example/nodeinfo/2.0",
            },
            {
                "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1",
                "href": "https://share.example/nodeinfo/2.1",
            },
            {
                "rel": "https://www.w3.org/ns/activitystreams#Application",
                "href": "https://share.example/actor",
            },
        ]
    }
