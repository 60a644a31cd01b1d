"""The report model: its Markdown, read back by a maintained parser (markdown-it-py with GFM
tables), says what its HTML says; every text is escaped in the HTML; bad tables are refused."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from cxr_paper.reporting.document import Document, Table, inline_html, make_table

HOSTILE = ["<script>alert(1)</script>", "a | b", "`x|y`", "**bold** <b>", "&amp; & <!--", "1 < 2"]
# no backslash (it would escape the cell separator in GFM) and no line break (a cell is one line)
CELL_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\\\r\n\x0b\x0c"),
    max_size=12,
)


def read_back(markdown: str) -> str:
    """The Markdown as HTML, by markdown-it-py (CommonMark + GFM tables, raw HTML off)."""
    return MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)


def cells(html: str) -> list[str]:
    return re.findall(r"<t[hd](?: [^>]*)?>(.*?)</t[hd]>", html, flags=re.S)


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes[tag] = dict(attrs)


def test_every_block_kind_renders_in_both_forms():
    doc = (
        Document()
        .heading("Title", 1)
        .paragraph("Some **bold** and `code`.")
        .bullets(["one", "", "two"])  # empty items are left out
        .table(["a", "b"], [["1", "2"]])
        .figure("Figure 5", "fig5.png")
    )
    assert doc.to_markdown() == (
        "# Title\n\nSome **bold** and `code`.\n\n- one\n- two\n\n| a | b |\n|---|---|\n"
        "| 1 | 2 |\n\n![Figure 5](fig5.png)\n"
    )
    html = str(doc.to_html())
    for fragment in (
        "<h1>Title</h1>",
        "<p>Some <strong>bold</strong> and <code>code</code>.</p>",
        "<ul><li>one</li><li>two</li></ul>",
        "<th>a</th><th>b</th>",
        "<td>1</td><td>2</td>",
        '<img src="fig5.png" alt="Figure 5">',
    ):
        assert fragment in html


def test_hostile_text_is_text_in_the_html():
    doc = Document().heading(HOSTILE[0]).paragraph(HOSTILE[3]).bullets(HOSTILE)
    doc.table(HOSTILE, [HOSTILE]).figure('"><script>', 'x" onerror="alert(1)')
    parser = Tags()
    parser.feed(str(doc.to_html()))
    assert parser.tags <= {
        "h2",
        "p",
        "ul",
        "li",
        "div",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "code",
        "strong",
        "figure",
        "img",
    }
    assert parser.attributes["img"] == {"src": 'x" onerror="alert(1)', "alt": '"><script>'}


@pytest.mark.parametrize("text", HOSTILE)
def test_a_hostile_cell_reads_back_as_the_html_shows_it(text):
    table = Table(("c",), ((text,),))
    markdown_cell = cells(read_back(table.to_markdown()))[1]
    assert markdown_cell == str(inline_html(text))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(CELL_TEXT, min_size=3, max_size=3), min_size=1, max_size=4))
def test_markdown_and_html_agree_on_every_cell(rows):
    table = make_table(["a", "b", "c"], rows)
    from_markdown = cells(read_back(table.to_markdown()))
    from_html = cells(str(Document().add(table).to_html()))
    assert [c.strip() for c in from_markdown] == [c.strip() for c in from_html]


def test_a_row_of_the_wrong_length_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"rows \[1\].*header's 2"):
        make_table(["a", "b"], [["1", "2"], ["3"]])


@pytest.mark.parametrize(
    "name", ["![t](https:evil.example).png", "[click me](https:evil.example).png", "<b>x</b>.png"]
)
def test_a_skipped_image_name_is_text_in_the_report(name):
    """A skipped image's name became a live <img>/<a> in report.html and report.md."""
    from markdown_it import MarkdownIt

    from cxr_paper.reporting.data_notes import DataNotes

    notes = DataNotes(10, 11, 2, 2, {"test": [name]}, [])
    doc = Document().bullets(notes.lines())
    page = str(doc.to_html())
    full_markdown = MarkdownIt("commonmark").render(doc.to_markdown())
    for rendered in (page, full_markdown):
        assert "<img" not in rendered and "<a " not in rendered and "<b>" not in rendered
        assert html.escape(name, quote=False) in rendered


def test_links_typed_into_a_report_text_are_not_made_live():
    text = "see [x](https:evil.example) ![i](https:evil.example)"
    page = str(Document().paragraph(text).to_html())
    assert "<a" not in page and "<img" not in page
