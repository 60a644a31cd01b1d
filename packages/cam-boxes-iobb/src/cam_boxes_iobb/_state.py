"""The state of the streaming metrics, kept one way: counters that add up and per-image records
that concatenate. ``merge`` (another process's or shard's images after this one's),
``state_dict`` / ``load_state_dict`` (plain numpy arrays, so a metric is saved with ``np.savez``,
no pickle, and restored into a fresh metric of the same settings, as a PyTorch module's state
is), and the ``torchmetrics`` versions (:mod:`cam_boxes_iobb.torch_metrics`) hold the same
counters and records as metric states reduced by sum and concatenation."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

RECORDS_PREFIX = "records."


class ArrayState:
    """Mixin: ``_COUNTERS`` names the array (or int) attributes; ``_records`` holds per-image
    arrays when ``keep_records`` is on; ``_SETTINGS`` names the attributes two metrics must share
    to be merged."""

    _COUNTERS: tuple[str, ...] = ()
    _SETTINGS: tuple[str, ...] = ()
    keep_records: bool
    _records: dict[str, list[np.ndarray]]

    def merge(self, other: ArrayState) -> None:
        """Add another metric's images (e.g. another process's shard) after this one's: the
        counters are summed and the records appended; a metric of another type or settings is
        refused, naming the settings that differ."""
        if type(other) is not type(self):
            raise ValueError(f"Cannot merge a {type(other).__name__} into a {type(self).__name__}.")
        differ = [
            name for name in self._SETTINGS if not _equal(getattr(self, name), getattr(other, name))
        ]
        if differ:
            raise ValueError(
                f"Cannot merge {type(self).__name__} metrics with different settings: {differ}."
            )
        for name in self._COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for key, values in other._records.items():
            self._records[key].extend(values)

    def state_dict(self) -> dict[str, np.ndarray]:
        """The counters and (with ``keep_records``) each image's records, as arrays."""
        state = {name: np.asarray(getattr(self, name)) for name in self._COUNTERS}
        for key, values in self._records.items():
            if self.keep_records and values:
                state[RECORDS_PREFIX + key] = np.stack(values)
        return state

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore what :meth:`state_dict` returned, into a metric of the same settings; a
        missing key or an array of another shape is refused, naming it."""
        for name in self._COUNTERS:
            if name not in state:
                raise KeyError(f"state_dict has no {name!r}; expected keys {list(self._COUNTERS)}.")
            current, value = np.asarray(getattr(self, name)), np.asarray(state[name])
            if value.shape != current.shape:
                raise ValueError(
                    f"state_dict[{name!r}] has shape {value.shape}; this metric's settings give "
                    f"{current.shape}."
                )
            setattr(self, name, value.astype(current.dtype) if current.ndim else int(value))
        for key in self._records:
            stacked = state.get(RECORDS_PREFIX + key)
            self._records[key] = [] if stacked is None else list(np.asarray(stacked))


def _equal(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b))
    return a == b
