"""Frozen result types to JSON and back, both ways generated from the types' annotations.

A result type is a dataclass whose fields are annotated with ``float``, ``int``, ``bool``,
``str``, a ``StrEnum``, ``Any``, another result type, ``X | None``, ``list[X]``,
``tuple[X, ...]`` or ``dict[K, V]`` with ``K`` a ``str`` (or a ``str`` subclass, such as a
``StrEnum`` or a key type with ``parse``). :func:`to_json` writes one as plain JSON values,
:func:`from_json` reads it back and checks every value on the way, naming the first wrong one by
its path (``intervals.auroc.Mass.low: 'x' is not a number``). No field is listed by hand.

Conventions of the files this project writes, kept:
    - NaN (an undefined number) is written ``null`` (by :func:`~cxr_paper.files.jsonio.write_json`)
      and a ``float`` field reads ``null`` back as NaN; infinities are refused. Numpy scalars
      read as the Python numbers they hold.
    - A field with a default may be absent (files written before it existed).
    - ``field(metadata={INLINE: True})`` on a ``dict`` field puts its entries in the object
      beside the other fields; ``EMPTY_IS_NONE`` writes ``None`` as ``{}``; ``OMIT_NONE`` leaves a
      ``None`` field out.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from enum import Enum
from functools import cache
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

import numpy as np

INLINE = "inline"
EMPTY_IS_NONE = "empty_is_none"
OMIT_NONE = "omit_none"
T = TypeVar("T")


class FormatError(ValueError):
    """A JSON value that is not of the type it should be; the message names where."""


def to_json(value: Any) -> Any:
    """``value`` (a result type, or containers of them) as JSON values.

    Args:
        value: A dataclass, ``str`` subclass, number, ``None`` or containers of them.

    Returns:
        JSON values (dicts keyed by text); NaN stays a float for the writer to turn to ``null``.

    Examples:
        >>> from dataclasses import dataclass
        >>> @dataclass(frozen=True)
        ... class Point:
        ...     x: float
        ...     tags: tuple[str, ...] = ()
        >>> to_json({"a": Point(1.0, ("b",))})
        {'a': {'x': 1.0, 'tags': ['b']}}
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        tree: dict[str, Any] = {}
        for field in dataclasses.fields(value):
            item = getattr(value, field.name)
            if field.metadata.get(INLINE):
                tree.update(to_json(item))
            elif item is None and field.metadata.get(EMPTY_IS_NONE):
                tree[field.name] = {}
            elif not (item is None and field.metadata.get(OMIT_NONE)):
                tree[field.name] = to_json(item)
        return tree
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, str):
        return str(value)  # a str subclass (a key type) as its text
    return value


def from_json(kind: type[T], tree: Any, where: str = "") -> T:
    """The ``kind`` that ``tree`` (as :func:`to_json` wrote it) holds, every value checked.

    Raises:
        FormatError: naming the path of the first value that is missing, unknown or of
            another type.

    Args:
        kind: The type to read: a dataclass or any annotation :func:`to_json` writes.
        tree: Parsed JSON.
        where: The path of ``tree`` in its file, for the error.

    Returns:
        The value.

    Examples:
        >>> from dataclasses import dataclass
        >>> @dataclass(frozen=True)
        ... class Point:
        ...     x: float
        >>> from_json(Point, {"x": None})
        Point(x=nan)
        >>> from_json(dict[str, Point], {"a": {"x": "1"}}, "points")
        Traceback (most recent call last):
        ...
        cxr_paper.files.typed_json.FormatError: points.a.x: '1' is not a number
    """
    return _decode(kind, tree, where or getattr(kind, "__name__", "value"))


def _decode(hint: Any, tree: Any, where: str) -> Any:
    if isinstance(tree, np.generic):
        tree = tree.item()
    origin = get_origin(hint)
    if hint is Any:
        return tree
    if origin in (typing.Union, types.UnionType):
        return _decode_union(get_args(hint), tree, where)
    if origin is dict:
        key_type, value_type = get_args(hint)
        _expect(isinstance(tree, dict), tree, where, "an object")
        return {
            _decode_key(key_type, key, where): _decode(value_type, item, f"{where}.{key}")
            for key, item in tree.items()
        }
    if origin in (list, tuple):
        _expect(isinstance(tree, list), tree, where, "a list")
        args = get_args(hint)
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            _expect(len(tree) == len(args), tree, where, f"a list of {len(args)}")
            pairs = enumerate(zip(args, tree, strict=True))
            return tuple(_decode(a, x, f"{where}[{i}]") for i, (a, x) in pairs)
        items = [_decode(args[0], x, f"{where}[{i}]") for i, x in enumerate(tree)]
        return items if origin is list else tuple(items)
    if dataclasses.is_dataclass(hint):
        return _decode_dataclass(hint, tree, where)
    if isinstance(hint, type) and issubclass(hint, Enum):
        members = [m.value for m in hint]
        _expect(tree in members, tree, where, f"one of {members}")
        return hint(tree)
    if hint is float:
        if tree is None:
            return math.nan
        numeric = isinstance(tree, int | float) and not isinstance(tree, bool)
        _expect(numeric, tree, where, "a number")
        try:
            number = float(tree)
        except OverflowError:
            number = math.inf
        _expect(not math.isinf(number), tree, where, "a finite number")
        return number
    if hint in (int, bool, str):
        plain = isinstance(tree, hint) and (hint is bool or not isinstance(tree, bool))
        _expect(plain, tree, where, {int: "an integer", bool: "true or false", str: "a text"}[hint])
        return tree
    raise TypeError(f"{where}: {hint!r} is not a type this codec reads")


def _decode_union(args: tuple, tree: Any, where: str) -> Any:
    if tree is None and type(None) in args:
        return None
    options = [a for a in args if a is not type(None)]
    for option in options[:-1]:
        try:
            return _decode(option, tree, where)
        except FormatError:
            continue
    return _decode(options[-1], tree, where)


def _decode_key(key_type: Any, key: str, where: str) -> Any:
    if not isinstance(key, str):  # a Python mapping's number keys, named as JSON names them
        key = json.dumps(key)
    if key_type is str:
        return key
    try:
        return key_type.parse(key) if hasattr(key_type, "parse") else key_type(key)
    except ValueError as error:
        raise FormatError(
            f"{where}: the key {key!r} is not a {key_type.__name__} ({error})"
        ) from None


@cache
def _fields(cls: type) -> tuple[tuple[dataclasses.Field, Any], ...]:
    hints = get_type_hints(cls)
    return tuple((f, hints[f.name]) for f in dataclasses.fields(cls) if f.init)


def _decode_dataclass(cls: type, tree: Any, where: str) -> Any:
    _expect(isinstance(tree, dict), tree, where, "an object")
    fields = _fields(cls)
    named = {f.name for f, _ in fields if not f.metadata.get(INLINE)}
    values: dict[str, Any] = {}
    for field, hint in fields:
        if field.metadata.get(INLINE):
            rest = {k: v for k, v in tree.items() if k not in named}
            values[field.name] = _decode(hint, rest, where)
        elif field.name in tree:
            item = tree[field.name]
            if field.metadata.get(EMPTY_IS_NONE) and item == {}:
                item = None
            values[field.name] = _decode(hint, item, f"{where}.{field.name}")
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise FormatError(f"{where}: {field.name!r} is missing")
    if not any(f.metadata.get(INLINE) for f, _ in fields):
        unknown = sorted(set(tree) - named)
        if unknown:
            raise FormatError(f"{where}: unknown keys {unknown[:5]}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        raise FormatError(f"{where}: {error}") from None


def _expect(holds: bool, tree: Any, where: str, what: str) -> None:
    if not holds:
        shown = repr(tree)
        raise FormatError(f"{where}: {shown[:80] + ('…' if len(shown) > 80 else '')} is not {what}")
