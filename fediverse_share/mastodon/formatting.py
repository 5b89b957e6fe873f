"""A status's plain text as safe HTML, the way Mastodon formats it.

Blank lines separate paragraphs (``<p>``), single newlines become ``<br />``;
URLs, ``@mentions`` and ``#hashtags`` become links; everything else is escaped,
so nothing a member types is ever markup. Mentions are linked only when they
were resolved to an actor (`parse_mentions` finds them, the caller resolves
them, `render_text` links them); an unknown handle stays text, as in Mastodon.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import quote

_URL = r"https?://[^\s<>\"'`]+[^\s<>\"'`.,;:!?)\]}]"
_MENTION = (
    r"(?<![\w/@])@(?P<user>[a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)"
    r"(?:@(?P<domain>[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::\d+)?))?"
)
_HASHTAG = r"(?<![\w/&#])#(?P<name>\w*[^\W\d_]\w*)"
TOKENS = re.compile(f"(?P<url>{_URL})|(?P<mention>{_MENTION})|(?P<tag>{_HASHTAG})", re.IGNORECASE)
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_LINK_REL = 'rel="nofollow noopener noreferrer" target="_blank" translate="no"'


@dataclass(frozen=True, slots=True)
class MentionTarget:
    """A resolved mention: where it links and how it is written."""

    uri: str
    url: str
    username: str


def handle_key(username: str, domain: str | None) -> str:
    return f"{username.lower()}@{domain.lower()}" if domain else username.lower()


def parse_mentions(text: str) -> list[tuple[str, str | None]]:
    """``(username, domain or None)`` of every mention in the text, in order, once each."""
    found: dict[str, tuple[str, str | None]] = {}
    for match in TOKENS.finditer(text):
        if match.group("mention"):
            username, domain = match.group("user"), match.group("domain")
            found.setdefault(handle_key(username, domain), (username.lower(), domain))
    return list(found.values())


def parse_hashtags(text: str) -> list[str]:
    names = [m.group("name").lower() for m in TOKENS.finditer(text) if m.group("tag")]
    return [n for n in dict.fromkeys(names) if len(n) <= 100]


def _url_html(url: str) -> str:
    scheme, _, rest = url.partition("://")
    shown = html.escape(rest)
    return (
        f'<a href="{html.escape(url)}" {_LINK_REL}>'
        f'<span class="invisible">{html.escape(scheme)}://</span>'
        f'<span class="">{shown}</span><span class="invisible"></span></a>'
    )


def render_mention(target: MentionTarget) -> str:
    """A mention's link, marked up as Mastodon does (``h-card``, ``u-url mention``)."""
    return (
        f'<span class="h-card" translate="no"><a href="{html.escape(target.url)}" '
        f'class="u-url mention">@<span>{html.escape(target.username)}</span></a></span>'
    )


def _tag_html(name: str, base_url: str) -> str:
    return (
        f'<a href="{base_url}/tags/{quote(name.lower())}" class="mention hashtag" rel="tag">'
        f"#<span>{html.escape(name)}</span></a>"
    )


def _line_html(line: str, mentions: dict[str, MentionTarget], base_url: str) -> str:
    out: list[str] = []
    position = 0
    for match in TOKENS.finditer(line):
        out.append(html.escape(line[position : match.start()]))
        position = match.end()
        if match.group("url"):
            out.append(_url_html(match.group("url")))
        elif match.group("mention"):
            target = mentions.get(handle_key(match.group("user"), match.group("domain")))
            out.append(render_mention(target) if target else html.escape(match.group(0)))
        else:
            out.append(_tag_html(match.group("name"), base_url))
    out.append(html.escape(line[position:]))
    return "".join(out)


def render_text(text: str, mentions: dict[str, MentionTarget], base_url: str) -> str:
    """The HTML of a status typed as ``text``; ``mentions`` by `handle_key`."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    paragraphs = [p.strip("\n") for p in _PARAGRAPH_BREAK.split(normalised) if p.strip()]
    return "".join(
        "<p>"
        + "<br />".join(_line_html(line, mentions, base_url) for line in paragraph.split("\n"))
        + "</p>"
        for paragraph in paragraphs
    )
