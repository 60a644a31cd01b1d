"""What a data set asks of a model: its class list (the model's output order), the classes it
localizes, and the frame its boxes are given in. It travels with the data: the loaders carry it,
every evaluation, record file, report, viewer and figure reads it from there, and it is stored in
``metrics.json``, each model's ``result.json`` and its saved ``config.json``; no other module of
this package names a data set's classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cxr14_data import BOX_CLASSES, CLASSES


class TaskError(ValueError):
    """A stored task that is not one (wrong types, box classes outside the class list)."""


@dataclass(frozen=True)
class Task:
    """A classification-and-localization task.

    Attributes:
        name: the data set's name, for reports.
        classes: every class, in the order of the model's outputs.
        box_classes: the classes with localization labels, in their order in ``classes``.
        box_frame: ``(height, width)`` of the frame the annotations' boxes are given in (NIH:
            1024 x 1024 whatever size the PNGs were saved at).

    Examples:
        >>> task = Task("toy", ("A", "B", "C"), ("C",), (512, 512))
        >>> task.index("C"), Task.from_dict(task.to_dict()) == task
        (2, True)
    """

    name: str
    classes: tuple[str, ...]
    box_classes: tuple[str, ...]
    box_frame: tuple[int, int]

    def __post_init__(self) -> None:
        if not self.classes or len(set(self.classes)) != len(self.classes):
            raise TaskError(f"task {self.name!r}: classes must be distinct, got {self.classes}.")
        if not set(self.box_classes) <= set(self.classes) or "mean" in self.classes:
            raise TaskError(
                f"task {self.name!r}: box classes {self.box_classes} must be among its classes "
                f"(and none may be called 'mean')."
            )

    def index(self, name: str) -> int:
        """The model output of class ``name``."""
        return self.classes.index(name)

    @property
    def box_indices(self) -> list[int]:
        return [self.classes.index(name) for name in self.box_classes]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "classes": list(self.classes),
            "box_classes": list(self.box_classes),
            "box_frame": list(self.box_frame),
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "task") -> Task:
        """The task of :meth:`to_dict`, validated (``where`` names the file in errors)."""
        if not isinstance(data, Mapping):
            raise TaskError(
                f"{where}: expected an object with name, classes, box_classes, box_frame."
            )
        try:
            classes, boxes, frame = data["classes"], data["box_classes"], data["box_frame"]
            if not all(
                isinstance(v, list) and all(isinstance(c, str) for c in v) for v in (classes, boxes)
            ):
                raise TypeError("classes and box_classes must be lists of names")
            if not (
                isinstance(frame, list)
                and len(frame) == 2
                and all(isinstance(v, int) and v > 0 for v in frame)
            ):
                raise TypeError("box_frame must be [height, width]")
            return cls(str(data["name"]), tuple(classes), tuple(boxes), (frame[0], frame[1]))
        except (KeyError, TypeError) as error:
            raise TaskError(f"{where}: not a task ({error}).") from None


def chestxray14(box_frame: tuple[int, int] = (1024, 1024)) -> Task:
    """NIH ChestX-ray14 (and the synthetic set in its layout): 14 findings, 8 with boxes.

    Args:
        box_frame: ``(H, W)`` of ``BBox_List_2017.csv``'s coordinates.

    Returns:
        The task.

    Examples:
        >>> task = chestxray14()
        >>> len(task.classes), task.box_classes[:2], task.box_frame
        (14, ('Atelectasis', 'Cardiomegaly'), (1024, 1024))
    """
    return Task("ChestX-ray14", CLASSES, BOX_CLASSES, (int(box_frame[0]), int(box_frame[1])))
