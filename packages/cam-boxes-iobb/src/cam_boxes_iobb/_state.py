"""``state_dict`` / ``load_state_dict`` for the streaming metrics: their counters and per-image
records as plain numpy arrays, so a metric can be saved with ``np.savez`` (no pickle) and
restored into a fresh metric of the same settings, as a PyTorch module's state is."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

RECORDS_PREFIX = "records."


class ArrayState:
    """Mixin: ``_COUNTERS`` names the array (or int) attributes; ``_records`` holds per-image
    arrays when ``keep_records`` is on."""

    _COUNTERS: tuple[str, ...] = ()
    keep_records: bool
    _records: dict[str, list[np.ndarray]]

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
