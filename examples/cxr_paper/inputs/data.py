"""Data sets and loaders for a run: the synthetic default or any ChestX-ray14-layout folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch.utils.data import DataLoader

from cxr14_data import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    NIH_BOX_FRAME,
    ChestXray14,
    MetadataError,
    StaleStoreError,
    UnknownLabelError,
    collate,
    make_synthetic,
    paper_transforms,
)
from cxr_paper.configuration.config import RunConfig
from cxr_paper.configuration.task import Task, chestxray14
from cxr_paper.errors import RunError
from cxr_paper.files.manifest import record_output
from cxr_paper.inputs.sampling import EpochSampler, SeededItems, collate_skipping
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
    """

    train: DataLoader
    val: DataLoader
    test: DataLoader
    train_sampler: EpochSampler
    source: str

    def dataset(self, split: str) -> ChestXray14:
        """The data set behind a split's loader (its records, boxes and what was dropped)."""
        return getattr(self, split).dataset.dataset

    @property
    def task(self) -> Task:
        return loader_task(self.test)


def config_task(config: RunConfig) -> Task:
    """The task of the data a run's settings name, known before any file is read: a
    ChestX-ray14-layout folder (real or synthetic) with the run's ``--box-frame``.

    Args:
        config: The run's settings.

    Returns:
        The task.
    """
    return chestxray14(tuple(config.box_frame))


def loader_task(loader: DataLoader) -> Task:
    """The task of the data set behind ``loader`` (wrapped or not): a ChestX-ray14-layout folder
    (the only layout these loaders read) with its box frame.

    Args:
        loader: A loader of this module.

    Returns:
        The task.
    """
    dataset = getattr(loader.dataset, "dataset", loader.dataset)
    return chestxray14(getattr(dataset, "box_frame", None) or NIH_BOX_FRAME)


def synthetic_folder_name(config: RunConfig) -> str:
    """Every setting the generated set depends on, so that two of them never share a folder.

    Args:
        config: The run's settings.

    Returns:
        A folder name.
    """
    return (
        f"synthetic_{config.synthetic_size}px_{config.synthetic_patients}p_"
        f"{config.synthetic_difficulty}_seed{config.data_seed}"
    )


def ensure_synthetic(config: RunConfig, parent: Path) -> Path:
    """The run's synthetic set in ``parent`` (named by :func:`synthetic_folder_name`), generated
    if it is not there yet.

    Args:
        config: The run's settings.
        parent: Where the synthetic sets live.

    Returns:
        The set's folder.
    """
    root = parent / synthetic_folder_name(config)
    if not (root / "Data_Entry_2017.csv").is_file():
        make_synthetic(
            root,
            n_patients=config.synthetic_patients,
            image_size=config.synthetic_size,
            seed=config.data_seed,
            difficulty=config.synthetic_difficulty,
        )
    return root


def resolve_data_root(config: RunConfig) -> tuple[Path, str]:
    """The data folder and a description of it; generates the synthetic set when asked.

    Args:
        config: The run's settings.

    Returns:
        ``(folder, description)``.

    Raises:
        RunError: No such folder, or the paper preset without ``--data``.
    """
    if config.data == "synthetic":
        record_output(Path(config.out) / "data", folder=True)
        root = ensure_synthetic(config, Path(config.out) / "data")
        description = (
            f"synthetic NIH-format set ({config.synthetic_patients} patients, "
            f"{config.synthetic_size} px, difficulty '{config.synthetic_difficulty}', data seed "
            f"{config.data_seed})"
        )
        return root, description
    root = Path(config.data)
    if not root.is_dir():
        raise RunError(
            f"--data {root}: no such folder (expected a ChestX-ray14 download or 'synthetic')."
        )
    missing = [name for name in REQUIRED_FILES if not (root / name).is_file()]
    if missing:
        raise RunError(
            f"--data {root} is not a ChestX-ray14 folder: missing {missing}. It needs "
            "Data_Entry_2017[_v2020].csv, BBox_List_2017.csv, train_val_list.txt, test_list.txt "
            "and images/."
        )
    return root, f"ChestX-ray14 at {root}"


def build_loaders(
    config: RunConfig,
    ctx: DistContext,
    normalization: tuple[tuple[float, ...], tuple[float, ...]] = (IMAGENET_MEAN, IMAGENET_STD),
) -> Loaders:
    """Loaders for this rank: training keys are seeded and sharded (exact resume, DDP);
    validation and test are sharded without overlap and gathered at evaluation. Images are
    normalised with ``normalization`` (``(mean, std)`` of the model's weights).

    Args:
        config: The run's settings.
        ctx: The process's context.
        normalization: ``(mean, std)`` per channel.

    Returns:
        The loaders.
    """
    if ctx.is_main:
        root, source = resolve_data_root(config)
    barrier(ctx)  # rank 0 generates the synthetic set; the others wait, then find it
    if not ctx.is_main:
        root, source = resolve_data_root(config)
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
    mean, std = normalization
    augmentation = dict(
        scale=tuple(config.crop_scale),
        ratio=tuple(config.crop_ratio),
        degrees=config.rotation,
        mean=mean,
        std=std,
    )
    try:
        datasets = {
            split: ChestXray14(
                root,
                split,
                paper_transforms(split == "train", config.image_size, **augmentation),
                **common,
            )
            for split in ("train", "val", "test")
        }
    except (MetadataError, UnknownLabelError, FileNotFoundError, StaleStoreError) as error:
        raise RunError(f"{error}") from None
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
    return Loaders(loaders["train"], loaders["val"], loaders["test"], samplers["train"], source)
