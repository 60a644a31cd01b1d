"""Readers for the NIH metadata files, with their real quirks; they need no images.

- ``Data_Entry_2017.csv`` / ``Data_Entry_2017_v2020.csv``: the bracketed headers
  ``OriginalImage[Width,Height]`` and ``OriginalImagePixelSpacing[x,y]`` split into the columns
  ``OriginalImage[Width``, ``Height]``, ``OriginalImagePixelSpacing[x``, ``y]``; the 2017 file
  ends every line with an empty column.
- ``BBox_List_2017.csv``: ``Bbox [x`` followed by columns ``y``, ``w``, ``h]`` and empty trailing
  columns; Infiltration is spelled ``Infiltrate``. Boxes are ``xywh`` in NIH's 1024 x 1024 frame
  whatever size the PNGs were saved at (see :mod:`cxr14_data.boxes`), ``(x, y)`` the top-left
  corner.

Files may be gzip-compressed (``.csv.gz``). ``path`` may be the file or the data-set folder.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cxr14_data.labels import UnknownLabelError, canonical_label, parse_finding_labels

DATA_ENTRY_NAMES = ("Data_Entry_2017_v2020.csv", "Data_Entry_2017.csv")
BBOX_LIST_NAMES = ("BBox_List_2017.csv",)
TRAIN_VAL_LIST = "train_val_list.txt"
TEST_LIST = "test_list.txt"


class MetadataError(ValueError):
    """A metadata file is missing, lacks a column, or has a bad row."""


@dataclass(frozen=True)
class ImageRecord:
    """One row of Data_Entry: an image, its findings (``()`` for No Finding) and its patient."""

    image_index: str
    labels: tuple[str, ...]
    follow_up: int
    patient_id: int
    age: int | None
    gender: str
    view_position: str
    original_width: int | None
    original_height: int | None


@dataclass(frozen=True)
class BoxRecord:
    """One row of BBox_List: an ``xywh`` box in the CSV's frame (NIH: 1024 x 1024).

    ``where`` names the file and line it came from, for error messages.
    """

    image_index: str
    label: str
    x: float
    y: float
    w: float
    h: float
    where: str = field(default="", compare=False, repr=False)

    @property
    def xywh(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.w, self.h)


def locate(path: str | os.PathLike, names: Sequence[str]) -> Path:
    """``path`` itself if it is a file, else the first of ``names`` (or ``name.gz``) inside it."""
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        for name in names:
            for candidate in (path / name, path / f"{name}.gz"):
                if candidate.is_file():
                    return candidate
        raise MetadataError(f"None of {list(names)} found in {path}.")
    raise MetadataError(f"Metadata path not found: {path}")


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _rows(path: Path) -> Iterator[tuple[int, dict[str, int], list[str]]]:
    """Yield ``(line number, header index, row)`` for the non-empty rows of a CSV file."""
    number = 1
    try:
        with _open_text(path) as handle:
            reader = csv.reader(handle)
            try:
                header = [h.strip() for h in next(reader)]
            except StopIteration:
                raise MetadataError(f"{path} is empty.") from None
            index = {name: i for i, name in enumerate(header) if name}
            for number, row in enumerate(reader, start=2):
                if any(cell.strip() for cell in row):
                    yield number, index, row
    except (UnicodeDecodeError, csv.Error, EOFError, gzip.BadGzipFile) as error:
        raise MetadataError(f"{path}, line {number}: not a readable CSV ({error}).") from None


def checked_rows(
    path: Path, columns: Sequence[str]
) -> Iterator[tuple[int, dict[str, int], list[str]]]:
    """:func:`_rows` of a CSV whose header must hold ``columns`` (checked on its first row)."""
    for number, (line, index, row) in enumerate(_rows(path)):
        if number == 0:
            _require(index, columns, path)
        yield line, index, row


def _require(index: dict[str, int], columns: Sequence[str], path: Path) -> None:
    missing = [c for c in columns if c not in index]
    if missing:
        raise MetadataError(f"{path} lacks the column(s) {missing}; found {sorted(index)}.")


def _optional_int(row: list[str], index: dict[str, int], column: str) -> int | None:
    position = index.get(column)
    if position is None or position >= len(row) or not row[position].strip():
        return None
    value = float(row[position])
    if not math.isfinite(value):
        raise ValueError(f"column {column!r} holds {row[position]!r}, not a number")
    return int(value)


def read_data_entry(path: str | os.PathLike) -> list[ImageRecord]:
    """Parse ``Data_Entry_2017[_v2020].csv`` (or the folder holding it).

    Examples:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "Data_Entry_2017.csv").write_text(
        ...     "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,"
        ...     "View Position,OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],\\n"
        ...     "00000001_000.png,Cardiomegaly|Effusion,0,1,58,M,PA,2682,2749,0.143,0.143,\\n")
        >>> record = read_data_entry(folder)[0]
        >>> record.labels, record.patient_id, record.original_width
        (('Cardiomegaly', 'Effusion'), 1, 2682)
    """
    file = locate(path, DATA_ENTRY_NAMES)
    records = []
    required = ("Image Index", "Finding Labels", "Patient ID")
    for number, index, row in _rows(file):
        _require(index, required, file)
        where = f"{file}, line {number}"
        try:
            cell = {c: row[index[c]].strip() for c in required}
            records.append(
                ImageRecord(
                    image_index=cell["Image Index"],
                    labels=parse_finding_labels(cell["Finding Labels"], where),
                    follow_up=_optional_int(row, index, "Follow-up #") or 0,
                    patient_id=int(cell["Patient ID"]),
                    age=_optional_int(row, index, "Patient Age"),
                    gender=row[index["Patient Gender"]].strip()
                    if "Patient Gender" in index
                    else "",
                    view_position=(
                        row[index["View Position"]].strip() if "View Position" in index else ""
                    ),
                    original_width=_optional_int(row, index, "OriginalImage[Width"),
                    original_height=_optional_int(row, index, "Height]"),
                )
            )
        except IndexError:
            raise MetadataError(f"{where}: too few columns ({len(row)}).") from None
        except UnknownLabelError:
            raise
        except ValueError as error:
            raise MetadataError(f"{where}: {error}") from error
    if not records:
        raise MetadataError(f"{file} has no rows.")
    return records


def read_bbox_list(path: str | os.PathLike) -> list[BoxRecord]:
    """Parse ``BBox_List_2017.csv`` (or the folder holding it); labels in Data_Entry spelling.

    Examples:
        >>> import tempfile, pathlib
        >>> file = pathlib.Path(tempfile.mkdtemp()) / "BBox_List_2017.csv"
        >>> _ = file.write_text("Image Index,Finding Label,Bbox [x,y,w,h],,,\\n"
        ...                     "00013118_008.png,Infiltrate,225.0,547.0,86.5,79.0,,,\\n")
        >>> read_bbox_list(file)[0]
        BoxRecord(image_index='00013118_008.png', label='Infiltration',
                  x=225.0, y=547.0, w=86.5, h=79.0)
    """
    file = locate(path, BBOX_LIST_NAMES)
    boxes = []
    for number, index, row in _rows(file):
        _require(index, ("Image Index", "Finding Label"), file)
        start = next((i for name, i in index.items() if name.startswith("Bbox")), None)
        if start is None:
            raise MetadataError(f"{file} lacks the column 'Bbox [x'; found {sorted(index)}.")
        where = f"{file}, line {number}"
        if len(row) <= max(index["Image Index"], index["Finding Label"]):
            raise MetadataError(f"{where}: too few columns ({len(row)}).")
        try:
            x, y, w, h = (float(v) for v in row[start : start + 4])
        except ValueError as error:
            raise MetadataError(f"{where}: bad box {row[start : start + 4]} ({error}).") from None
        if not all(math.isfinite(v) for v in (x, y, w, h)):
            raise MetadataError(f"{where}: box with a non-finite value {[x, y, w, h]}.")
        if w <= 0 or h <= 0:
            raise MetadataError(f"{where}: box with non-positive size {[x, y, w, h]}.")
        label = canonical_label(row[index["Finding Label"]], where)
        boxes.append(BoxRecord(row[index["Image Index"]].strip(), label, x, y, w, h, where))
    return boxes


def read_split_list(path: str | os.PathLike) -> list[str]:
    """Image names from ``train_val_list.txt`` or ``test_list.txt``, one per line."""
    path = Path(path)
    if not path.is_file():
        raise MetadataError(f"Split list not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise MetadataError(f"{path}: not a readable text list of image names ({error}).") from None
    names = [line.strip() for line in text.splitlines() if line.strip()]
    odd = next((n for n in names if "/" in n or "\\" in n or "\0" in n), None)
    if odd is not None:
        raise MetadataError(f"{path}: {odd!r} is not an image file name (no folders).")
    return names
