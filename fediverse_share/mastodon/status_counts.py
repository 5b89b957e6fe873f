"""The counts of a page of posts and the viewer's flags on them, one round trip each.

The statements are built once (see `accounts`); `statuses.load_statuses` calls them
for every page.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, text

_COUNTS = text(
    """
SELECT 'likes', object_uri, CAST(NULL AS BIGINT), count(*) FROM interactions
 WHERE object_uri IN :uris AND type = 'Like' GROUP BY object_uri
UNION ALL SELECT 'reblogs', NULL, post_id, count(*) FROM reblogs
 WHERE post_id IN :ids GROUP BY post_id
UNION ALL SELECT 'replies', in_reply_to_uri, CAST(NULL AS BIGINT), count(*) FROM posts
 WHERE in_reply_to_uri IN :uris AND deleted_at_us IS NULL GROUP BY in_reply_to_uri
"""
).bindparams(bindparam("uris", expanding=True), bindparam("ids", expanding=True))
_VIEWER_FLAGS = text(
    """
SELECT 'liked', object_uri, CAST(NULL AS BIGINT) FROM interactions
 WHERE object_uri IN :uris AND type = 'Like' AND actor_id = :actor
UNION ALL SELECT 'reblogged', NULL, post_id FROM reblogs
 WHERE post_id IN :ids AND actor_id = :actor
UNION ALL SELECT 'bookmarked', NULL, post_id FROM bookmarks
 WHERE post_id IN :ids AND user_id = :user
"""
).bindparams(bindparam("uris", expanding=True), bindparam("ids", expanding=True))


def counts(conn: Connection, posts: list[RowMapping]) -> dict[str, dict[Any, int]]:
    """Likes (by uri), reblogs (by id) and replies (by uri) of a page of posts."""
    params = {"uris": [p["uri"] for p in posts], "ids": [p["id"] for p in posts]}
    found: dict[str, dict[Any, int]] = {"likes": {}, "reblogs": {}, "replies": {}}
    for kind, uri, post_id, count in conn.execute(_COUNTS, params):
        found[kind][post_id if kind == "reblogs" else uri] = int(count)
    return found


def viewer_sets(
    conn: Connection, actor_id: int, user_id: int, posts: list[RowMapping]
) -> tuple[set[str], set[int], set[int]]:
    """What the viewer liked (uris), reblogged and bookmarked (ids) among the posts."""
    params = {
        "uris": [p["uri"] for p in posts],
        "ids": [p["id"] for p in posts],
        "actor": actor_id,
        "user": user_id,
    }
    liked: set[str] = set()
    reblogged: set[int] = set()
    bookmarked: set[int] = set()
    for kind, uri, post_id in conn.execute(_VIEWER_FLAGS, params):
        if kind == "liked":
            liked.add(uri)
        else:
            (reblogged if kind == "reblogged" else bookmarked).add(post_id)
    return liked, reblogged, bookmarked
