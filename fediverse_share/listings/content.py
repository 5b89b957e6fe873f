"""A listing's ``content``, both ways: the HTML a Mastodon user reads, and the
description read back from a received Proposal's.

We write one paragraph per part (`render_content`)::

    <p><strong>Offer: TITLE</strong></p>        the purpose's label and the title
    <p>…</p><p>…</p>                             the description, a paragraph each
    <p>12.50 KRZ · sell · Kreuzberg</p>          the terms: price, kind, place
    <p><a href="PAGE">…</a></p>                  the listing's page
    <p><a class="mention hashtag">#…</a> …</p>   the hashtags

A received listing's description is what its card and search show, so
`parse_description` keeps only the description: from content of that shape, the
paragraphs between the title and the terms; from other servers, the text without its
title line and its hashtags (a hashtag within a sentence keeps its word).
"""

from __future__ import annotations

import re
from html import escape

from activitypub.html import html_to_text
from fediverse_share.listings.model import Draft, Kind, Purpose

_HASHTAG = {Purpose.OFFER: "offer", Purpose.REQUEST: "need"}
_TERMS_SEPARATOR = " · "
_PARAGRAPH = re.compile(r"<p(?:\s[^>]*)?>(.*?)</p>", re.DOTALL)
_ONE_LINK = re.compile(r"\s*<a\s[^>]*>(?:(?!<a\s).)*</a>\s*", re.DOTALL)
#: A hashtag as Mastodon reads one: letters, digits and underscores, not digits only.
_TAG = r"#\w*[^\W\d_]\w*"
_TAGS_ONLY = re.compile(rf"{_TAG}(?:\s+{_TAG})*")
_LEADING_TAGS = re.compile(rf"^(?:{_TAG}\s+)+")
_TRAILING_TAGS = re.compile(rf"(?:\s+{_TAG})+$")
_INLINE_TAG = re.compile(r"(?<![\w#])#(?=\w*[^\W\d_])")


def render_content(draft: Draft, price_text: str | None, tag_url: str, page_url: str) -> str:
    """The HTML a Mastodon user reads: title, description, price (``12.50 KRZ``), a link
    to the listing's page (the whole listing, in a browser), hashtags."""
    lines = [f"<p><strong>{draft.purpose.label}: {escape(draft.title)}</strong></p>"]
    if draft.description:
        lines.extend(f"<p>{escape(p)}</p>" for p in draft.description.split("\n\n") if p)
    terms = [draft.kind.value]
    if price_text is not None:
        terms.insert(0, escape(price_text))
    if draft.location:
        terms.append(escape(draft.location))
    lines.append(f"<p>{_TERMS_SEPARATOR.join(terms)}</p>")
    lines.append(f"<p>{_page_link(page_url)}</p>")
    tags = " ".join(_hashtag_link(name, tag_url) for name in tag_names(draft))
    lines.append(f"<p>{tags}</p>")
    return "".join(lines)


def _page_link(url: str) -> str:
    """A link as Mastodon writes one: the scheme hidden, the rest shown."""
    scheme, _, rest = url.partition("://")
    return (
        f'<a href="{escape(url)}" rel="nofollow noopener noreferrer" target="_blank">'
        f'<span class="invisible">{escape(scheme)}://</span><span>{escape(rest)}</span></a>'
    )


def tag_names(draft: Draft) -> list[str]:
    """The hashtags of a listing: its purpose (``offer``, ``need``) and its category."""
    return list(dict.fromkeys([_HASHTAG[draft.purpose], draft.category]))


def _hashtag_link(name: str, tag_url: str) -> str:
    return f'<a href="{tag_url}/{name}" class="mention hashtag" rel="tag">#<span>{name}</span></a>'


def parse_description(content: str, title: str, purpose: Purpose, kind: Kind) -> str:
    """The description in a received listing's sanitised ``content`` HTML, as text."""
    paragraphs = _PARAGRAPH.findall(content)
    if _is_ours(content, paragraphs, title, purpose, kind):
        texts = (html_to_text(paragraph) for paragraph in paragraphs[1:-3])
        return "\n\n".join(text for text in texts if text)
    return _without_title_and_hashtags(html_to_text(content), title)


def _is_ours(content: str, paragraphs: list[str], title: str, purpose: Purpose, kind: Kind) -> bool:
    """Whether ``content`` has the shape `render_content` gives it, part by part."""
    if len(paragraphs) < 4 or _PARAGRAPH.sub("", content).strip():
        return False
    heading, *_, terms, link, tags = paragraphs
    return (
        heading.startswith("<strong>")
        and heading.endswith("</strong>")
        and _spaced(html_to_text(heading)) == _spaced(f"{purpose.label}: {title}")
        and kind.value in html_to_text(terms).split(_TERMS_SEPARATOR)
        and _ONE_LINK.fullmatch(link) is not None
        and _TAGS_ONLY.fullmatch(html_to_text(tags)) is not None
    )


def _without_title_and_hashtags(text: str, title: str) -> str:
    """Another server's text: the first line goes when it only repeats the title (perhaps
    after a label, "Offering: …"); runs of hashtags at either end of a line go, and a
    hashtag within a sentence keeps its word."""
    lines = text.split("\n")
    repeated = rf"(?:[^:]{{1,20}}:\s*)?{re.escape(_spaced(title))}[\s.!:]*"
    if re.fullmatch(repeated, lines[0], re.IGNORECASE):
        lines = lines[1:]
    kept = []
    for line in lines:
        if not _TAGS_ONLY.fullmatch(line):
            line = _TRAILING_TAGS.sub("", _LEADING_TAGS.sub("", line))
            kept.append(_INLINE_TAG.sub("", line))
    return "\n".join(line for line in kept if line)


def _spaced(text: str) -> str:
    """``text`` with each run of white space as one space, as `html_to_text` leaves it."""
    return " ".join(text.split())
