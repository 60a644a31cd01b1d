"""Data sets and loaders for a run: the synthetic default or any ChestX-ray14-layout folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from cxr14_data import ChestXray14, collate, make_synthetic, paper_transforms

from .config import RunConfig

REQUIRED_FILES = ("train_val_list.txt", "test_list.txt")


@dataclass
class Loaders:
    train: DataLoader
    val: DataLoader
    test: DataLoader
    source: str


def resolve_data_root(config: RunConfig) -> tuple[Path, str]:
    """The data folder and a description of it; generates the synthetic set when asked."""
    if config.data == "synthetic":
        root = (
            Path(config.out)
            / "data"
            / f"synthetic_{config.synthetic_size}px_{config.synthetic_patients}p"
        )
        if not (root / "Data_Entry_2017.csv").is_file():
            make_synthetic(
                root,
                n_patients=config.synthetic_patients,
                image_size=config.synthetic_size,
                seed=config.seed,
            )
        description = (
            f"synthetic NIH-format set ({config.synthetic_patients} patients, "
            f"{config.synthetic_size} px)"
        )
        return root, description
    root = Path(config.data)
    if not root.is_dir():
        raise SystemExit(
            f"--data {root}: no such folder (expected a ChestX-ray14 download or 'synthetic')."
        )
    missing = [name for name in REQUIRED_FILES if not (root / name).is_file()]
    if missing:
        raise SystemExit(
            f"--data {root} is not a ChestX-ray14 folder: missing {missing}. It needs "
            "Data_Entry_2017[_v2020].csv, BBox_List_2017.csv, train_val_list.txt, test_list.txt "
            "and images/."
        )
    return root, f"ChestX-ray14 at {root}"


def build_loaders(config: RunConfig) -> Loaders:
    root, source = resolve_data_root(config)
    common = dict(
        no_finding=config.no_finding,
        val_fraction=config.val_fraction,
        seed=config.seed,
        prepared_size=config.image_size,
    )
    train = ChestXray14(root, "train", paper_transforms(True, config.image_size), **common)
    val = ChestXray14(root, "val", paper_transforms(False, config.image_size), **common)
    test = ChestXray14(root, "test", paper_transforms(False, config.image_size), **common)
    generator = torch.Generator().manual_seed(config.seed)
    loader = dict(
        batch_size=config.batch_size,
        num_workers=config.workers,
        collate_fn=collate,
        persistent_workers=config.workers > 0,
    )
    return Loaders(
        train=DataLoader(
            train,
            shuffle=True,
            drop_last=len(train) > config.batch_size,
            generator=generator,
            **loader,
        ),
        val=DataLoader(val, shuffle=False, **loader),
        test=DataLoader(test, shuffle=False, **loader),
        source=source,
    )
