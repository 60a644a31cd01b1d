"""Tabulates, from the real metadata files that torchxrayvision's wheel ships, the statistics the
synthetic sets in the other layouts follow (``cxr14_data/data/layout_statistics.json``).

``python tests/layout_statistics_source.py`` rewrites the shipped file;
``test_layout_statistics.py`` checks that it equals what this gives today. Counts are exact;
box samples are every n-th box in file order (no random generator, so every NumPy draws the
same), in units of the 1024 x 1024 frame both RSNA's and SIIM's images have.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import importlib.util
import io
import json
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from cam_boxes_iobb.formats.rsna import read_rsna as read_rsna_boxes
from cam_boxes_iobb.formats.siim import absolute_runs, parse_runs, rle_convention
from cxr14_data.layouts import read_chexpert, read_vindr_kaggle

SHIPPED = (
    Path(__file__).resolve().parents[1]
    / "packages/cxr14-data/src/cxr14_data/data/layout_statistics.json"
)
BOX_SAMPLE = 400
FRAME = 1024.0
FILES = {
    "chexpert": "chexpert_train.csv.gz",
    "vindr": "vinbigdata-train.csv.gz",
    "rsna": "kaggle_stage_2_train_labels.csv.zip",
    "rsna_headers": "kaggle_stage_2_train_images_dicom_headers.csv.gz",
    "siim": "siim-pneumothorax-train-rle.csv.gz",
}


def xrv_data() -> Path | None:
    spec = importlib.util.find_spec("torchxrayvision")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _unpacked(packed: Path, name: str, folder: Path) -> Path:
    data = packed.read_bytes()
    if packed.suffix == ".zip":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            data = archive.read(archive.namelist()[0])
    else:
        data = gzip.decompress(data)
    target = folder / name
    target.write_bytes(data)
    return target


def _histogram(counts: list[int], top: int) -> dict[str, int]:
    """How many items have 1, 2, ... ``top`` (``top``: ``top`` or more)."""
    found = Counter(min(c, top) for c in counts)
    return {str(k): found[k] for k in sorted(found)}


def _sample(boxes: list[list[float]]) -> list[list[float]]:
    picks = np.linspace(0, len(boxes) - 1, min(BOX_SAMPLE, len(boxes))).round().astype(int)
    return [[round(v / FRAME, 4) for v in boxes[i]] for i in picks]


def _chexpert(file: Path) -> dict[str, Any]:
    table = read_chexpert(file)
    states = {"1": 1.0, "0": 0.0, "-1": -1.0}
    labels = {}
    for k, name in enumerate(table.classes):
        column = table.labels[:, k]
        labels[name] = {s: int((column == v).sum()) for s, v in states.items()}
        labels[name]["blank"] = int(np.isnan(column).sum())
    per_patient = Counter(table.patients)
    return {
        "images": len(table),
        "patients": len(per_patient),
        "views": dict(sorted(Counter(table.views).items())),
        "images_per_patient": _histogram(list(per_patient.values()), 8),
        "labels": labels,
    }


def _vindr(file: Path) -> dict[str, Any]:
    table = read_vindr_kaggle(file, "majority")
    findings = [c for c in table.classes if c != "No finding"]
    sets = Counter(
        "|".join(c for c, v in zip(table.classes, row, strict=True) if v and c in findings)
        for row in table.labels
    )
    return {"images": len(table), "label_sets": dict(sorted(sets.items()))}


def _rsna(labels: Path, headers: Path) -> dict[str, Any]:
    annotations = read_rsna_boxes(labels)
    boxes = [
        box.tolist() for image in annotations.images for box in image.boxes.get("Lung Opacity", [])
    ]
    per_positive = [len(i.boxes["Lung Opacity"]) for i in annotations.images if i.boxes]
    with open(headers, newline="") as handle:
        views = Counter(row["ViewPosition"] for row in csv.DictReader(handle))
    return {
        "images": len(annotations.images),
        "positives": len(per_positive),
        "views": dict(sorted(views.items())),
        "boxes_per_positive": _histogram(per_positive, 4),
        "boxes": _sample(boxes),
    }


def _component_boxes(runs: list[tuple[int, int]], side: int) -> list[list[float]]:
    """The boxes (x, y, w, h) of the connected components (8-connected) of one image's united
    runs (column-major, absolute), labelled on the crop the runs cover rather than the whole
    frame, in order of position."""
    pixels = np.concatenate([np.arange(s, s + n) for s, n in runs])
    x, y = pixels // side, pixels % side
    crop = np.zeros((y.max() - y.min() + 1, x.max() - x.min() + 1), dtype=np.uint8)
    crop[y - y.min(), x - x.min()] = 1
    count, _, stats, _ = cv2.connectedComponentsWithStats(crop, connectivity=8)
    return sorted(  # by position: OpenCV's label order depends on its algorithm
        [float(stats[c, 0] + x.min()), float(stats[c, 1] + y.min()), *map(float, stats[c, 2:4])]
        for c in range(1, count)
    )


def _siim(file: Path) -> dict[str, Any]:
    rows: dict[str, list[tuple[str, list[tuple[int, int]]]]] = {}
    with open(file, newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle, skipinitialspace=True), start=2):
            runs = parse_runs(row["EncodedPixels"], f"{file}, line {number}")
            rows.setdefault(row["ImageId"], []).append((f"line {number}", runs))
    multiple = [(w, r) for entries in rows.values() for w, r in entries if len(r) > 1]
    convention = rle_convention(multiple, str(file))
    boxes, per_positive = [], []
    for entries in rows.values():
        runs = [run for _, r in entries for run in absolute_runs(r, convention)]
        if runs:
            found = _component_boxes(runs, int(FRAME))
            per_positive.append(len(found))
            boxes += found
    return {
        "images": len(rows),
        "positives": len(per_positive),
        "components_per_positive": _histogram(per_positive, 4),
        "boxes": _sample(boxes),
    }


def tabulate_layouts(packed: Path, folder: Path) -> dict[str, Any]:
    """The statistics of each layout, from the wheel's data folder ``packed`` (unpacked into
    ``folder``)."""
    files = {
        key: _unpacked(packed / name, name.split(".")[0] + ".csv", folder)
        for key, name in FILES.items()
    }
    sources = {
        key: f"torchxrayvision data/{name}, SHA-256 of the CSV "
        + hashlib.sha256(files[key].read_bytes()).hexdigest()
        for key, name in FILES.items()
    }
    return {
        "sources": sources,
        "chexpert": _chexpert(files["chexpert"]),
        "vindr": _vindr(files["vindr"]),
        "rsna": _rsna(files["rsna"], files["rsna_headers"]),
        "siim": _siim(files["siim"]),
    }


def as_text(statistics: dict[str, Any]) -> str:
    return json.dumps(statistics, indent=1, sort_keys=False) + "\n"


if __name__ == "__main__":
    import tempfile

    packed = xrv_data()
    if packed is None:
        raise SystemExit("torchxrayvision is not installed: pip install --no-deps torchxrayvision")
    with tempfile.TemporaryDirectory() as folder:
        SHIPPED.write_text(as_text(tabulate_layouts(packed, Path(folder))))
    print(f"wrote {SHIPPED}")
