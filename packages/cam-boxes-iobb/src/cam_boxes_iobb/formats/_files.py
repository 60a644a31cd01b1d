"""Opening annotation files: CSV rows with their line numbers, JSON with a size limit, every
decoding failure turned into an :class:`~cam_boxes_iobb.annotations.AnnotationError` naming the
file (and the line where there is one)."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from cam_boxes_iobb.annotations import AnnotationError

#: Largest annotation file read (bytes): far above any published file (CheXlocalize's
#: segmentations: ~60 MB), far below what would exhaust memory.
MAX_FILE_BYTES = 2 << 30


def existing_file(path: str | os.PathLike, names: Sequence[str] = ()) -> Path:
    """``path`` itself, or the first of ``names`` inside it when it is a folder."""
    path = Path(path)
    if path.is_dir():
        for name in names:
            if (path / name).is_file():
                return path / name
        raise AnnotationError(f"{path} is a folder without any of {list(names)}.")
    if not path.is_file():
        raise AnnotationError(f"{path}: no such file.")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise AnnotationError(f"{path} is larger than {MAX_FILE_BYTES} bytes.")
    return path


def csv_rows(
    path: Path, required: Sequence[str], aliases: dict[str, str] | None = None
) -> Iterator[tuple[str, dict[str, str]]]:
    """``(where, row)`` for every non-empty row, ``row`` keyed by the stripped header names
    (``aliases`` renames headers, e.g. case variants), ``where`` = ``"<file>, line <n>"``."""
    aliases = aliases or {}
    number = 1
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            try:
                header = [aliases.get(h.strip(), h.strip()) for h in next(reader)]
            except StopIteration:
                raise AnnotationError(f"{path} is empty.") from None
            missing = [c for c in required if c not in header]
            if missing:
                raise AnnotationError(
                    f"{path}, line 1: lacks the column(s) {missing}; found {header}."
                )
            for number, cells in enumerate(reader, start=2):
                if not any(cell.strip() for cell in cells):
                    continue
                if len(cells) < len([h for h in header if h]):
                    raise AnnotationError(
                        f"{path}, line {number}: {len(cells)} columns, the header has "
                        f"{len(header)}."
                    )
                yield (
                    f"{path}, line {number}",
                    {h: c.strip() for h, c in zip(header, cells, strict=False) if h},
                )
    except (UnicodeDecodeError, csv.Error) as error:
        raise AnnotationError(f"{path}, line {number}: not a readable CSV ({error}).") from None


def read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as error:
        raise AnnotationError(f"{path}: not valid JSON ({error}).") from None


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def number(value: str, where: str, column: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise AnnotationError(
            f"{where}: column {column!r} holds {value!r}, not a number."
        ) from None
