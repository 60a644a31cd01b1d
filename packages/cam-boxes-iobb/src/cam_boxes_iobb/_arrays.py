"""Turn numpy arrays, torch tensors or nested lists into numpy, without importing torch."""

from __future__ import annotations

from typing import Any

import numpy as np


def as_numpy(value: Any, name: str, dtype: type = np.float64) -> np.ndarray:
    """``value`` as a numpy array of ``dtype``; torch tensors are detached and moved to the CPU."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":
            value = value.float()
        value = value.numpy()
    try:
        return np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"Expected `{name}` to be an array or tensor of numbers, got {type(value).__name__}."
        ) from error


def check_finite(array: np.ndarray, name: str) -> None:
    if not np.isfinite(array).all():
        bad = int(np.size(array) - np.isfinite(array).sum())
        raise ValueError(f"Expected finite values in `{name}`, got {bad} NaN or inf entries.")
