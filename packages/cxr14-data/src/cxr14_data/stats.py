"""Counts per class and split, patients, boxes and PNG sizes of a data-set folder."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from cxr14_data.boxes import NIH_BOX_FRAME, box_in_frame, check_frame
from cxr14_data.images import find_images
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
from cxr14_data.verify import png_size, unreadable_images

#: PNG headers read for the size summary when the images are not all verified.
SIZE_SAMPLE = 200


def dataset_stats(
    root: str | os.PathLike,
    no_finding: int | None = 5000,
    val_fraction: float = 0.2,
    seed: int = 0,
    box_frame: tuple[int, int] = NIH_BOX_FRAME,
    verify: bool = False,
    workers: int | None = None,
    progress: bool = False,
) -> dict:
    """Metadata counts, the PNG sizes found and the box frame used.

    Returns ``{"images", "patients", "boxes", "box_images", "box_classes", "box_frame",
    "boxes_outside_frame", "png_sizes", "png_sizes_checked", "missing_images", "splits"}`` and,
    with ``verify``, ``"unreadable"`` (``{name: error}`` after decoding every listed image).
    Each split entry has ``images``, ``patients``, ``no_finding`` and ``classes`` (name ->
    images with that finding); ``train`` and ``val`` follow :func:`select_train_val`. PNG sizes
    come from the headers of up to :data:`SIZE_SAMPLE` images (all of them with ``verify``).
    """
    root = Path(root)
    box_frame = check_frame(box_frame)
    records = read_data_entry(root)
    by_name = {r.image_index: r for r in records}
    test = [by_name[n] for n in read_split_list(root / TEST_LIST) if n in by_name]
    train_val = [by_name[n] for n in read_split_list(root / TRAIN_VAL_LIST) if n in by_name]
    train, val = select_train_val(train_val, no_finding, val_fraction, seed)
    try:
        boxes = read_bbox_list(locate(root, BBOX_LIST_NAMES))
    except MetadataError:
        boxes = []
    try:
        paths = find_images(root)
    except FileNotFoundError:
        paths = {}
    listed = [paths[r.image_index] for r in records if r.image_index in paths]
    sampled = listed if verify else listed[:: max(1, len(listed) // SIZE_SAMPLE)][:SIZE_SAMPLE]
    sizes = Counter(png_size(p) for p in sampled)

    def summary(subset: list) -> dict:
        counts = Counter(label for r in subset for label in r.labels)
        return {
            "images": len(subset),
            "patients": len({r.patient_id for r in subset}),
            "no_finding": sum(1 for r in subset if not r.labels),
            "classes": {name: counts.get(name, 0) for name in CLASSES},
        }

    result = {
        "images": len(records),
        "patients": len({r.patient_id for r in records}),
        "boxes": len(boxes),
        "box_images": len({b.image_index for b in boxes}),
        "box_classes": dict(Counter(b.label for b in boxes)),
        "box_frame": list(box_frame),
        "boxes_outside_frame": [b.where for b in boxes if not box_in_frame(b.xywh, box_frame)],
        "png_sizes": {
            ("unreadable" if s is None else f"{s[0]}x{s[1]}"): n for s, n in sizes.most_common()
        },
        "png_sizes_checked": len(sampled),
        "missing_images": len(records) - len(listed),
        "splits": {
            "all": summary(records),
            "train": summary(train),
            "val": summary(val),
            "test": summary(test),
        },
    }
    if verify:
        result["unreadable"] = unreadable_images(listed, workers, progress)
    return result


def format_stats(stats: dict) -> str:
    """A plain-text table of :func:`dataset_stats`."""
    splits = stats["splits"]
    frame = stats["box_frame"]
    sizes = ", ".join(f"{size} ({count})" for size, count in stats["png_sizes"].items())
    lines = [
        f"images {stats['images']}, patients {stats['patients']}, "
        f"boxes {stats['boxes']} on {stats['box_images']} images",
        f"PNG sizes (of {stats['png_sizes_checked']} read): {sizes or 'no images found'}; "
        f"{stats['missing_images']} listed images not found",
        f"box frame {frame[0]} x {frame[1]} (boxes are scaled from it to each image as read); "
        f"{len(stats['boxes_outside_frame'])} boxes outside it"
        + (f", e.g. {stats['boxes_outside_frame'][0]}" if stats["boxes_outside_frame"] else ""),
    ]
    if "unreadable" in stats:
        lines.append(f"unreadable images: {len(stats['unreadable'])}")
        lines += [f"  {name}: {error}" for name, error in stats["unreadable"].items()]
    lines.append(f"{'':<20}" + "".join(f"{s:>9}" for s in splits))
    for key in ("images", "patients", "no_finding"):
        lines.append(f"{key:<20}" + "".join(f"{splits[s][key]:>9}" for s in splits))
    for name in CLASSES:
        lines.append(f"{name:<20}" + "".join(f"{splits[s]['classes'][name]:>9}" for s in splits))
    return "\n".join(lines)
