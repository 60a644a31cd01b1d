"""Which data set a run reads: ``--data LAYOUT:PATH`` names a published layout (a bare path, or
``synthetic``, is ChestX-ray14's as before), and what the run's task is on it.

A layout's task is the set's own class list (:mod:`cxr14_data.layouts`); its box classes are those
the set's annotations can hold (VinDr-CXR's findings, RSNA's lung opacity, SIIM-ACR's
pneumothorax; CheXpert and MIMIC-CXR have none: their maps are scored on another set's
annotations). Sets whose images differ in size have no one box frame: the pointing game's
tolerance is then in pixels of :data:`NOMINAL_FRAME`.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from cxr14_data.layouts import (
    CHEXLOCALIZE_CLASSES,
    LAYOUT_CLASSES,
    LAYOUTS,
    RSNA_CLASSES,
    SIIM_CLASSES,
    VINDR_CLASSES,
)
from cxr_paper.configuration.data_source import LAYOUT_NAMES, DataSource
from cxr_paper.configuration.task import Task, chestxray14

NOMINAL_FRAME = (1024, 1024)
#: The classes each layout's annotations can give boxes (or masks) for.
BOXED = {
    "vindr": frozenset(VINDR_CLASSES) - {"No finding"},
    "rsna": frozenset(RSNA_CLASSES),
    "siim": frozenset(SIIM_CLASSES),
    "chexlocalize": frozenset(CHEXLOCALIZE_CLASSES),
}
#: How each layout's images are split for a run (:mod:`cxr_paper.inputs.layout_splits`).
SPLIT_RULES = {
    "nih": "the official train/val and test lists, train/val split by patient",
    "chexpert": "train.csv for training (validation drawn from it by patient), valid.csv as the "
    "test split",
    "mimic": "the official train/validate/test split",
    "vindr-physionet": "the PhysioNet release's train/test split, validation drawn by image",
    "vindr": "train/validation/test drawn by image (the Kaggle release publishes no split)",
    "rsna": "train/validation/test drawn by image",
    "siim": "train/validation/test drawn by image",
    "chexlocalize": "its validation segmentations tune the thresholds, its test ones are scored",
}


def layout_task(layout: str, classes: tuple[str, ...]) -> Task:
    """The task of a layout whose files list ``classes``.

    Args:
        layout: one of :data:`cxr14_data.layouts.LAYOUTS`.
        classes: the set's class list, in its files' order.

    Returns:
        The task, box classes those :data:`BOXED` names, frame :data:`NOMINAL_FRAME`.

    Examples:
        >>> task = layout_task("rsna", ("Lung Opacity",))
        >>> task.name, task.box_classes, layout_task("chexpert", ("Edema",)).box_classes
        ('RSNA Pneumonia', ('Lung Opacity',), ())
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}.")
    boxed = tuple(c for c in classes if c in BOXED.get(layout, ()))
    return Task(LAYOUT_NAMES[layout], tuple(classes), boxed, NOMINAL_FRAME)


def default_classes(layout: str) -> tuple[str, ...]:
    """The class list a layout's files hold (VinDr-CXR's Kaggle release; its PhysioNet
    release's header is read by :func:`physionet_classes`).

    Args:
        layout: one of :data:`cxr14_data.layouts.LAYOUTS`.

    Returns:
        The classes.
    """
    return LAYOUT_CLASSES[layout]


def source_task(source: DataSource, box_frame: tuple[int, int], root: Path | None = None) -> Task:
    """The task of the data a run names, known before any image is read.

    Args:
        source: the run's ``--data``.
        box_frame: ChestX-ray14's box frame (``--box-frame``).
        root: the set's folder where it exists (VinDr's PhysioNet header names its classes).

    Returns:
        The task.
    """
    if source.layout == "nih":
        return chestxray14(box_frame)
    classes = default_classes(source.layout)
    if source.layout == "vindr" and root is not None:
        classes = physionet_classes(root) or classes
    return layout_task(source.layout, classes)


def physionet_labels(root: Path) -> Path | None:
    """VinDr-CXR's PhysioNet ``image_labels_train.csv`` under ``root``, or ``None`` (Kaggle's
    release, or no set yet).

    Args:
        root: the set's folder.

    Returns:
        The file, or ``None``.
    """
    for folder in (root / "annotations", root):
        if (folder / "image_labels_train.csv").is_file():
            return folder / "image_labels_train.csv"
    return None


def physionet_classes(root: Path) -> tuple[str, ...] | None:
    """The label columns of VinDr-CXR's PhysioNet release, from its header; ``None`` for
    Kaggle's.

    Args:
        root: the set's folder.

    Returns:
        The classes, in the file's order, or ``None``.
    """
    file = physionet_labels(root)
    if file is None:
        return None
    with open(file, newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), [])
    return tuple(c.strip() for c in header if c.strip() not in ("image_id", "rad_ID", "rad_id"))


def data_summary(source: DataSource, config: Any) -> str:
    """The set, its split rule and (where a set has them) its label policies, in one line (no
    local path: the model card is published).

    Args:
        source: the run's ``--data``.
        config: the run's settings (``uncertainty``, ``blank``, ``views``, ``readers``,
            ``mimic_labels``).

    Returns:
        The line.

    Examples:
        >>> from types import SimpleNamespace
        >>> settings = SimpleNamespace(uncertainty="u-ignore", blank="negative", views="frontal",
        ...                            readers="majority")
        >>> data_summary(DataSource.parse("rsna:/x"), settings)
        'RSNA Pneumonia, train/validation/test drawn by image; views: frontal'
    """
    rule = source.layout
    if rule == "vindr" and not source.synthetic and physionet_labels(Path(source.path)):
        rule = "vindr-physionet"
    parts = [f"{source.name}, {SPLIT_RULES[rule]}"]
    if source.layout == "mimic":
        parts.append(f"{config.mimic_labels} labeler")
    if source.layout in ("chexpert", "mimic"):
        parts.append(f"uncertain labels: {config.uncertainty}, blank labels: {config.blank}")
    if source.layout == "vindr":
        parts.append(f"readers folded by the {config.readers} rule")
    if source.layout != "nih":
        parts.append(f"views: {config.views}")
    return "; ".join(parts)


def data_set(config: Any) -> str:
    """The vocabulary set (:mod:`cxr14_data.layouts.vocabulary`) of a run's ``--data``.

    Args:
        config: The run's settings.

    Returns:
        ``"nih"``, ``"chexpert"``, ``"mimic"``, ``"vindr"``, ``"rsna"`` or ``"siim"``.
    """
    return DataSource.parse(config.data).layout


#: Sets whose images were drawn from ChestX-ray14 (Shih et al. 2019; the SIIM-ACR challenge).
DRAWN_FROM_NIH = ("rsna", "siim")


def seen_images_caution(mapping: Any, config: Any) -> list[str]:
    """A caution where a ChestX-ray14 model is scored on RSNA's or SIIM-ACR's images, which were
    drawn from ChestX-ray14: the model may have trained on some of them.

    Args:
        mapping: The :class:`~cxr_paper.scoring.class_mapping.ClassMapping`, or ``None``.
        config: The scoring's settings.

    Returns:
        The cautions (none or one).
    """
    layout = data_set(config)
    if mapping is None or mapping.model_set != "nih" or layout not in DRAWN_FROM_NIH:
        return []
    return [
        f"{LAYOUT_NAMES[layout]}'s images were drawn from ChestX-ray14: a model trained on "
        "ChestX-ray14 may have trained on some of them, which would raise these numbers."
    ]
