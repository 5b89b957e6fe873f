"""A listing as a link card: the Mastodon ``PreviewCard`` clients draw under its status.

The card is made from the listing's own fields, never fetched from the web: the title
("Offer: Cargo bike"), a line of terms (kind, price, place) and the description, the
author, and the community as the provider, with the first photo as its image. Its
columns come with the page's posts (`with_listings`, `COLUMNS`), so cards cost no
query of their own; a post that is not a listing has no card.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import FromClause, RowMapping, Table

from fediverse_share import tables
from fediverse_share.listings.model import Purpose

MAX_DESCRIPTION_CHARS = 300
_community = tables.actors.alias("card_community")
_listings = tables.listings
#: The listing's and its community's columns, read beside each post.
COLUMNS = (
    _listings.c.purpose.label("card_purpose"),
    _listings.c.kind.label("card_kind"),
    _listings.c.title.label("card_title"),
    _listings.c.description.label("card_description"),
    _listings.c.price_text.label("card_price"),
    _listings.c.currency_code.label("card_currency"),
    _listings.c.location.label("card_location"),
    _community.c.name.label("card_community_name"),
    _community.c.url.label("card_community_url"),
)


@dataclass(frozen=True, slots=True)
class Image:
    url: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Card:
    url: str
    title: str
    description: str
    author_name: str
    author_url: str
    provider_name: str
    provider_url: str
    image: Image | None


def with_listings(posts: Table) -> FromClause:
    """``posts`` joined to their listings (if any) and those listings' communities."""
    return posts.outerjoin(_listings, _listings.c.id == posts.c.id).outerjoin(
        _community, _community.c.uri == _listings.c.community_uri
    )


def _description(row: RowMapping) -> str:
    terms = [row["card_kind"]]
    if row["card_price"]:
        terms.append(f"{row['card_price']} {row['card_currency'] or ''}".strip())
    if row["card_location"]:
        terms.append(row["card_location"])
    text = " ".join(str(row["card_description"]).split())
    if len(text) > MAX_DESCRIPTION_CHARS:
        text = text[: MAX_DESCRIPTION_CHARS - 1].rstrip() + "…"
    return " · ".join([*terms, text] if text else terms)


def _provider(row: RowMapping) -> tuple[str, str]:
    """The community's name and page; the listing's origin when the community is unknown."""
    if row["card_community_name"] or row["card_community_url"]:
        url = row["card_community_url"] or ""
        return str(row["card_community_name"] or urlsplit(url).netloc), url
    parts = urlsplit(row["uri"])
    return parts.netloc, f"{parts.scheme}://{parts.netloc}"


def card_of(row: RowMapping, author_name: str, author_url: str, image: Image | None) -> Card | None:
    """The card of a post row read with `COLUMNS`; None when the post is no listing."""
    if row["card_purpose"] is None:
        return None
    provider_name, provider_url = _provider(row)
    return Card(
        url=row["url"] or row["uri"],
        title=f"{Purpose(row['card_purpose']).label}: {row['card_title']}",
        description=_description(row),
        author_name=author_name,
        author_url=author_url,
        provider_name=provider_name,
        provider_url=provider_url,
        image=image,
    )
