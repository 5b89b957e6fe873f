"""Remote HTML sanitising and text extraction."""

from __future__ import annotations

from activitypub.html import html_to_text, sanitise_html


def test_scripts_styles_and_event_handlers_are_removed():
    """script and style go with their contents; on* and style attributes go too."""
    dirty = (
        '<p onclick="steal()" style="color:red">hi<script>alert(1)</script>'
        "<style>p{display:none}</style>"
        '<img src="x" onerror="alert(1)"><iframe src="https://evil.example"></iframe></p>'
    )
    clean = sanitise_html(dirty)
    assert clean == "<p>hi</p>"


def test_javascript_and_relative_links_lose_their_href():
    """Only http, https and mailto links keep an href; the text stays."""
    clean = sanitise_html(
        '<a href="javascript:alert(1)">a</a><a href=" JavaScript:alert(1)">b</a>'
        '<a href="/local">c</a><a href="data:text/html,x">d</a><a href="mailto:x@y.z">e</a>'
    )
    assert "javascript" not in clean.lower()
    assert "data:" not in clean and 'href="/local"' not in clean
    assert '<a href="mailto:x@y.z" rel="nofollow noopener noreferrer">e</a>' in clean
    assert all(text in clean for text in (">a<", ">b<", ">c<", ">d<"))


def test_links_get_our_rel_whatever_they_said():
    """rel is forced to nofollow noopener noreferrer, replacing rel=me and friends."""
    clean = sanitise_html('<a href="https://a.example/" rel="me" target="_top">x</a>')
    assert clean == '<a href="https://a.example/" rel="nofollow noopener noreferrer">x</a>'


def test_mastodon_markup_is_kept():
    """A Mastodon post's mention, hashtag and paragraph markup survives unchanged in meaning."""
    post = (
        '<p><span class="h-card"><a href="https://mamot.fr/@retiolus" class="u-url mention">'
        "@<span>retiolus</span></a></span> hi <strong>bold</strong> <em>it</em></p>"
        "<blockquote><p>quoted</p></blockquote><ul><li>one</li></ul>"
        '<ol start="3" reversed><li value="3">x</li></ol><pre><code>x = 1</code></pre>'
    )
    clean = sanitise_html(post)
    assert '<span class="h-card">' in clean
    assert 'class="u-url mention"' in clean
    for tag in ("<strong>bold</strong>", "<em>it</em>", "<blockquote>", "<li>one</li>"):
        assert tag in clean
    assert '<ol start="3" reversed="">' in clean or '<ol start="3" reversed>' in clean
    assert "<pre><code>x = 1</code></pre>" in clean


def test_unknown_classes_are_dropped_and_headings_become_strong_paragraphs():
    """Only microformat and Mastodon's semantic classes stay; h1-h6 read as <p><strong>."""
    clean = sanitise_html(
        '<h2 id="x">Title</h2><p class="evil h-entry">t</p><span class="x">s</span>'
    )
    assert clean == '<p><strong>Title</strong></p><p class="h-entry">t</p><span>s</span>'


def test_html_to_text_keeps_words_and_line_breaks():
    """Text for search: tags gone, entities decoded, one line per block, no script text."""
    text = html_to_text(
        "<p>Lending a <b>drill</b> &amp; bits</p><p>Ask&nbsp;me<br>anytime</p>"
        "<script>var secret = 1</script><ul><li>one</li><li>two</li></ul>"
    )
    assert text == "Lending a drill & bits\nAsk me\nanytime\none\ntwo"
