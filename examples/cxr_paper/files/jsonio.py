"""Strict JSON files (RFC 8259): NaN and infinities are written as ``null``, atomically.

A metric that is undefined (the AUROC of a class absent from a split) is ``NaN`` in Python and
``null`` in every JSON file a run writes, so ``jq``, browsers and other languages read them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from cxr_paper.files.atomic import atomic_text


def strict(value: Any) -> Any:
    """``value`` as plain JSON types, with NaN/inf -> ``None`` and numpy scalars unwrapped.

    Args:
        value: Nested dicts, lists, tuples, numbers (numpy included) and strings.

    Returns:
        The same with JSON types only, keys as strings.

    Examples:
        >>> strict({"a": [1.0, float("nan")], 0.1: np.float32(0.5), "b": (np.int64(3),)})
        {'a': [1.0, None], '0.1': 0.5, 'b': [3]}
    """
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [strict(v) for v in value]
    return value


def write_json(value: Any, path: Path) -> Path:
    """Write ``strict(value)`` to ``path`` atomically
    (:func:`~cxr_paper.files.atomic.atomic_text`).

    Args:
        value: What :func:`strict` takes.
        path: The file.

    Returns:
        ``path``.
    """
    return atomic_text(path, json.dumps(strict(value), indent=2, allow_nan=False))


def read_json(path: Path) -> Any:
    """A JSON file this project wrote; an unreadable one is refused naming it.

    Args:
        path: The file.

    Returns:
        Its value.

    Raises:
        ValueError: Missing, unreadable, not JSON, or nested too deep (naming ``path``).
    """
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        # RecursionError: arrays nested deeper than the parser's stack (a hostile file)
        raise ValueError(f"{path}: not a readable JSON file ({error}).") from None
