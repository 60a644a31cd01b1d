"""A data set seen through some of its classes: what scoring a model of another set's classes
reads (the classes it has a counterpart for), labels, label masks and boxes alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch.utils.data import Dataset

from cxr_paper.configuration.task import Task


def subset_task(task: Task, classes: Sequence[str]) -> Task:
    """``task`` restricted to ``classes`` (in the task's order).

    Args:
        task: The data set's task.
        classes: The classes kept; each must be one of the task's.

    Returns:
        The task of the kept classes, its box classes those kept.

    Raises:
        ValueError: A class the task does not have.

    Examples:
        >>> from cxr_paper.configuration.task import chestxray14
        >>> kept = subset_task(chestxray14(), ["Mass", "Hernia", "Effusion"])
        >>> kept.classes, kept.box_classes
        (('Effusion', 'Mass', 'Hernia'), ('Effusion', 'Mass'))
    """
    unknown = sorted(set(classes) - set(task.classes))
    if unknown:
        raise ValueError(f"{task.name} has no classes {unknown}.")
    kept = tuple(c for c in task.classes if c in classes)
    boxed = tuple(c for c in task.box_classes if c in classes)
    return Task(task.name, kept, boxed, task.box_frame)


class ClassSubset(Dataset):
    """``dataset``'s items with only ``task``'s classes: ``labels`` and ``label_mask`` columns
    selected, ``boxes`` of the other classes dropped; every other attribute is the data set's.

    Args:
        dataset: Items with ``labels`` ``(K,)``, optionally ``label_mask`` ``(K,)``, and
            ``boxes`` per class.
        full: The data set's task (its ``K`` classes, in the labels' order).
        task: The kept classes (:func:`subset_task`).
    """

    def __init__(self, dataset: Dataset, full: Task, task: Task) -> None:
        self.dataset, self.task = dataset, task
        self.columns = [full.index(c) for c in task.classes]

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: Any) -> dict[str, Any]:
        item = dict(self.dataset[index])
        if "labels" not in item:  # an unreadable image's marker
            return item
        item["labels"] = item["labels"][self.columns]
        if "label_mask" in item:
            item["label_mask"] = item["label_mask"][self.columns]
        item["boxes"] = {c: b for c, b in item["boxes"].items() if c in self.task.box_classes}
        return item

    def box_labels(self) -> list[tuple[str, str]]:
        """``(image, class)`` of the kept classes' boxes."""
        return [(i, c) for i, c in self.dataset.box_labels() if c in self.task.box_classes]

    @property
    def box_images(self) -> int:
        """Images with a box of a kept class."""
        return len({i for i, _ in self.box_labels()})

    def __getattr__(self, name: str) -> Any:
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)
