"""Atomic checkpoints: write to a temporary file in the same folder, then rename over the target."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch


def save_atomic(state: dict[str, Any], path: Path) -> None:
    """``torch.save`` that leaves either the old file or the new one, never a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    torch.save(state, temporary)
    os.replace(temporary, path)


def load(
    path: Path, device: torch.device | str = "cpu", weights_only: bool = False
) -> dict[str, Any]:
    """Load a checkpoint. Training checkpoints hold RNG states (numpy objects), so they need
    ``weights_only=False``: load those only from runs you made. The shareable model
    (``pretrained/``) is safetensors and needs no pickle."""
    return torch.load(path, map_location=device, weights_only=weights_only)
