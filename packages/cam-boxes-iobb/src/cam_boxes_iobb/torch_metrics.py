"""``torchmetrics.Metric`` versions of the localization metrics (the optional ``[torchmetrics]``
extra): log them from Lightning, and under DDP their states sync as sums (``add_state`` with
``dist_reduce_fx="sum"``), with no object gathering.

Each wraps the numpy metric of the same protocol: ``update`` takes a batch (one entry per image)
and adds the numpy metric's integer counters to the states; ``compute`` restores the counters into
a numpy metric (:meth:`~cam_boxes_iobb.LocalizationMetric.load_state_dict`) and returns its
numbers as a flat ``{name: scalar tensor}`` dict, ready for ``self.log_dict``. Per-image records
(and so the bootstrap) stay with the numpy metrics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torchmetrics import Metric

from cam_boxes_iobb.localization import PAPER_THRESHOLDS, LocalizationMetric, Mode
from cam_boxes_iobb.threshold_free import MaxBoxAcc, PointingGame

Boxes = Mapping[str, Any]


def _check_batch(name: str, batch: Sequence[Any], length: int) -> None:
    if len(batch) != length:
        raise ValueError(f"`{name}` has {len(batch)} images; the batch has {length}.")


class _CountingMetric(Metric):
    """States are the numpy metric's counters, summed across processes."""

    full_state_update = False
    higher_is_better = True

    def _add_counters(self, core: Any) -> None:
        for name, value in core.state_dict().items():
            self.add_state(name, default=torch.as_tensor(value), dist_reduce_fx="sum")

    def _accumulate(self, core: Any) -> None:
        for name, value in core.state_dict().items():
            setattr(self, name, getattr(self, name) + torch.as_tensor(value, device=self.device))

    def _restored(self, core: Any) -> Any:
        core.load_state_dict({name: getattr(self, name).cpu().numpy() for name in core._COUNTERS})
        return core


class _MapMetric(_CountingMetric):
    """Metrics that score class maps: ``update(heatmaps, gt_boxes, sizes)``."""

    def update(
        self,
        heatmaps: Sequence[Mapping[str, Any]],
        gt_boxes: Sequence[Boxes],
        sizes: Sequence[tuple[int, int] | None] | None = None,
    ) -> None:
        """One batch: per image, class maps, GT boxes (``xywh`` in the pixels of its size) and
        the original image's ``(height, width)`` the maps are resized to (none: the maps')."""
        _check_batch("gt_boxes", gt_boxes, len(heatmaps))
        sizes = [None] * len(heatmaps) if sizes is None else sizes
        _check_batch("sizes", sizes, len(heatmaps))
        core = self._core()
        for maps, gt, size in zip(heatmaps, gt_boxes, sizes, strict=True):
            core.update(maps, gt, size=size)
        self._accumulate(core)


class LocalizationAccuracy(_CountingMetric):
    """Accuracy at overlap > ``T`` and false positives per image (ChestX-ray8's protocol), as
    :class:`~cam_boxes_iobb.LocalizationMetric` computes them.

    ``compute()`` returns ``{"accuracy/<T>/<class>": ..., "afp/<T>/<class>": ...}`` with a
    ``"mean"`` class.

    Example:
        >>> metric = LocalizationAccuracy(["Nodule", "Mass"], thresholds=(0.1,))
        >>> metric.update([{"Nodule": [[10, 10, 10, 10]]}], [{"Nodule": [[12, 12, 20, 20]]}])
        >>> float(metric.compute()["accuracy/0.1/Nodule"])
        1.0
    """

    def __init__(
        self,
        classes: Sequence[str],
        thresholds: Sequence[float] = PAPER_THRESHOLDS,
        mode: Mode = "iobb",
        afp_denominator: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.settings = dict(
            classes=tuple(classes),
            thresholds=tuple(thresholds),
            mode=mode,
            afp_denominator=afp_denominator,
        )
        self._add_counters(self._core())

    def _core(self) -> LocalizationMetric:
        return LocalizationMetric(**self.settings)

    def update(self, pred_boxes: Sequence[Boxes], gt_boxes: Sequence[Boxes]) -> None:
        """One batch: per image, ``{class: (N, 4) xywh}`` predictions and ground truth."""
        _check_batch("gt_boxes", gt_boxes, len(pred_boxes))
        core = self._core()
        for pred, gt in zip(pred_boxes, gt_boxes, strict=True):
            core.update(pred, gt)
        self._accumulate(core)

    def compute(self) -> dict[str, torch.Tensor]:
        result = self._restored(self._core()).compute()
        return {
            f"{kind}/{threshold}/{name}": torch.tensor(stats[threshold][kind])
            for name, stats in result.items()
            for threshold in self.settings["thresholds"]
            for kind in ("accuracy", "afp")
        }


class MaxBoxAccuracy(_MapMetric):
    """Box accuracy at the best heatmap threshold (Choe et al.), as
    :class:`~cam_boxes_iobb.MaxBoxAcc` computes it; ``version=2`` is MaxBoxAccV2.

    ``compute()`` returns ``{"max_box_acc/<class>": ...}`` with a ``"mean"`` class.

    Example:
        >>> import numpy as np
        >>> metric = MaxBoxAccuracy(["Nodule"])
        >>> heatmap = np.zeros((32, 32)); heatmap[8:16, 8:16] = 1
        >>> metric.update([{"Nodule": heatmap}], [{"Nodule": [[8, 8, 8, 8]]}])
        >>> float(metric.compute()["max_box_acc/Nodule"])
        1.0
    """

    def __init__(
        self,
        classes: Sequence[str],
        version: int = 2,
        thresholds: Sequence[float] | None = None,
        normalization: str = "minmax",
        interpolation: str = "cubic",
        convention: str = "exact",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if version not in (1, 2):
            raise ValueError(f"`version` must be 1 or 2, got {version}.")
        self.version = version
        self.settings = dict(
            thresholds=thresholds,
            normalization=normalization,
            interpolation=interpolation,
            convention=convention,
        )
        self.classes = tuple(classes)
        self._add_counters(self._core())

    def _core(self) -> MaxBoxAcc:
        if self.version == 2:
            return MaxBoxAcc.v2(self.classes, **self.settings)
        return MaxBoxAcc(self.classes, **self.settings)

    def compute(self) -> dict[str, torch.Tensor]:
        result = self._restored(self._core()).compute()
        return {f"max_box_acc/{name}": torch.tensor(r["max_box_acc"]) for name, r in result.items()}


class PointingGameAccuracy(_MapMetric):
    """The pointing game (Zhang et al.), as :class:`~cam_boxes_iobb.PointingGame` computes it.

    ``compute()`` returns ``{"accuracy/<class>": ...}`` with a ``"mean"`` class.

    Example:
        >>> import numpy as np
        >>> metric = PointingGameAccuracy(["Nodule"], tolerance=0)
        >>> heatmap = np.zeros((32, 32)); heatmap[10, 10] = 1
        >>> metric.update([{"Nodule": heatmap}], [{"Nodule": [[8, 8, 8, 8]]}])
        >>> float(metric.compute()["accuracy/Nodule"])
        1.0
    """

    def __init__(
        self,
        classes: Sequence[str],
        tolerance: float = 15.0,
        interpolation: str = "linear",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.settings = dict(
            classes=tuple(classes), tolerance=tolerance, interpolation=interpolation
        )
        self._add_counters(self._core())

    def _core(self) -> PointingGame:
        return PointingGame(**self.settings)

    def compute(self) -> dict[str, torch.Tensor]:
        result = self._restored(self._core()).compute()
        return {f"accuracy/{name}": torch.tensor(r["accuracy"]) for name, r in result.items()}
