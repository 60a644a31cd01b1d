"""A finished model's results, saved beside its checkpoints so that ``--resume`` keeps them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checkpoint import load, save_atomic
from .evaluation import TestResult

RESULT_FILE = "result.pt"


@dataclass
class ModelResult:
    """One finished model: its ``metrics.json`` entry, loss history and test outputs."""

    metrics: dict[str, Any]
    history: dict[str, list]
    test: TestResult


def save_result(result: ModelResult, folder: Path) -> None:
    save_atomic({"result": result}, folder / RESULT_FILE)


def load_result(folder: Path) -> ModelResult | None:
    """The saved result of the model in ``folder``, or ``None`` if it has not finished."""
    path = folder / RESULT_FILE
    return load(path)["result"] if path.is_file() else None
