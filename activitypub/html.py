"""Remote HTML made safe to store and show, and reduced to text for search.

The allowed markup mirrors Mastodon's ``Sanitize::Config::MASTODON_STRICT``
(lib/sanitize_ext/sanitize_config.rb), so a post looks the same here as there:

- elements ``p br span a del s pre blockquote code b strong u i em ul ol li ruby rt rp``;
- ``a[href class]``, ``span[class]``, ``p[class]``, ``ol[start reversed]``, ``li[value]``
  and ``lang`` anywhere;
- classes only from microformats (``h-`` ``p-`` ``u-`` ``dt-`` ``e-``), ``mention``,
  ``hashtag``, ``ellipsis``, ``invisible`` and ``quote-inline``;
- headings ``h1``–``h6`` become ``<p><strong>…</strong></p>`` as Mastodon does.

Unlike Mastodon we allow only ``http``, ``https`` and ``mailto`` links (relative and
other schemes lose their ``href``), and every link gets
``rel="nofollow noopener noreferrer"`` whatever the remote HTML said. Scripts,
styles and their contents, comments and every other attribute (``on*``, ``style``)
are dropped by nh3 (ammonia).
"""

from __future__ import annotations

import html
import re

import nh3

ALLOWED_TAGS = frozenset(
    {
        *("p", "br", "span", "a", "del", "s", "pre", "blockquote", "code"),
        *("b", "strong", "u", "i", "em", "ul", "ol", "li", "ruby", "rt", "rp"),
        *("h1", "h2", "h3", "h4", "h5", "h6"),
    }
)
ALLOWED_ATTRIBUTES = {
    "*": {"lang"},
    "a": {"href", "class"},
    "span": {"class"},
    "p": {"class"},
    "ol": {"start", "reversed"},
    "li": {"value"},
}
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow noopener noreferrer"

_CLASS_RE = re.compile(
    r"(?:h|p|u|dt|e)-[\w-]+|mention|hashtag|ellipsis|invisible|quote-inline", re.ASCII
)
_HEADING_OPEN_RE = re.compile(r"<h[1-6]>")
_HEADING_CLOSE_RE = re.compile(r"</h[1-6]>")
_BLOCK_END_RE = re.compile(
    r"<br\s*/?>|</(?:p|li|blockquote|pre|h[1-6]|ul|ol|div|tr)\s*>", re.IGNORECASE
)
_SPACES_RE = re.compile(r"[ \t\r\f\v\u00a0]+")


def _allowed_href(value: str) -> bool:
    scheme, colon, _ = value.strip().partition(":")
    return bool(colon) and scheme.lower() in LINK_SCHEMES


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "href":
        return value if _allowed_href(value) else None
    if attribute == "class":
        kept = [name for name in value.split() if _CLASS_RE.fullmatch(name)]
        return " ".join(kept) or None
    return value


def sanitise_html(remote_html: str) -> str:
    """``remote_html`` reduced to the markup we allow, safe to store and render."""
    cleaned = nh3.clean(
        remote_html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=_filter_attribute,
        url_schemes=set(LINK_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )
    # nh3 serialises allowed headings without attributes, so these patterns are exact.
    cleaned = _HEADING_OPEN_RE.sub("<p><strong>", cleaned)
    return _HEADING_CLOSE_RE.sub("</strong></p>", cleaned)


def html_to_text(remote_html: str) -> str:
    """Plain text of ``remote_html`` for search indexing: one line per block."""
    with_breaks = _BLOCK_END_RE.sub(lambda match: match.group(0) + "\n", remote_html)
    stripped = html.unescape(nh3.clean(with_breaks, tags=set(), strip_comments=True))
    lines = (_SPACES_RE.sub(" ", line).strip() for line in stripped.splitlines())
    return "\n".join(line for line in lines if line)
