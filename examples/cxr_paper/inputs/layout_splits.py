"""A published set's images made ready for a run: read by the set's reader
(:mod:`cxr14_data.layouts`), filtered by view, split — the set's own splits where it publishes
them, seeded splits by patient (by image where the set has no patients) elsewhere — and the test
images' boxes read by ``cam_boxes_iobb``'s reader of the set (SIIM-ACR's masks as one box per
connected component).

Published splits: CheXpert's ``train.csv`` trains and its ``valid.csv`` (200 studies, three
radiologists; the CheXlocalize validation set) is the test split, since the download holds no
test labels; MIMIC-CXR's ``train``/``validate``/``test``; VinDr-CXR's PhysioNet ``train``/
``test``. Validation, where a set publishes none, is drawn from the training images by patient
(``--val-fraction``), and a test split likewise (``--test-fraction``) where it publishes none
(VinDr's Kaggle release, RSNA, SIIM). A run writes the split of every image to ``splits.csv``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from cam_boxes_iobb.formats import read_annotations
from cxr14_data import read_dicom_header
from cxr14_data.layouts import (
    FRONTAL_VIEWS,
    LabelTable,
    read_chexlocalize,
    read_chexpert,
    read_mimic,
    read_rsna,
    read_siim,
    read_vindr_kaggle,
    read_vindr_physionet,
)
from cxr_paper.configuration.config import RunConfig
from cxr_paper.configuration.data_source import DataSource
from cxr_paper.configuration.task import Task
from cxr_paper.inputs.data_sets import layout_task, physionet_labels

#: The set's own split names, as the run's.
PUBLISHED = {
    "chexpert": {"train": "train", "valid": "test"},
    "mimic": {"train": "train", "validate": "val", "test": "test"},
    "vindr": {"train": "train", "test": "test"},
    "chexlocalize": {"val": "val", "test": "test"},
}
SPLITS_FILE = "splits.csv"


@dataclass
class LayoutSplits:
    """A set's images as a run reads them.

    Attributes:
        table: the images kept (after the view filter).
        splits: per image, ``"train"``, ``"val"`` or ``"test"``.
        boxes: per test image with annotations, per class, float ``(n, 4)`` ``xywh`` boxes in
            the stored image's pixels.
        image_root: the folder the table's paths are relative to.
        task: the set's classes and box classes.
        notes: what was left out or chosen, a sentence each, for the report.
    """

    table: LabelTable
    splits: list[str]
    boxes: dict[str, dict[str, np.ndarray]]
    image_root: Path
    task: Task
    notes: list[str] = field(default_factory=list)

    def part(self, split: str) -> LabelTable:
        """The images of one split."""
        return self.table.select([s == split for s in self.splits])


def assign_splits(
    groups: Sequence[str],
    published: Sequence[str] | None,
    names: dict[str, str],
    val_fraction: float,
    test_fraction: float,
    seed: int,
) -> list[str]:
    """Each image's split: the published one where ``names`` maps it, then test and validation
    groups drawn from the training groups where none were published.

    Args:
        groups: each image's patient (or its own id where the set has none).
        published: each image's split as the set names it, or ``None``.
        names: the set's split names to the run's (``"valid"`` -> ``"test"``).
        val_fraction: share of the training groups drawn for validation.
        test_fraction: share of the groups drawn for test.
        seed: the draw's seed (the run's data seed).

    Returns:
        ``"train"``, ``"val"`` or ``"test"`` per image; one group's images share a split.

    Examples:
        >>> splits = assign_splits(list("aabbccddeeff"), None, {}, 0.25, 0.2, seed=0)
        >>> [splits.count(s) for s in ("train", "val", "test")]
        [8, 2, 2]
        >>> assign_splits(["p1", "p2", "p3"], ["train", "valid", "train"], {"train": "train",
        ...               "valid": "test"}, 0.5, 0.2, seed=0)[1]
        'test'
    """
    rng = np.random.default_rng([seed, 1301])
    splits = [names.get(s, "train") for s in published] if published else ["train"] * len(groups)
    for part, share in (("test", test_fraction), ("val", val_fraction)):
        if part in splits:
            continue
        pool = list(dict.fromkeys(g for g, s in zip(groups, splits, strict=True) if s == "train"))
        count = max(1, round(share * len(pool))) if len(pool) >= 3 else 0
        chosen = {pool[i] for i in rng.permutation(len(pool))[:count]}
        splits = [
            part if s == "train" and g in chosen else s for g, s in zip(groups, splits, strict=True)
        ]
    return splits


def chexpert_folder(root: Path) -> Path:
    """The folder holding CheXpert's CSVs: ``root``, or its one ``CheXpert-v1.0*`` child.

    Args:
        root: what ``--data chexpert:`` named.

    Returns:
        The folder.
    """
    if any((root / n).is_file() for n in ("train.csv", "train.csv.gz", "valid.csv")):
        return root
    children = sorted(root.glob("CheXpert-v1.0*/train.csv"))
    return children[0].parent if children else root


def _read_table(source: DataSource, root: Path, config: RunConfig) -> tuple[LabelTable, Path]:
    if source.layout == "chexpert":
        folder = chexpert_folder(root)
        return read_chexpert(folder), folder.parent
    if source.layout == "mimic":
        return read_mimic(root, config.mimic_labels), root
    if source.layout == "vindr":
        if physionet_labels(root) is not None:
            labels = physionet_labels(root)
            return read_vindr_physionet(labels.parent, config.readers), root
        return read_vindr_kaggle(root, config.readers), root
    if source.layout == "rsna":
        return read_rsna(root), root
    if source.layout == "chexlocalize":
        return read_chexlocalize(root), root
    return read_siim(root), root


def _frame(table: LabelTable, root: Path) -> tuple[int, int]:
    """The size of the set's first image found (RSNA's and SIIM's are all one size)."""
    for path in table.paths[:1]:
        found = root / path
        if not found.is_file():
            found = next(root.rglob(Path(path).name), found)
        header = read_dicom_header(found)
        return int(header.Rows), int(header.Columns)
    return (1024, 1024)


def _component_boxes(mask: np.ndarray) -> np.ndarray:
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return stats[1:count, :4].astype(np.float64).reshape(-1, 4)


def read_boxes(
    source: DataSource, root: Path, table: LabelTable, wanted: set[str]
) -> dict[str, dict[str, np.ndarray]]:
    """The boxes of the images ``wanted`` (ids), by ``cam_boxes_iobb``'s reader of the set.

    Args:
        source: the run's ``--data``.
        root: the set's folder.
        table: its images.
        wanted: the image ids whose boxes are needed (the test split's; CheXlocalize's
            validation images' too, which tune its thresholds).

    Returns:
        Per image id with boxes, per class, float ``(n, 4)`` ``xywh`` in image pixels.
    """
    if source.layout == "vindr":
        physionet = physionet_labels(root)
        if physionet is not None:
            annotations = read_annotations(
                physionet.parent / "annotations_test.csv", "vindr", dicom_dir=root / "test"
            )
        else:
            annotations = read_annotations(root / "train.csv", "vindr", dicom_dir=root / "train")
    elif source.layout in ("rsna", "siim"):
        annotations = read_annotations(root, source.layout, frame=_frame(table, root))
    elif source.layout == "chexlocalize":
        files = [root / "CheXlocalize" / f"gt_segmentations_{s}.json" for s in ("val", "test")]
        found = [read_annotations(f, "chexlocalize") for f in files]
        annotations = found[0]
        for image in found[1].images:
            annotations.add(image)
    else:
        return {}
    boxes: dict[str, dict[str, np.ndarray]] = {}
    for image in annotations.images:
        if image.name not in wanted:
            continue
        found = {c: np.asarray(b, np.float64).reshape(-1, 4) for c, b in image.boxes.items()}
        found.update({c: _component_boxes(image.mask(c)) for c in image.masks})
        if any(len(b) for b in found.values()):
            boxes[image.name] = found
    return boxes


def read_layout(source: DataSource, root: Path, config: RunConfig) -> LayoutSplits:
    """The set ``source`` names, at ``root``, as the run reads it.

    Args:
        source: the run's ``--data``.
        root: the set's folder (the generated one for ``synthetic``).
        config: the run's settings (views, reader rule, fractions, data seed).

    Returns:
        The images, their splits, the test images' boxes and the task.
    """
    table, image_root = _read_table(source, root, config)
    notes = list(table.notes)
    if config.views == "frontal":
        keep = [v in FRONTAL_VIEWS or v == "" for v in table.views]
        if not all(keep):
            notes.append(
                f"{len(keep) - sum(keep)} images that are not frontal (PA or AP) left out "
                "(--views frontal)"
            )
        table = table.select(keep)
    splits = assign_splits(
        table.groups,
        table.splits,
        PUBLISHED.get(source.layout, {}),
        config.val_fraction,
        config.test_fraction,
        config.data_seed,
    )
    scored = ("val", "test") if source.layout == "chexlocalize" else ("test",)  # val tunes
    wanted = {i for i, s in zip(table.image_ids, splits, strict=True) if s in scored}
    boxes = read_boxes(source, root, table, wanted)
    task = layout_task(source.layout, table.classes)
    if table.patients is None:
        notes.append(f"{source.name} gives no patient ids: splits and intervals are per image")
    return LayoutSplits(table, splits, boxes, image_root, task, notes)
