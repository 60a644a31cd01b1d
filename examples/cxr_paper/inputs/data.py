"""Data sets and loaders for a run: the synthetic default, a ChestX-ray14 folder, or any
published layout (``--data LAYOUT:PATH``, :mod:`cxr_paper.inputs.data_sets`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from torch.utils.data import DataLoader, Dataset

from cxr14_data import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    NIH_BOX_FRAME,
    MetadataError,
    StaleStoreError,
    UnknownLabelError,
    collate,
    paper_transforms,
)
from cxr_paper.configuration.config import RunConfig
from cxr_paper.configuration.data_source import DataSource
from cxr_paper.configuration.task import Task, chestxray14
from cxr_paper.errors import RunError
from cxr_paper.files.manifest import record_output
from cxr_paper.inputs.class_subset import ClassSubset, subset_task
from cxr_paper.inputs.data_sets import data_summary, source_task
from cxr_paper.inputs.sampling import EpochSampler, SeededItems, collate_skipping
from cxr_paper.inputs.split_datasets import SPLITS, layout_datasets, nih_datasets
from cxr_paper.inputs.synthetic_sets import ensure_synthetic
from cxr_paper.machine.distributed import DistContext, barrier

REQUIRED_FILES = ("train_val_list.txt", "test_list.txt")


@dataclass
class Loaders:
    """The run's three loaders for this rank.

    Attributes:
        train: Training batches (augmented).
        val: Validation batches.
        test: Test batches.
        train_sampler: The training sampler; ``set_epoch`` before each epoch.
        source: A description of the data, for the report.
        task: The data's classes, box classes and box frame.
        notes: What was left out or chosen in reading the data, for the report.
    """

    train: DataLoader
    val: DataLoader
    test: DataLoader
    train_sampler: EpochSampler
    source: str
    task: Task
    notes: list[str] = field(default_factory=list)

    def dataset(self, split: str) -> Dataset:
        """The data set behind a split's loader (its images, boxes and what was dropped)."""
        return getattr(self, split).dataset.dataset


def config_task(config: RunConfig) -> Task:
    """The task of the data a run's settings name, known before any image is read.

    Args:
        config: The run's settings.

    Returns:
        The task.
    """
    source = DataSource.parse(config.data)
    root = None if source.synthetic else Path(source.path)
    return source_task(source, tuple(config.box_frame), root)


def loader_task(loader: DataLoader) -> Task:
    """The task of the data set behind ``loader`` (wrapped or not): its own, or a
    ChestX-ray14-layout folder's with its box frame.

    Args:
        loader: A loader of this module.

    Returns:
        The task.
    """
    dataset = getattr(loader.dataset, "dataset", loader.dataset)
    if isinstance(getattr(dataset, "task", None), Task):
        return dataset.task
    return chestxray14(getattr(dataset, "box_frame", None) or NIH_BOX_FRAME)


def resolve_data_root(config: RunConfig) -> tuple[Path, str]:
    """The data folder and a description of it; generates the synthetic set when asked.

    Args:
        config: The run's settings.

    Returns:
        ``(folder, description)``.

    Raises:
        RunError: No such folder, or a ChestX-ray14 folder without its lists.
    """
    source = DataSource.parse(config.data)
    if source.synthetic:
        record_output(Path(config.out) / "data", folder=True)
        root = ensure_synthetic(config, Path(config.out) / "data", source.layout)
        layout = "NIH-format" if source.layout == "nih" else f"{source.name}-format"
        description = (
            f"synthetic {layout} set ({config.synthetic_patients} patients, "
            f"{config.synthetic_size} px, difficulty '{config.synthetic_difficulty}', data seed "
            f"{config.data_seed})"
        )
        if source.layout != "nih":
            description += f"; {data_summary(source, config)}"
        return root, description
    root = Path(source.path)
    if not root.is_dir():
        raise RunError(
            f"--data {config.data}: no such folder (expected a {source.name} folder or "
            "'synthetic')."
        )
    if source.layout != "nih":
        return root, f"{data_summary(source, config)}; at {root}"
    missing = [name for name in REQUIRED_FILES if not (root / name).is_file()]
    if missing:
        raise RunError(
            f"--data {root} is not a ChestX-ray14 folder: missing {missing}. It needs "
            "Data_Entry_2017[_v2020].csv, BBox_List_2017.csv, train_val_list.txt, test_list.txt "
            "and images/ (another data set: --data LAYOUT:PATH)."
        )
    return root, f"ChestX-ray14 at {root}"


def build_loaders(
    config: RunConfig,
    ctx: DistContext,
    normalization: tuple[tuple[float, ...], tuple[float, ...]] = (IMAGENET_MEAN, IMAGENET_STD),
    classes: Sequence[str] | None = None,
) -> Loaders:
    """Loaders for this rank: training keys are seeded and sharded (exact resume, DDP);
    validation and test are sharded without overlap and gathered at evaluation. Images are
    normalised with ``normalization`` (``(mean, std)`` of the model's weights).

    Args:
        config: The run's settings.
        ctx: The process's context.
        normalization: ``(mean, std)`` per channel.
        classes: Only these of the data's classes (a model of another set's classes is
            scored on those it has a counterpart for); ``None``: all.

    Returns:
        The loaders.
    """
    if ctx.is_main:
        root, source = resolve_data_root(config)
    barrier(ctx)  # rank 0 generates the synthetic set; the others wait, then find it
    if not ctx.is_main:
        root, source = resolve_data_root(config)
    mean, std = normalization
    augmentation = dict(
        scale=tuple(config.crop_scale),
        ratio=tuple(config.crop_ratio),
        degrees=config.rotation,
        mean=mean,
        std=std,
    )
    transforms = {
        split: paper_transforms(split == "train", config.image_size, **augmentation)
        for split in SPLITS
    }
    source_of = DataSource.parse(config.data)
    notes: list[str] = []
    try:
        if source_of.layout == "nih":
            datasets = nih_datasets(config, root, transforms)
            task = chestxray14(tuple(config.box_frame))
        else:
            datasets, layout = layout_datasets(config, source_of, root, transforms, ctx.is_main)
            task, notes = layout.task, layout.notes
    except (MetadataError, UnknownLabelError, FileNotFoundError, StaleStoreError) as error:
        raise RunError(f"{error}") from None
    if classes is not None:
        full, task = task, subset_task(task, classes)
        datasets = {split: ClassSubset(d, full, task) for split, d in datasets.items()}
    loader_args = dict(
        batch_size=config.batch_size,
        num_workers=config.workers,
        collate_fn=collate_skipping(collate),
        pin_memory=ctx.device.type == "cuda",
        persistent_workers=config.workers > 0,
    )
    samplers = {
        split: EpochSampler(
            len(dataset),
            seed=config.seed,
            rank=ctx.rank,
            world_size=ctx.world_size,
            shuffle=split == "train",
            drop_tail=split == "train",
        )
        for split, dataset in datasets.items()
    }
    loaders = {
        split: DataLoader(
            SeededItems(dataset, config.seed, config.skip_unreadable),
            sampler=samplers[split],
            **loader_args,
        )
        for split, dataset in datasets.items()
    }
    return Loaders(
        loaders["train"], loaders["val"], loaders["test"], samplers["train"], source, task, notes
    )
