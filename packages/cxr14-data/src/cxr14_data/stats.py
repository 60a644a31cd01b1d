"""Counts per class and split, patients and boxes of a data-set folder (real or synthetic)."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from cxr14_data.labels import CLASSES
from cxr14_data.metadata import (
    BBOX_LIST_NAMES,
    TEST_LIST,
    TRAIN_VAL_LIST,
    MetadataError,
    locate,
    read_bbox_list,
    read_data_entry,
    read_split_list,
)
from cxr14_data.splits import select_train_val


def dataset_stats(
    root: str | os.PathLike, no_finding: int | None = 5000, val_fraction: float = 0.2, seed: int = 0
) -> dict:
    """``{"images", "patients", "boxes", "box_images", "splits": {split: {...}}}`` from metadata.

    Each split entry has ``images``, ``patients``, ``no_finding`` and ``classes`` (name ->
    images with that finding); ``train`` and ``val`` follow :func:`select_train_val`.
    """
    root = Path(root)
    records = read_data_entry(root)
    by_name = {r.image_index: r for r in records}
    test = [by_name[n] for n in read_split_list(root / TEST_LIST) if n in by_name]
    train_val = [by_name[n] for n in read_split_list(root / TRAIN_VAL_LIST) if n in by_name]
    train, val = select_train_val(train_val, no_finding, val_fraction, seed)
    try:
        boxes = read_bbox_list(locate(root, BBOX_LIST_NAMES))
    except MetadataError:
        boxes = []

    def summary(subset: list) -> dict:
        counts = Counter(label for r in subset for label in r.labels)
        return {
            "images": len(subset),
            "patients": len({r.patient_id for r in subset}),
            "no_finding": sum(1 for r in subset if not r.labels),
            "classes": {name: counts.get(name, 0) for name in CLASSES},
        }

    return {
        "images": len(records),
        "patients": len({r.patient_id for r in records}),
        "boxes": len(boxes),
        "box_images": len({b.image_index for b in boxes}),
        "box_classes": dict(Counter(b.label for b in boxes)),
        "splits": {
            "all": summary(records),
            "train": summary(train),
            "val": summary(val),
            "test": summary(test),
        },
    }


def format_stats(stats: dict) -> str:
    """A plain-text table of :func:`dataset_stats`."""
    splits = stats["splits"]
    lines = [
        f"images {stats['images']}, patients {stats['patients']}, "
        f"boxes {stats['boxes']} on {stats['box_images']} images",
        f"{'':<20}" + "".join(f"{s:>9}" for s in splits),
    ]
    for key in ("images", "patients", "no_finding"):
        lines.append(f"{key:<20}" + "".join(f"{splits[s][key]:>9}" for s in splits))
    for name in CLASSES:
        lines.append(f"{name:<20}" + "".join(f"{splits[s]['classes'][name]:>9}" for s in splits))
    return "\n".join(lines)
