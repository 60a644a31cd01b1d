"""``torchmetrics.Metric`` versions of the localization metrics (the optional ``[torchmetrics]``
extra): log them from Lightning, and under DDP their states sync with no object gathering.

Each wraps the numpy metric of the same protocol and keeps the same state (one way,
:mod:`cam_boxes_iobb._state`): ``update`` takes a batch (one entry per image) and adds the numpy
metric's integer counters to states reduced by sum; with ``keep_records=True`` each image's
records are list states reduced by concatenation, so after a sync (or ``merge_state``) the
metric holds every image's records and :meth:`resampled` gives the patient or image bootstrap
(:mod:`cam_boxes_iobb.bootstrap`) over all processes. ``compute`` restores the state into a
numpy metric (:meth:`~cam_boxes_iobb.LocalizationMetric.load_state_dict`) and returns its
numbers as a flat ``{name: scalar tensor}`` dict, ready for ``self.log_dict``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torchmetrics import Metric

from cam_boxes_iobb._state import RECORDS_PREFIX
from cam_boxes_iobb.localization import PAPER_THRESHOLDS, LocalizationMetric, Mode
from cam_boxes_iobb.threshold_free import MaxBoxAcc, PointingGame

Boxes = Mapping[str, Any]


def _check_batch(name: str, batch: Sequence[Any], length: int) -> None:
    if len(batch) != length:
        raise ValueError(f"`{name}` has {len(batch)} images; the batch has {length}.")


#: Prefix of the list states that hold per-image records.
RECORD_STATE = "records_"


class _CountingMetric(Metric):
    """States are the numpy metric's counters, summed across processes, and (``keep_records``)
    its per-image records, concatenated across processes."""

    full_state_update = False
    higher_is_better = True

    def __init__(self, keep_records: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.keep_records = bool(keep_records)

    @abstractmethod
    def _core(self) -> Any:
        """A fresh numpy metric of this metric's settings (the protocol it wraps)."""

    def _add_counters(self, core: Any) -> None:
        for name in core._COUNTERS:
            value = torch.as_tensor(np.asarray(getattr(core, name)))
            self.add_state(name, default=value, dist_reduce_fx="sum")
        if self.keep_records:
            for key in core._records:
                self.add_state(RECORD_STATE + key, default=[], dist_reduce_fx="cat")

    def _accumulate(self, core: Any) -> None:
        for name in core._COUNTERS:
            value = torch.as_tensor(np.asarray(getattr(core, name)), device=self.device)
            setattr(self, name, getattr(self, name) + value)
        if self.keep_records:
            for key, values in core._records.items():
                if values:
                    stacked = torch.as_tensor(np.stack(values), device=self.device)
                    getattr(self, RECORD_STATE + key).append(stacked)

    def _restored(self, core: Any) -> Any:
        state = {name: getattr(self, name).cpu().numpy() for name in core._COUNTERS}
        if self.keep_records:
            for key in core._records:
                parts = getattr(self, RECORD_STATE + key)  # one tensor once synced, else a list
                parts = [parts] if isinstance(parts, torch.Tensor) else parts
                if len(parts):
                    state[RECORDS_PREFIX + key] = torch.cat(list(parts)).cpu().numpy()
        core.load_state_dict(state)
        return core

    def records(self) -> dict[str, np.ndarray]:
        """Every image's records, all processes synced as ``compute`` syncs them (rank order,
        each in update order; ``merge_state`` puts the incoming images first), as the numpy
        metric's ``records()`` gives them; needs ``keep_records=True``."""
        return self._synced_core().records()

    def resampled(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """The metric under per-image ``weights`` ``(R, N)`` (rows of
        :func:`cam_boxes_iobb.bootstrap.resample_weights`, images as :meth:`records` orders
        them), as the numpy metric's ``resampled``; needs ``keep_records=True``."""
        return self._synced_core().resampled(weights)

    def _synced_core(self) -> Any:
        self._require_records()
        with self.sync_context(
            dist_sync_fn=self.dist_sync_fn,
            should_sync=self._to_sync,
            should_unsync=self._should_unsync,
        ):
            return self._restored(self._core())

    def _require_records(self) -> None:
        if not self.keep_records:
            raise ValueError(
                f"{type(self).__name__} keeps no per-image records: create it with "
                "keep_records=True."
            )


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

    Examples:
        >>> metric = LocalizationAccuracy(["Nodule", "Mass"], thresholds=(0.1,))
        >>> metric.update([{"Nodule": [[10, 10, 10, 10]]}], [{"Nodule": [[12, 12, 20, 20]]}])
        >>> float(metric.compute()["accuracy/0.1/Nodule"])
        1.0

        With ``keep_records=True`` it also resamples, e.g. under bootstrap weights:

        >>> recorded = LocalizationAccuracy(["Nodule"], thresholds=(0.1,), keep_records=True)
        >>> hit, miss = {"Nodule": [[10, 10, 10, 10]]}, {"Nodule": [[60, 60, 5, 5]]}
        >>> recorded.update([hit, {}], [{"Nodule": [[12, 12, 20, 20]]}, miss])
        >>> accuracy = recorded.resampled(np.array([[1.0, 1.0], [2.0, 0.0]]))["accuracy"]
        >>> accuracy[:, -1, 0].tolist()  # per resample: the mean over classes at T = 0.1
        [0.5, 1.0]
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
        return LocalizationMetric(**self.settings, keep_records=self.keep_records)

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

    Examples:
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
            return MaxBoxAcc.v2(self.classes, keep_records=self.keep_records, **self.settings)
        return MaxBoxAcc(self.classes, keep_records=self.keep_records, **self.settings)

    def compute(self) -> dict[str, torch.Tensor]:
        result = self._restored(self._core()).compute()
        return {f"max_box_acc/{name}": torch.tensor(r["max_box_acc"]) for name, r in result.items()}


class PointingGameAccuracy(_MapMetric):
    """The pointing game (Zhang et al.), as :class:`~cam_boxes_iobb.PointingGame` computes it.

    ``compute()`` returns ``{"accuracy/<class>": ...}`` with a ``"mean"`` class.

    Examples:
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
        return PointingGame(**self.settings, keep_records=self.keep_records)

    def compute(self) -> dict[str, torch.Tensor]:
        result = self._restored(self._core()).compute()
        return {f"accuracy/{name}": torch.tensor(r["accuracy"]) for name, r in result.items()}
