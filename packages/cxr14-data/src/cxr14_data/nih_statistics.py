"""NIH ChestX-ray14's own statistics, shipped as package data for the synthetic generator.

Two small tables are tabulated once from the public metadata files and shipped in
``cxr14_data/data/`` (never downloaded at run time):

- ``nih_boxes.csv``: every row of ``BBox_List_2017.csv`` (984 boxes on 880 images, 8 classes) as
  ``Finding Label, x, y, w, h`` in NIH's 1024 x 1024 frame (rounded to 0.01 px; ``Infiltrate`` is
  written ``Infiltration``, as in :data:`~cxr14_data.labels.CLASSES`).
- ``nih_label_sets.csv``: how many of the 112,120 images of ``Data_Entry_2017_v2020.csv`` carry
  each label combination (801 combinations, ``No Finding`` included).

Each file's header names its source and the SHA-256 of the uncompressed source CSV
(:data:`SOURCES`); :func:`tabulate_nih` rebuilds both tables from a folder holding the real files,
and the test suite checks that it reproduces the shipped files byte for byte.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
from collections import Counter
from importlib import resources
from pathlib import Path

import numpy as np

from cxr14_data.labels import CLASSES, NO_FINDING
from cxr14_data.metadata import (
    BBOX_LIST_NAMES,
    DATA_ENTRY_NAMES,
    _open_text,
    locate,
    read_bbox_list,
    read_data_entry,
)

#: Source file and SHA-256 of its uncompressed text, for each shipped table.
SOURCES: dict[str, tuple[str, str]] = {
    "nih_boxes.csv": (
        "BBox_List_2017.csv",
        "0bbfea9d4c4e9771481b3023b1bc9f0df9dea924453b12986beb29b0c4d0c95b",
    ),
    "nih_label_sets.csv": (
        "Data_Entry_2017_v2020.csv",
        "dc1d2df67fdc1c5a7601d48699cda2b13dc2c4841488b4183dcf04884dbaca11",
    ),
}
BOX_COLUMNS = "Finding Label,x,y,w,h"
LABEL_SET_COLUMNS = "Finding Labels,Images"


def _header(table: str) -> str:
    source, digest = SOURCES[table]
    return (
        f"# Tabulated from NIH ChestX-ray14's {source} (sha256 of the uncompressed file: "
        f"{digest}).\n"
    )


def _sha256(path: Path) -> str:
    with _open_text(path) as handle:
        return hashlib.sha256(handle.read().encode()).hexdigest()


def tabulate_nih(metadata: str | os.PathLike) -> dict[str, str]:
    """The text of both shipped tables, rebuilt from a folder with NIH's metadata files.

    Args:
        metadata: folder holding ``BBox_List_2017.csv`` and ``Data_Entry_2017_v2020.csv``
            (``.gz`` works too), e.g. a ChestX-ray14 download.

    Returns:
        ``{"nih_boxes.csv": text, "nih_label_sets.csv": text}``.

    Raises:
        MetadataError: a file is missing or is not the version the tables came from (its
            SHA-256 differs from :data:`SOURCES`).
    """
    from cxr14_data.metadata import MetadataError

    bbox_path = locate(metadata, BBOX_LIST_NAMES)
    entry_path = locate(metadata, DATA_ENTRY_NAMES)
    for table, path in (("nih_boxes.csv", bbox_path), ("nih_label_sets.csv", entry_path)):
        if _sha256(path) != SOURCES[table][1]:
            raise MetadataError(
                f"{path}: not the {SOURCES[table][0]} the shipped tables came from "
                f"(expected sha256 {SOURCES[table][1]})."
            )
    boxes = io.StringIO()
    boxes.write(_header("nih_boxes.csv") + BOX_COLUMNS + "\n")
    for box in read_bbox_list(bbox_path):
        boxes.write(f"{box.label},{box.x:.2f},{box.y:.2f},{box.w:.2f},{box.h:.2f}\n")
    counts = Counter(
        "|".join(sorted(r.labels, key=CLASSES.index)) or NO_FINDING
        for r in read_data_entry(entry_path)
    )
    sets = io.StringIO()
    sets.write(_header("nih_label_sets.csv") + LABEL_SET_COLUMNS + "\n")
    for labels, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        sets.write(f"{labels},{count}\n")
    return {"nih_boxes.csv": boxes.getvalue(), "nih_label_sets.csv": sets.getvalue()}


def _table_lines(name: str) -> list[list[str]]:
    text = resources.files("cxr14_data").joinpath("data", name).read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return [line.split(",") for line in lines[1:]]


@functools.cache
def nih_boxes() -> dict[str, np.ndarray]:
    """NIH's boxes per class: ``{class: (N, 4) float64 xywh}`` in the 1024 x 1024 frame.

    Examples:
        >>> boxes = nih_boxes()
        >>> sum(len(rows) for rows in boxes.values()), boxes["Nodule"].shape
        (984, (79, 4))
    """
    rows: dict[str, list[list[float]]] = {}
    for label, *xywh in _table_lines("nih_boxes.csv"):
        rows.setdefault(label, []).append([float(v) for v in xywh])
    return {label: np.array(values) for label, values in rows.items()}


@functools.cache
def nih_label_sets() -> tuple[tuple[tuple[str, ...], int], ...]:
    """NIH's label combinations and their image counts, most common first (``()``: No Finding).

    Labels inside a combination are in :data:`~cxr14_data.labels.CLASSES` order.

    Examples:
        >>> sets = nih_label_sets()
        >>> sets[0], sum(count for _, count in sets)
        (((), 60361), 112120)
    """
    table = []
    for labels, count in _table_lines("nih_label_sets.csv"):
        names = () if labels == NO_FINDING else tuple(sorted(labels.split("|"), key=CLASSES.index))
        table.append((names, int(count)))
    return tuple(table)


def write_tables(metadata: str | os.PathLike, folder: str | os.PathLike) -> list[Path]:
    """Write both tables (as :func:`tabulate_nih` builds them) into ``folder``; a maintainer's
    step when NIH publishes new metadata (update :data:`SOURCES` first)."""
    written = []
    for name, text in tabulate_nih(metadata).items():
        path = Path(folder) / name
        path.write_text(text)
        written.append(path)
    return written
