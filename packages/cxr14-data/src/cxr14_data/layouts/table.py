"""A published data set's images as one table: ids, paths, patients, views, labels, splits.

Every layout reader (:mod:`cxr14_data.layouts`) returns a :class:`LabelTable`; splitting,
policies and loading read nothing else. Labels keep what the set says — ``1``, ``0``, ``-1``
(uncertain) and NaN (blank) — until :func:`~cxr14_data.layouts.policies.apply_policy` turns them
into targets and a mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

#: The view of a frontal image as tables store it (PA, AP) and of a lateral one.
FRONTAL_VIEWS = ("PA", "AP")
LATERAL = "LATERAL"


@dataclass(frozen=True)
class LabelTable:
    """One data set's images, as its layout lists them.

    Attributes:
        layout: the layout's name (``"chexpert"``, ``"rsna"``, ...).
        classes: the set's own class list, the columns of ``labels``.
        image_ids: one id per image, unique.
        paths: each image's path relative to the data set's root.
        patients: each image's patient, or ``None`` where the set gives none (splits and
            intervals are then per image).
        views: ``"PA"``, ``"AP"``, :data:`LATERAL`, another view the set names, or ``""``.
        labels: ``(N, K)`` float32: 1, 0, -1 (uncertain) or NaN (blank).
        splits: the set's own split of each image (``"train"``, ``"valid"``, ``"test"``), or
            ``None`` where it publishes none.
        source: where the layout is defined.
        notes: what the reader left out, and why (each a sentence for the report).
    """

    layout: str
    classes: tuple[str, ...]
    image_ids: list[str]
    paths: list[str]
    patients: list[str] | None
    views: list[str]
    labels: np.ndarray
    splits: list[str] | None
    source: str
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.image_ids)
        columns = {"paths": self.paths, "views": self.views}
        columns.update({"patients": self.patients} if self.patients is not None else {})
        columns.update({"splits": self.splits} if self.splits is not None else {})
        wrong = {name: len(v) for name, v in columns.items() if len(v) != n}
        if wrong:
            raise ValueError(f"{self.layout}: {n} image ids but {wrong}.")
        if self.labels.shape != (n, len(self.classes)):
            raise ValueError(
                f"{self.layout}: labels of shape {self.labels.shape}, expected "
                f"({n}, {len(self.classes)})."
            )
        if len(set(self.image_ids)) != n:
            raise ValueError(f"{self.layout}: image ids repeat.")

    def __len__(self) -> int:
        return len(self.image_ids)

    @property
    def groups(self) -> list[str]:
        """What splits and bootstrap resamples draw: patients, or images where there are none."""
        return self.patients if self.patients is not None else self.image_ids

    def select(self, keep: Sequence[bool] | np.ndarray) -> LabelTable:
        """The rows where ``keep`` is true.

        Examples:
            >>> table = LabelTable("toy", ("A",), ["a", "b"], ["a.png", "b.png"], None,
            ...                    ["PA", "LATERAL"], np.array([[1.0], [0.0]]), None, "")
            >>> table.select([False, True]).image_ids, len(table.frontal())
            (['b'], 1)
        """
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != (len(self),):
            raise ValueError(f"keep has shape {keep.shape}, expected ({len(self)},).")

        def take(values: list[str] | None) -> list[str] | None:
            return None if values is None else [v for v, k in zip(values, keep, strict=True) if k]

        return replace(
            self,
            image_ids=take(self.image_ids),
            paths=take(self.paths),
            patients=take(self.patients),
            views=take(self.views),
            labels=self.labels[keep],
            splits=take(self.splits),
        )

    def frontal(self) -> LabelTable:
        """The frontal images (PA and AP)."""
        return self.select([v in FRONTAL_VIEWS for v in self.views])
