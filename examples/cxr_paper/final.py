"""``final.pt``: a trained classifier and its PCM, as ``predict.py`` and ``ablate_pcm.py`` read it.

Kept apart from training and evaluation so that predicting imports neither.
"""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import MISSING, dataclass
from pathlib import Path
from typing import Any

import torch

from cxr14_data import IMAGENET_MEAN, IMAGENET_STD
from multires_backbone import CAMClassifier, create_model
from pcm_seam import PCM

from .checkpoint import load, save_atomic
from .errors import RunError

FINAL_FILE = "final.pt"


@dataclass
class FinalCheckpoint:
    """A trained model as ``final.pt`` holds it: enough to rebuild classifier and PCM anywhere
    (``predict.py``, ``ablate_pcm.py``); loads with ``weights_only=True``."""

    model_name: str
    classes: list[str]
    image_size: int
    normalization: tuple[tuple[float, ...], tuple[float, ...]]
    gamma: float
    model: dict[str, Any]
    pcm: dict[str, Any]
    pcm_in_channels: int
    pcm_image_channels: int = 0

    def build(self, device: torch.device | str = "cpu") -> tuple[CAMClassifier, PCM]:
        """The classifier and the PCM with their weights, in eval mode on ``device``."""
        model = create_model(self.model_name, num_classes=len(self.classes), gamma=self.gamma)
        model.load_state_dict(self.model)
        pcm = PCM(self.pcm_in_channels, image_channels=self.pcm_image_channels)
        pcm.load_state_dict(self.pcm)
        return model.to(device).eval(), pcm.to(device).eval()


def save_final(final: FinalCheckpoint, folder: Path) -> None:
    save_atomic(dataclasses.asdict(final), folder / FINAL_FILE)


def load_final(path: Path, device: torch.device | str = "cpu") -> FinalCheckpoint:
    """Read a ``final.pt``; a missing, unreadable or foreign file stops with one line."""
    if not path.is_file():
        raise RunError(f"--checkpoint {path}: no such file.")
    try:
        state = load(path, device, weights_only=True)
    except (RuntimeError, OSError, EOFError, pickle.UnpicklingError) as error:
        raise RunError(f"--checkpoint {path}: not a readable checkpoint ({error}).") from error
    fields = {f.name for f in dataclasses.fields(FinalCheckpoint)}
    required = {f.name for f in dataclasses.fields(FinalCheckpoint) if f.default is MISSING}
    missing = required - set(state) - {"normalization", "gamma"}
    if missing:
        raise RunError(
            f"{path} is not a final.pt of reproduce_paper.py (missing {sorted(missing)})."
        )
    state = {"normalization": (IMAGENET_MEAN, IMAGENET_STD), "gamma": 10.0, **state}
    return FinalCheckpoint(**{k: v for k, v in state.items() if k in fields})
