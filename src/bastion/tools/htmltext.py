"""HTML to plain text for ``fetch_url``, in one forward pass over the page.

The page is chosen by whoever runs the site, so this must stay linear on any input. The
standard library's ``html.parser`` is not: it is built for incremental feeding and re-scans an
unfinished construct from its start at every step, so 200 KB of ``<a b='`` took 94 s (2 MB,
the fetch limit, would take hours). Here every construct is scanned once, and one that never
ends (an unclosed comment, quote or tag) ends the document, as browsers treat an end of file
inside a tag: nothing is ever scanned twice.

What the text keeps: headings (``#``), list items (``-``), links as `` <absolute URL>`` after
their text, the title, block breaks; scripts, styles and other non-text elements are dropped.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin

SKIP = frozenset({"script", "style", "noscript", "template", "svg", "head", "iframe", "object"})
BLOCK = frozenset({
    "p", "div", "section", "article", "main", "header", "footer", "nav", "aside", "br", "hr",
    "tr", "table", "ul", "ol", "dl", "dt", "dd", "pre", "blockquote", "form", "figure",
    "figcaption", "h1", "h2", "h3", "h4", "h5", "h6", "li", "title"})
#: elements whose content is raw text up to their end tag (markup inside is not markup)
RAW_TEXT = frozenset({"script", "style", "textarea", "title", "xmp", "iframe", "noembed",
                      "noframes", "noscript"})

# each pattern is anchored where it is used (match at a position) and consumes what it scans
_NAME = re.compile(r"[A-Za-z][^\t\n\f\r />]*")
_SPACE = re.compile(r"[\t\n\f\r /]*")
_ATTR_NAME = re.compile(r"[^\t\n\f\r />][^\t\n\f\r /=>]*")
_EQUALS = re.compile(r"[\t\n\f\r ]*=[\t\n\f\r ]*")
_UNQUOTED = re.compile(r"[^\t\n\f\r >]*")
_LT_RUN = re.compile(r"<+")
_WS = re.compile(r"[ \t\r\f\v]+")
_BLANKS = re.compile(r"\n{3,}")


class _Text:
    """Accumulates the text; the ``start``/``end``/``data`` events of the scan."""

    def __init__(self, base_url: str) -> None:
        self._base = base_url
        self._out: list[str] = []
        self._skip_depth = 0
        self._href: str | None = None
        self._title: list[str] = []
        self._in_title = False

    def start(self, tag: str, attrs: dict[str, str], closed: bool) -> None:
        if closed:  # <br/>, <hr/>
            if tag in BLOCK:
                self._out.append("\n")
            return
        if tag == "title":
            self._in_title = True
        if tag in SKIP:
            self._skip_depth += 1
            return
        if tag in BLOCK:
            self._out.append("\n")
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._out.append("#" * int(tag[1]) + " ")
        elif tag == "li":
            self._out.append("- ")
        elif tag == "a":
            href = attrs.get("href")
            if href and not href.startswith(("#", "javascript:", "mailto:")):
                self._href = urljoin(self._base, href)

    def end(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if tag == "a" and self._href:
            self._out.append(f" <{self._href}>")
            self._href = None
        if tag in BLOCK:
            self._out.append("\n")

    def data(self, text: str) -> None:
        if not text:
            return
        text = html.unescape(text)
        if self._in_title:
            self._title.append(text)
        if not self._skip_depth:
            self._out.append(text)

    def text(self) -> str:
        lines = [_WS.sub(" ", line).strip() for line in "".join(self._out).split("\n")]
        body = _BLANKS.sub("\n\n", "\n".join(lines)).strip()
        title = " ".join("".join(self._title).split())
        return f"Title: {title}\n\n{body}" if title else body


def html_to_text(page: str, base_url: str = "") -> str:
    """The readable text of ``page`` (see the module docstring); linear in its length."""
    out = _Text(base_url)
    lowered = page.lower()  # one copy, for case-insensitive end tags of raw-text elements
    pos, n = 0, len(page)
    while pos < n:
        lt = page.find("<", pos)
        if lt < 0:
            out.data(page[pos:])
            break
        out.data(page[pos:lt])
        pos = _markup(page, lowered, lt, out)
    return out.text()


def _markup(page: str, lowered: str, lt: int, out: _Text) -> int:
    """Handle the markup at ``page[lt] == "<"``; returns where scanning goes on."""
    n = len(page)
    if page.startswith("<!--", lt):
        end = page.find("-->", lt + 4)
        return n if end < 0 else end + 3
    if page.startswith(("<!", "<?"), lt) or (page.startswith("</", lt) and not (
            _NAME.match(page, lt + 2))):
        end = page.find(">", lt + 2)  # declarations, processing instructions, bogus comments
        return n if end < 0 else end + 1
    closing = page.startswith("</", lt)
    name_match = _NAME.match(page, lt + (2 if closing else 1))
    if name_match is None:  # "<" that starts nothing: text, up to the next "<"
        nxt = page.find("<", lt + 1)
        if nxt == lt + 1:  # a run of "<": all but the last are text
            nxt = _LT_RUN.match(page, lt).end() - 1  # type: ignore[union-attr]
        end = n if nxt < 0 else nxt
        out.data(page[lt:end])
        return end
    tag = name_match.group().lower()
    attrs, pos, self_closing = _attributes(page, name_match.end())
    if pos < 0:  # the document ended inside the tag: it is dropped, and so is the rest
        return n
    if closing:
        out.end(tag)
        return pos
    out.start(tag, attrs, self_closing and tag in ("br", "hr"))
    if tag in RAW_TEXT:
        end = lowered.find("</" + tag, pos)
        raw_end = n if end < 0 else end
        out.data(page[pos:raw_end] if tag in ("title", "textarea") else "")
        if end < 0:
            return n
        close = page.find(">", end)
        out.end(tag)
        return n if close < 0 else close + 1
    return pos


def _attributes(page: str, pos: int) -> tuple[dict[str, str], int, bool]:
    """Attributes from ``pos`` to the tag's ``>``: ``(attrs, position after it, "/>")``;
    position -1 when the document ends first."""
    attrs: dict[str, str] = {}
    n = len(page)
    while True:
        pos = _SPACE.match(page, pos).end()  # type: ignore[union-attr]
        if pos >= n:
            return attrs, -1, False
        if page[pos] == ">":
            return attrs, pos + 1, page[pos - 1] == "/"
        name = _ATTR_NAME.match(page, pos)
        if name is None:  # cannot happen: _SPACE stopped at a name character
            return attrs, -1, False
        key, pos = name.group().lower(), name.end()
        equals = _EQUALS.match(page, pos)
        if equals is None:
            attrs.setdefault(key, "")
            continue
        pos = equals.end()
        if pos < n and page[pos] in "\"'":
            close = page.find(page[pos], pos + 1)
            if close < 0:
                return attrs, -1, False
            value, pos = page[pos + 1:close], close + 1
        else:
            unquoted = _UNQUOTED.match(page, pos)
            value, pos = unquoted.group(), unquoted.end()  # type: ignore[union-attr]
        attrs.setdefault(key, html.unescape(value))
