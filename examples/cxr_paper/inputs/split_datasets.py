"""The run's train, validation and test data sets: ChestX-ray14's (its lists, the No-Finding
draw) or another layout's (:mod:`cxr_paper.inputs.layout_splits`), items in one form."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from torchvision.transforms.v2 import Transform

from cxr14_data import ChestXray14
from cxr14_data.layouts import LayoutDataset
from cxr_paper.configuration.config import RunConfig
from cxr_paper.configuration.data_source import DataSource
from cxr_paper.configuration.task import Task
from cxr_paper.files.atomic import atomic_write
from cxr_paper.inputs.layout_splits import SPLITS_FILE, LayoutSplits, read_layout

SPLITS = ("train", "val", "test")


class RunDataset(LayoutDataset):
    """A layout's split that knows the run's task (its classes and box classes).

    Args:
        task: the task.
        *args: :class:`~cxr14_data.layouts.LayoutDataset`'s.
        **kwargs: :class:`~cxr14_data.layouts.LayoutDataset`'s.
    """

    def __init__(self, task: Task, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.task = task


def nih_datasets(
    config: RunConfig, root: Path, transforms: dict[str, Transform]
) -> dict[str, ChestXray14]:
    """ChestX-ray14's three splits: its test list, and its train-val list split by patient with
    ``--no-finding`` No-Finding images drawn in.

    Args:
        config: the run's settings.
        root: the set's folder.
        transforms: per split, its transform.

    Returns:
        The data sets by split.
    """
    common = dict(
        no_finding=config.no_finding,
        val_fraction=config.val_fraction,
        seed=config.data_seed,
        prepared_size=config.image_size,
        cache=config.cache or None,
        on_missing="skip" if config.skip_unreadable else "error",
        box_frame=tuple(config.box_frame),
        on_bad_box="skip" if config.skip_bad_boxes else "error",
    )
    return {split: ChestXray14(root, split, transforms[split], **common) for split in SPLITS}


def write_splits(layout: LayoutSplits, out: Path) -> Path:
    """``out/splits.csv``: every image's id and split, for reuse outside the run.

    Args:
        layout: the set as the run reads it.
        out: the run folder.

    Returns:
        The file.
    """
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["image_id", "split"])
    writer.writerows(zip(layout.table.image_ids, layout.splits, strict=True))
    return atomic_write(out / SPLITS_FILE, lambda p: p.write_text(text.getvalue()))


def layout_datasets(
    config: RunConfig,
    source: DataSource,
    root: Path,
    transforms: dict[str, Transform],
    write: bool,
) -> tuple[dict[str, RunDataset], LayoutSplits]:
    """Another layout's three splits, labels through ``--uncertainty`` and ``--blank``.

    Args:
        config: the run's settings.
        source: the run's ``--data``.
        root: the set's folder.
        transforms: per split, its transform.
        write: write ``splits.csv`` into ``--out`` (rank 0).

    Returns:
        The data sets by split, and the set as read (task, notes).
    """
    layout = read_layout(source, root, config)
    if write:
        write_splits(layout, Path(config.out))
    datasets = {
        split: RunDataset(
            layout.task,
            layout.part(split),
            layout.image_root,
            transforms[split],
            uncertain=config.uncertainty,
            blank=config.blank,
            boxes=layout.boxes if split != "train" else None,  # only those read: test (val)
            on_missing="skip" if config.skip_unreadable else "error",
        )
        for split in SPLITS
    }
    return datasets, layout
