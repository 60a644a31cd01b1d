"""Text from files (names, paths, class labels) written into Markdown as text, never markup."""

from __future__ import annotations

import re


def literal(text: object) -> str:
    """``text`` as a Markdown code span, shown as it is in every renderer: never a link, an
    image, emphasis or HTML. Line breaks become spaces.

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
