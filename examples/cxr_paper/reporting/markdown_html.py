"""The report's Markdown as HTML: the subset ``report.py`` writes (headings, paragraphs, bullet
lists, tables, images, ``code`` and **bold**), escaped, with no dependency to install."""

from __future__ import annotations

import html
import re

_IMAGE = re.compile(r"^!\[(?P<alt>[^\]]*)\]\((?P<src>[^)]+)\)$")
_HEADING = re.compile(r"^(?P<level>#{1,6}) (?P<text>.+)$")


def inline(text: str) -> str:
    """Escape ``text``, then render ``code`` and **bold**.

    Example:
        >>> inline("a **b** `<c>`")
        'a <strong>b</strong> <code>&lt;c&gt;</code>'
    """
    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)


def _table(lines: list[str]) -> str:
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines]
    header, body = rows[0], [r for r in rows[1:] if not all(set(c) <= set("-: ") for c in r)]
    head = "".join(f"<th>{inline(c)}</th>" for c in header)
    cells = "".join(
        "<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>" for row in body
    )
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>"
    return f'<div class="table">{table}</div>'


def markdown_to_html(markdown: str) -> str:
    """Block by block: a table is a run of ``|`` lines, a list a run of ``- `` lines.

    Example:
        >>> page = markdown_to_html("# T\\n\\n| a | b |\\n|---|---|\\n| 1 | 2 |\\n\\n- x\\n- **y**")
        >>> print(page.replace("><", ">\\n<"))
        <h1>T</h1>
        <div class="table">
        <table>
        <thead>
        <tr>
        <th>a</th>
        <th>b</th>
        </tr>
        </thead>
        <tbody>
        <tr>
        <td>1</td>
        <td>2</td>
        </tr>
        </tbody>
        </table>
        </div>
        <ul>
        <li>x</li>
        <li>
        <strong>y</strong>
        </li>
        </ul>
    """
    out: list[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if line.startswith("|"):
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append(lines[i])
                i += 1
            out.append(_table(block))
            continue
        if line.startswith("- "):
            items = []
            while i < len(lines) and (lines[i].startswith("- ") or lines[i].startswith("  ")):
                if lines[i].startswith("- "):
                    items.append(lines[i][2:])
                else:
                    items[-1] += " " + lines[i].strip()
                i += 1
            out.append("<ul>" + "".join(f"<li>{inline(t)}</li>" for t in items) + "</ul>")
            continue
        heading, image = _HEADING.match(line), _IMAGE.match(line.strip())
        if heading:
            level = len(heading["level"])
            out.append(f"<h{level}>{inline(heading['text'])}</h{level}>")
        elif image:
            src, alt = html.escape(image["src"]), html.escape(image["alt"])
            out.append(f'<figure><img src="{src}" alt="{alt}" loading="lazy"></figure>')
        else:
            paragraph = [line]
            i += 1
            while i < len(lines) and lines[i].strip() and not lines[i].startswith(("|", "- ", "#")):
                paragraph.append(lines[i])
                i += 1
            out.append(f"<p>{inline(' '.join(p.strip() for p in paragraph))}</p>")
            continue
        i += 1
    return "\n".join(out)
