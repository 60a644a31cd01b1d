"""SIIM-ACR Pneumothorax Segmentation: ``train-rle.csv`` (the challenge's data page on Kaggle,
``siim-acr-pneumothorax-segmentation``, and its ``mask_functions.py``).

Columns ``ImageId, EncodedPixels`` (the second header has a leading space): one row per
connected pneumothorax component of an image, ``-1`` for an image without one. A mask is
1024 x 1024, run-length encoded **column-major** (the competition's decoder transposes what it
decodes) as ``start length start length ...``. The first stage's file writes each start
**relative** to the end of the previous run (the decoder adds them up from 0); the second stage's
is said to use **absolute** starts. A file does not say which: :func:`rle_convention` tells them
apart by the rows only one convention fits (relative runs that go past the mask's end; absolute
starts that do not increase), and a file that fits both everywhere, or each in different rows,
is refused naming it and a line (pass ``runs=`` to say). Absolute starts count from the mask's
first pixel, 0-based, as a relative row's first start does. ``ImageId`` is the DICOM SOP
Instance UID; the set gives no patient id, so each image is its own patient.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Literal

from cam_boxes_iobb.annotations import AnnotationError, Annotations
from cam_boxes_iobb.formats._files import csv_rows, existing_file
from cam_boxes_iobb.rle import from_segmentation, merge

SIIM_CLASSES: tuple[str, ...] = ("Pneumothorax",)
SIIM_FRAME = (1024, 1024)
Runs = Literal["relative", "absolute"]


def parse_runs(text: str, where: str) -> list[tuple[int, int]]:
    """``start length ...`` as ``(start, length)`` pairs (``-1``: none)."""
    if text.strip() == "-1":
        return []
    try:
        values = [int(v) for v in text.split()]
    except ValueError:
        raise AnnotationError(
            f"{where}: EncodedPixels holds a value that is not an integer."
        ) from None
    if not values or len(values) % 2 or min(values) < 0 or min(values[1::2]) < 1:
        raise AnnotationError(
            f"{where}: EncodedPixels is not pairs of a start >= 0 and a length >= 1."
        )
    return list(zip(values[0::2], values[1::2], strict=True))


def absolute_runs(runs: Sequence[tuple[int, int]], convention: Runs) -> list[tuple[int, int]]:
    """The runs with starts counted from the mask's first pixel.

    Examples:
        >>> absolute_runs([(5, 2), (3, 1)], "relative")
        [(5, 2), (10, 1)]
    """
    if convention == "absolute":
        return list(runs)
    out, position = [], 0
    for start, length in runs:
        position += start
        out.append((position, length))
        position += length
    return out


def _fits(runs: Sequence[tuple[int, int]], convention: Runs, pixels: int) -> bool:
    end = 0
    for start, length in absolute_runs(runs, convention):
        if start < end:
            return False
        end = start + length
    return end <= pixels


def rle_convention(
    rows: Sequence[tuple[str, list[tuple[int, int]]]],
    file: str,
    frame: tuple[int, int] = SIIM_FRAME,
) -> Runs:
    """Which convention every row of a file fits (see the module's note), else refused.
    ``rows`` are the rows of more than one run; without any (every image negative or one run),
    both conventions decode the same masks and relative is returned."""
    if not rows:
        return "relative"
    pixels = frame[0] * frame[1]
    only: dict[str, str] = {}
    for where, runs in rows:
        relative, absolute = _fits(runs, "relative", pixels), _fits(runs, "absolute", pixels)
        if not relative and not absolute:
            raise AnnotationError(f"{where}: runs fit neither relative nor absolute starts.")
        if relative != absolute:
            only.setdefault("relative" if relative else "absolute", where)
    if len(only) == 2:
        raise AnnotationError(
            f"{file}: rows fit only relative starts ({only['relative']}) and only absolute "
            f"ones ({only['absolute']}); not one file's convention."
        )
    if not only:
        raise AnnotationError(
            f"{file}: every row fits both relative and absolute starts; pass runs='relative' "
            "or runs='absolute'."
        )
    return next(iter(only))  # type: ignore[return-value]


def read_siim(
    path: str | os.PathLike, runs: Runs | None = None, frame: tuple[int, int] = SIIM_FRAME
) -> Annotations:
    """Read ``train-rle.csv`` (or the folder holding it): one mask per image, its components
    united; images listed with ``-1`` are negatives.

    Args:
        path: the CSV or its folder.
        runs: ``"relative"`` or ``"absolute"`` starts; ``None`` tells them apart
            (:func:`rle_convention`).
        frame: ``(height, width)`` of the masks (the challenge's: 1024 x 1024).

    Returns:
        The annotations, class ``Pneumothorax``, in ``frame``.

    Raises:
        AnnotationError: naming the file and line of a bad row, an image listed as ``-1`` and
            with a component, or a file whose convention cannot be told.

    Examples:
        >>> import tempfile, pathlib
        >>> import numpy as np
        >>> file = pathlib.Path(tempfile.mkdtemp()) / "train-rle.csv"
        >>> _ = file.write_text("ImageId, EncodedPixels\\na, -1\\nb, 1026 2 1022 2\\n")
        >>> ann = read_siim(file)
        >>> mask = ann["b"].mask("Pneumothorax")
        >>> np.argwhere(mask).tolist()  # (row, column): rows 2-3 of columns 1 and 2
        [[2, 1], [2, 2], [3, 1], [3, 2]]
    """
    file = existing_file(path, ("train-rle.csv", "stage_2_train.csv"))
    aliases = {"EncodedPixels": "EncodedPixels", " EncodedPixels": "EncodedPixels"}
    parsed: list[tuple[str, str, list[tuple[int, int]]]] = []
    for where, row in csv_rows(file, ("ImageId", "EncodedPixels"), aliases):
        if not row["ImageId"]:
            raise AnnotationError(f"{where}: empty 'ImageId'.")
        parsed.append((where, row["ImageId"], parse_runs(row["EncodedPixels"], where)))
    multiple = [(w, r) for w, _, r in parsed if len(r) > 1]
    convention = runs or rle_convention(multiple, str(file), frame)
    height, width = frame
    annotations = Annotations(SIIM_CLASSES, source=str(file))
    negative: dict[str, str] = {}
    for where, name, image_runs in parsed:
        image = annotations.get_or_add(name, name, height, width)
        if not image_runs:
            negative[name] = where
            if "Pneumothorax" in image.masks:
                raise AnnotationError(f"{where}: {name} is listed as -1 and with a mask.")
            continue
        if name in negative:
            raise AnnotationError(f"{where}: {name} is listed with a mask and as -1.")
        counts, end = [], 0
        for start, length in absolute_runs(image_runs, convention):
            if start < end:
                raise AnnotationError(f"{where}: runs overlap under {convention} starts.")
            counts += [start - end, length]
            end = start + length
        if end > height * width:
            raise AnnotationError(f"{where}: runs end past the {height} x {width} mask.")
        counts.append(height * width - end)
        rle = from_segmentation({"size": [height, width], "counts": counts}, height, width, where)
        previous = image.masks.get("Pneumothorax")
        image.masks["Pneumothorax"] = rle if previous is None else merge(previous, rle)
    return annotations
