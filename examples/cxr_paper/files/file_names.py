"""File names made from text that came from outside (input paths, class names): one folder
level each, never absolute, never hidden, never ``..``, and distinct among the files a job
writes, so that ``out / name`` stays inside ``out`` whatever the text was.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePath

#: Characters kept as they are; every other one (separators, ``:``, spaces, control
#: characters, non-ASCII) becomes ``_``.
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def safe_part(text: str) -> str:
    """``text`` as one plain file-name part: unsafe characters become ``_``, and so does a
    leading dot (no hidden files, no ``..``); empty text becomes ``_``.

    Args:
        text: Any text.

    Returns:
        A name without path separators or a leading dot.

    Examples:
        >>> safe_part("Pleural_Thickening"), safe_part("../x/y"), safe_part("a b:c"), safe_part("")
        ('Pleural_Thickening', '_._x_y', 'a_b_c', '_')
    """
    name = _UNSAFE.sub("_", text)
    if name.startswith("."):
        name = "_" + name[1:]
    return name or "_"


def output_names(paths: Sequence[PurePath], tails: Sequence[str] = (".json",)) -> list[str]:
    """A distinct, safe output name per input path.

    Each name is the path's stem, prefixed by as many parent folders as it takes to tell it from
    the other inputs (``__`` between them; a root or drive is not a folder); then, if any file
    ``name + tail`` (``tails``: every file the job writes per input, e.g. ``".json"``,
    ``"_Mass.png"``) would be one another input already has (compared case-insensitively, as on
    macOS and Windows), ``_2``, ``_3``, ... is added until none is.

    Args:
        paths: The input paths.
        tails: Every suffix the job writes per input.

    Returns:
        One name per path, in order.

    Examples:
        >>> from pathlib import PurePosixPath as P
        >>> output_names([P("pa/IM1.png"), P("pb/IM1.dcm"), P("x/IM2.png")])
        ['pa__IM1', 'pb__IM1', 'IM2']
        >>> output_names([P("/data/x/a.png"), P("/data/x/a.jpg"), P("/a.png")])
        ['data__x__a', 'data__x__a_2', 'a']
        >>> output_names([P("a.dcm"), P("a.png"), P("a_2.jpg")])
        ['a', 'a_2', 'a_2_2']
    """
    parts = [
        [
            safe_part(p)
            for p in (*PurePath(path).parent.parts, PurePath(path).stem)
            if p != PurePath(path).anchor
        ]
        for path in paths
    ]
    depths = [1] * len(paths)

    def name(index: int) -> str:
        return "__".join(parts[index][-depths[index] :])

    while True:
        names = [name(i) for i in range(len(paths))]
        clashes = {n for n in names if names.count(n) > 1}
        deeper = [i for i, n in enumerate(names) if n in clashes and depths[i] < len(parts[i])]
        if not deeper:
            break
        for i in deeper:
            depths[i] += 1
    taken: set[str] = set()
    unique = []
    for base in names:
        candidate, number = base, 1
        while any((candidate + tail).casefold() in taken for tail in tails):
            number += 1
            candidate = f"{base}_{number}"
        taken.update((candidate + tail).casefold() for tail in tails)
        unique.append(candidate)
    return unique
