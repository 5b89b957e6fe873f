"""The query string of a listing search (and of a page of matches), parsed and checked.

Prices are in this community's currency: a price filter leaves out listings without a
price and listings of other communities (their prices are in their own units). A
community is named by its actor URI or its handle (``name@domain``, ``acct:`` or ``@``
first); one this instance does not know has no listings.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, select

from exchange.errors import InvalidAmount
from exchange.money import Currency, parse_amount
from fediverse_share import tables
from fediverse_share.errors import BadRequest
from fediverse_share.exchange_api.spec import Param
from fediverse_share.listings.model import Kind, Purpose
from fediverse_share.listings.search import SearchQuery

#: The parameters as the OpenAPI document declares them (see `parse_search`).
LISTING_ID = Param(
    "listing_id", "path", {"type": "string", "pattern": "^[0-9]{1,18}$"},
    "the listing's id (as listings show it)",
)  # fmt: skip
PAGE = (
    Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100},
          "entries per page (default 20)"),
    Param("offset", "query", {"type": "integer", "minimum": 0, "maximum": 10_000},
          "entries to skip: the next_offset of the previous page"),
)  # fmt: skip
SEARCH = (
    Param("q", "query", {"type": "string", "maxLength": 200},
          "words of the title, category or description (prefixes match)"),
    Param("purpose", "query", {"type": "string", "enum": ["offer", "request"]}, "offer or need"),
    Param("kind", "query",
          {"type": "string", "enum": ["give", "lend", "rent", "sell", "swap", "service"]},
          "what the listing gives"),
    Param("category", "query", {"type": "string", "pattern": "^[A-Za-z0-9_]{1,64}$"},
          "one category"),
    Param("community", "query", {"type": "string", "minLength": 1, "maxLength": 300},
          "a community's actor URI or handle (name@domain)"),
    Param("min_price", "query", {"type": "string", "pattern": "^[0-9]{1,12}(\\.[0-9]{1,8})?$"},
          "lowest price in this community's currency (leaves out unpriced listings)"),
    Param("max_price", "query", {"type": "string", "pattern": "^[0-9]{1,12}(\\.[0-9]{1,8})?$"},
          "highest price in this community's currency"),
    *PAGE,
)  # fmt: skip
DEFAULT_PAGE = 20
MAX_PAGE = 100
MAX_OFFSET = 10_000
MAX_QUERY_CHARS = 200
_HANDLE = re.compile(r"(?:acct:|@)?([^@\s/]+)@([^@\s/]+)")


def _refuse(message: str) -> BadRequest:
    return BadRequest(message, code="invalid_query")


def _integer(params: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    if not text.isascii() or not text.isdigit() or not low <= int(text[:12]) <= high:
        raise _refuse(f"{name} is a whole number from {low} to {high}")
    return int(text)


PAGE_PARAMS = frozenset({"limit", "offset"})
SEARCH_PARAMS = PAGE_PARAMS | {
    "q", "purpose", "kind", "category", "community", "min_price", "max_price"
}  # fmt: skip


def check_params(params: dict[str, str], known: frozenset[str]) -> None:
    """Refuse NUL characters and parameters the operation does not take."""
    check_text(params)
    unknown = sorted(set(params) - known)
    if unknown:
        raise _refuse(f"unknown parameter: {', '.join(unknown)[:200]}")


def parse_page(params: dict[str, str]) -> tuple[int, int]:
    """(limit, offset) from the query string."""
    return (
        _integer(params, "limit", DEFAULT_PAGE, 1, MAX_PAGE),
        _integer(params, "offset", 0, 0, MAX_OFFSET),
    )


def check_text(params: dict[str, str]) -> None:
    """Refuse NUL characters in the query string (PostgreSQL cannot compare them)."""
    for value in params.values():
        if "\x00" in value:
            raise BadRequest("text may not contain NUL characters", code="invalid_text")


def _choice(params: dict[str, str], name: str, kind: type[Kind] | type[Purpose]) -> str | None:
    value = params.get(name) or None
    if value is not None and value not in {member.value for member in kind}:
        raise _refuse(f"{name} is one of {', '.join(member.value for member in kind)}")
    return value


def _price(params: dict[str, str], name: str, currency: Currency) -> int | None:
    text = params.get(name) or None
    if text is None:
        return None
    try:
        return parse_amount(text, currency)
    except InvalidAmount:
        raise _refuse(f"{name} is a decimal amount in {currency.code}") from None


#: Filters whose empty value is not "any" but a mistake (the OpenAPI schema says so).
_NOT_EMPTY = ("purpose", "kind", "category", "community", "min_price", "max_price")


def parse_search(
    params: dict[str, str], currency: Currency, community_uri: str | None
) -> SearchQuery:
    """A `SearchQuery` from the query string; raises `BadRequest` (``invalid_query``)."""
    limit, offset = parse_page(params)
    for name in _NOT_EMPTY:
        if params.get(name) == "":
            raise _refuse(f"{name} is empty: leave it out to not filter by it")
    text = params.get("q", "")
    if len(text) > MAX_QUERY_CHARS:
        raise _refuse(f"q is at most {MAX_QUERY_CHARS} characters")
    category = (params.get("category") or "").strip().lower() or None
    return SearchQuery(
        text=text,
        purpose=Purpose(p) if (p := _choice(params, "purpose", Purpose)) else None,
        kind=Kind(k) if (k := _choice(params, "kind", Kind)) else None,
        category=category[:64] if category else None,
        community_uri=community_uri,
        min_price_minor=_price(params, "min_price", currency),
        max_price_minor=_price(params, "max_price", currency),
        limit=limit,
        offset=offset,
    )


def resolve_community(conn: Connection, name: str) -> str | None:
    """A community's actor URI from its URI or handle; None if this instance knows none."""
    a = tables.actors
    if name.startswith(("https://", "http://")):
        where = a.c.uri == name[:2048]
    elif match := _HANDLE.fullmatch(name.strip()[:300]):
        where = (a.c.username == match.group(1).lower()) & (a.c.domain == match.group(2).lower())
    else:
        raise _refuse("community is a community's actor URI or its handle, name@domain")
    uri: str | None = conn.execute(select(a.c.uri).where(where, a.c.type == "Group")).scalar()
    return uri
