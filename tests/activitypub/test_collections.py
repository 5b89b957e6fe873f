"""Ordered collections and their pages."""

from __future__ import annotations

from activitypub.collections import render_ordered_collection, render_ordered_collection_page

BASE = "https://share.example/users/ana/followers"


def test_collection_points_at_its_first_page():
    """The collection carries the count and the first page, no items."""
    assert render_ordered_collection(BASE, 3, f"{BASE}?page=true") == {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": BASE,
        "type": "OrderedCollection",
        "totalItems": 3,
        "first": f"{BASE}?page=true",
    }


def test_page_links_its_neighbours_and_omits_absent_ones():
    """A page has partOf and orderedItems; next/prev appear only when given."""
    page = render_ordered_collection_page(
        f"{BASE}?page=true",
        BASE,
        ["https://a.example/users/x", {"id": "https://b.example/users/y", "type": "Person"}],
        f"{BASE}?page=true&max_id=7",
        None,
    )
    assert page["type"] == "OrderedCollectionPage"
    assert page["partOf"] == BASE
    assert page["orderedItems"][0] == "https://a.example/users/x"
    assert page["orderedItems"][1]["type"] == "Person"
    assert page["next"] == f"{BASE}?page=true&max_id=7"
    assert "prev" not in page
