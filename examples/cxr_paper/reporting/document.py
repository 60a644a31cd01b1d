"""The one report model: a document of headings, paragraphs, bullet lists, tables and figures,
rendered to Markdown (``report.md``, ``score.md``, ``ablation.md``, ``study.md``, the model card)
and to HTML (the tables of ``report.html`` and its siblings) from the same blocks.

Texts hold inline Markdown only (```code```, ``**bold**``). In Markdown a table cell's ``|`` is
escaped; in HTML every text is escaped by the template (Jinja2, autoescape on) and its inline
markup rendered by markdown-it-py (CommonMark, raw HTML off), so a name like ``<b>`` stays text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

from markupsafe import Markup

TEMPLATE = Path(__file__).with_name("templates") / "document.html"


@dataclass(frozen=True)
class Heading:
    """A heading, ``level`` 1 to 6.

    Attributes:
        text: Inline Markdown.
        level: 1 to 6.
        kind: The block's tag in JSON.
    """

    text: str
    level: int = 2
    kind: Literal["heading"] = "heading"

    def to_markdown(self) -> str:
        return f"{'#' * self.level} {self.text}"


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of inline Markdown.

    Attributes:
        text: Inline Markdown.
        kind: The block's tag in JSON.
    """

    text: str
    kind: Literal["paragraph"] = "paragraph"

    def to_markdown(self) -> str:
        return self.text


@dataclass(frozen=True)
class Bullets:
    """A bullet list, one inline-Markdown item each.

    Attributes:
        items: Inline Markdown, one per bullet.
        kind: The block's tag in JSON.
    """

    items: tuple[str, ...]
    kind: Literal["bullets"] = "bullets"

    def to_markdown(self) -> str:
        return "\n".join(f"- {item}" for item in self.items)


@dataclass(frozen=True)
class Table:
    """A table: a header and rows of cells as long as it (inline Markdown each).

    Attributes:
        header: Column titles.
        rows: Cells, each row as long as ``header``.
        kind: The block's tag in JSON.

    Raises:
        ValueError: A row of another length.
    """

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    kind: Literal["table"] = "table"

    def __post_init__(self) -> None:
        wrong = [i for i, row in enumerate(self.rows) if len(row) != len(self.header)]
        if wrong:
            raise ValueError(
                f"Table rows {wrong} have another number of cells than the header's "
                f"{len(self.header)} ({list(self.header)})."
            )

    def to_markdown(self) -> str:
        """GitHub-flavoured: ``|`` inside a cell escaped, line breaks made spaces.

        Examples:
            >>> print(Table(("a", "b"), (("1", "x | y"),)).to_markdown())
            | a | b |
            |---|---|
            | 1 | x \\| y |
        """

        def line(cells: Sequence[str]) -> str:
            shown = (str(c).replace("|", "\\|").replace("\n", " ") for c in cells)
            return "| " + " | ".join(shown) + " |"

        return "\n".join(
            [line(self.header), "|" + "---|" * len(self.header), *map(line, self.rows)]
        )


@dataclass(frozen=True)
class Figure:
    """An image of the report's folder, with its title as alternative text.

    Attributes:
        title: Alternative text and caption.
        source: The image's path, relative to the report.
        kind: The block's tag in JSON.
    """

    title: str
    source: str  # relative to the document
    kind: Literal["figure"] = "figure"

    def to_markdown(self) -> str:
        return f"![{self.title}]({self.source})"


Block = Heading | Paragraph | Bullets | Table | Figure


@cache
def literal(text: object) -> str:
    """``text`` (a file name, a path, a label from a data set) as a Markdown code span, shown as
    it is in every renderer: never a link, an image, emphasis or HTML. Line breaks become spaces.

    Args:
        text: Any value; ``str(text)`` is shown.

    Returns:
        A code span.

    Examples:
        >>> literal("[click](https:evil.example).png"), literal("a`b"), literal("`x")
        ('`[click](https:evil.example).png`', '``a`b``', '`` `x ``')
    """
    text = str(text).replace("\r", " ").replace("\n", " ")
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    if not text.strip(" "):
        return f"`{text}`" if text else "` `"  # a span of spaces alone is kept as it is
    pad = " " if text[:1] in ("`", " ") or text[-1:] in ("`", " ") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _inline_parser():
    from markdown_it import MarkdownIt  # here: writing Markdown alone (the model card) needs none

    # data (names, paths) is escaped where it enters a text (:func:`literal`); links, images and
    # raw HTML are off besides, so that no text can make the page load or point anywhere
    return MarkdownIt("commonmark", {"html": False}).disable(["link", "image", "autolink"])


def inline_html(text: str) -> Markup:
    """Inline Markdown as HTML, everything else escaped.

    Args:
        text: Inline Markdown (``**bold**``, ``*emphasis*``, code spans).

    Returns:
        Safe HTML.

    Examples:
        >>> str(inline_html("**a** `<b>` <i>x</i> `**c**`"))
        '<strong>a</strong> <code>&lt;b&gt;</code> &lt;i&gt;x&lt;/i&gt; <code>**c**</code>'
    """
    return Markup(_inline_parser().renderInline(str(text)))


@cache
def _template():
    import jinja2

    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    environment.filters["inline"] = inline_html
    return environment.from_string(TEMPLATE.read_text(encoding="utf-8"))


@dataclass
class Document:
    """Blocks in reading order; the builder methods return the document, so they chain.

    Attributes:
        blocks: Headings, paragraphs, bullets, tables and figures.

    Examples:
        >>> doc = Document().heading("Scores", 1).paragraph("On **3** images.")
        >>> doc = doc.table(["model", "accuracy"], [["`m<1>`", "0.500"]])
        >>> print(doc.to_markdown(), end="")
        # Scores
        <BLANKLINE>
        On **3** images.
        <BLANKLINE>
        | model | accuracy |
        |---|---|
        | `m<1>` | 0.500 |
        >>> "<td><code>m&lt;1&gt;</code></td>" in doc.to_html()
        True
    """

    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block | Document | None) -> Document:
        """Append blocks, or another document's blocks; ``None`` is skipped."""
        for block in blocks:
            if isinstance(block, Document):
                self.blocks += block.blocks
            elif block is not None:
                self.blocks.append(block)
        return self

    def heading(self, text: str, level: int = 2) -> Document:
        return self.add(Heading(text, level))

    def paragraph(self, text: str) -> Document:
        return self.add(Paragraph(text) if text else None)

    def bullets(self, items: Iterable[str]) -> Document:
        items = tuple(i for i in items if i)
        return self.add(Bullets(items) if items else None)

    def table(self, header: Sequence[str], rows: Iterable[Sequence[str]]) -> Document:
        return self.add(make_table(header, rows))

    def figure(self, title: str, source: str) -> Document:
        return self.add(Figure(title, source))

    def to_markdown(self) -> str:
        return "\n\n".join(block.to_markdown() for block in self.blocks) + "\n"

    def to_html(self) -> Markup:
        """The blocks as HTML (safe to place in a page: every text escaped)."""
        return Markup(_template().render(blocks=self.blocks))


def make_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> Table:
    """A :class:`Table` of strings from any sequences.

    Args:
        header: Column titles.
        rows: Rows of cells, any values (``str`` of each).

    Returns:
        The table.

    Examples:
        >>> make_table(["a"], [[1], [2]]).rows
        (('1',), ('2',))
    """
    return Table(tuple(map(str, header)), tuple(tuple(map(str, row)) for row in rows))
