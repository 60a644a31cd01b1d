"""Text from files reaches Markdown as text: each package's ``literal`` (a package imports no
sibling, so cam-boxes-iobb and the examples each have one) renders any string as exactly that
string, in one code span, with no link, image or HTML, in a CommonMark renderer with links on."""

import html
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from cam_boxes_iobb._markdown import literal as package_literal
from cxr_paper.reporting.document import literal as examples_literal

HOSTILE = [
    "![t](https:evil.example).png",
    "[click me](https:evil.example).png",
    "<https://evil.example>",
    "<img src=x onerror=alert(1)>",
    "**bold** _em_ ~~s~~",
    "a`b``c",
    "`",
    "x | y",
    " spaced ",
    "   ",
    "",
]
LITERALS = [package_literal, examples_literal]
RENDERER = MarkdownIt("commonmark")  # links, images and autolinks on: the worst reader


def _rendered_text(markdown: str) -> str:
    out = RENDERER.renderInline(markdown)
    assert "<a" not in out and "<img" not in out, out
    spans = re.findall(r"<code>(.*?)</code>", out, flags=re.S)
    assert len(spans) == 1 and out.startswith("<code>") and out.endswith("</code>"), out
    return html.unescape(spans[0])


@pytest.mark.parametrize("literal", LITERALS, ids=["package", "examples"])
@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_names_render_as_themselves(literal, text):
    shown = _rendered_text(literal(text))
    assert shown == (text or " ")


@pytest.mark.parametrize("literal", LITERALS, ids=["package", "examples"])
@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1))
def test_any_text_renders_as_itself(literal, text):
    shown = _rendered_text(literal(text))
    # CommonMark strips one space from each end of a span that has one at both ends
    assert shown == text or shown.strip() == text.strip()


def test_both_packages_write_the_same_markdown():
    for text in HOSTILE:
        assert package_literal(text) == examples_literal(text)
