"""Offers and needs posted from a Mastodon app: a status's text read as a listing.

Clients can only send a plain status, so its hashtags carry the structure
(`parse_listing`):

* ``#offer`` or ``#need`` (the first one written) makes the status a listing of that
  purpose; a status without either stays a plain post;
* a hashtag naming a kind (``#give``, ``#lend``, ``#rent``, ``#sell``, ``#swap``,
  ``#service``) sets the kind; without one it is ``give``, which asks no price (a price
  is set later through the exchange API);
* the first other hashtag that can be a category (``a-z``, digits, ``_``, at most 64)
  is the category; without one it is ``general``;
* a mention of the community (``@community`` or ``@community@domain``) only says where
  the listing goes, which every listing does, and is left out of the text.

These markers are taken out where they stand among the hashtags at the start or the
end of a line (other hashtags stay), and lose their ``#`` inside a sentence ("a #bikes
pump" reads "a bikes pump"). The title is
the first line left, cut at a word before `TITLE_CHARS` (ending in "…") when longer;
the description is the rest of the text, or all of it when the title had to be cut.
"""

from __future__ import annotations

import re

from fediverse_share.listings.model import CATEGORY_RE, MAX_DESCRIPTION_CHARS, Draft, Kind, Purpose
from fediverse_share.mastodon import formatting
from fediverse_share.mastodon.errors import ValidationFailed

TITLE_CHARS = 80
PURPOSES = {"offer": Purpose.OFFER, "need": Purpose.REQUEST}
KINDS = {kind.value: kind for kind in Kind}
_TAG = re.compile(r"#(\w+)([.,;:!?]*)")
_MENTION = re.compile(r"@([\w.-]+)(?:@([\w.:-]+))?([.,;:!?]*)")


def _markers(tags: list[str]) -> tuple[Kind, str, set[str]]:
    """The kind, the category and every hashtag that said them."""
    kind = next((t for t in tags if t in KINDS), None)
    category = next(
        (t for t in tags if t not in PURPOSES and t not in KINDS and CATEGORY_RE.fullmatch(t)),
        None,
    )
    said = {t for t in tags if t in PURPOSES} | {t for t in (kind, category) if t}
    return KINDS[kind] if kind else Kind.GIVE, category or "general", said


def _is_marker(word: str, tags: set[str], community: tuple[str, str]) -> bool:
    tag = _TAG.fullmatch(word)
    if tag is not None:
        return tag.group(1).lower() in tags
    mention = _MENTION.fullmatch(word)
    if mention is None or mention.group(1).lower() != community[0]:
        return False
    return mention.group(2) is None or mention.group(2).lower() == community[1]


def _edge(word: str, tags: set[str], community: tuple[str, str]) -> bool:
    """Part of a run of hashtags (or the community's mention) at a line's start or end."""
    return word.startswith("#") or _is_marker(word, tags, community)


def _without_markers(line: str, tags: set[str], community: tuple[str, str]) -> str:
    words = line.split()
    start = next((i for i, w in enumerate(words) if not _edge(w, tags, community)), len(words))
    end = len(words)
    while end > start and _edge(words[end - 1], tags, community):
        end -= 1
    kept = []
    for index, word in enumerate(words):
        if not _is_marker(word, tags, community):
            kept.append(word)
        elif start <= index < end and word.startswith("#"):
            kept.append(word[1:])  # inside a sentence, a tag is a word
    return " ".join(kept)


def _title_and_description(lines: list[str]) -> tuple[str, str]:
    text = "\n".join(lines).strip()
    first, _, rest = text.partition("\n")
    first = first.rstrip(" ,;:-")
    if len(first) <= TITLE_CHARS:
        return first, rest.strip()
    cut = first[: TITLE_CHARS - 1].rsplit(" ", 1)[0].rstrip(" ,;:-")
    return f"{cut}…", text


def parse_listing(text: str, community: str, domain: str) -> Draft | None:
    """The listing a status's text describes, or None if it has no ``#offer``/``#need``.

    Raises `ValidationFailed` when nothing is left for a title.
    """
    tags = formatting.parse_hashtags(text)
    purpose = next((PURPOSES[t] for t in tags if t in PURPOSES), None)
    if purpose is None:
        return None
    kind, category, said = _markers(tags)
    where = (community.lower(), domain.lower())
    lines = [_without_markers(line, said, where) for line in text.splitlines()]
    title, description = _title_and_description(lines)
    if not title:
        raise ValidationFailed(f"Say what the {purpose.label.lower()} is, beside the hashtag")
    return Draft(
        purpose=purpose,
        kind=kind,
        title=title,
        description=description[:MAX_DESCRIPTION_CHARS],
        category=category,
        price_minor=None,
    )
