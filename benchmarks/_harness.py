"""Benchmark plumbing: wall-clock timing (warm-up, CUDA sync, median, quartiles) and results."""

from __future__ import annotations

import datetime
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch


@dataclass
class Timing:
    median_ms: float
    p25_ms: float
    p75_ms: float
    repeats: int

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def time_call(
    fn: Callable[[], object], device: torch.device, repeats: int, warmup: int = 3
) -> Timing:
    """Median and quartiles of ``repeats`` calls after ``warmup`` untimed ones."""
    if repeats < 1:
        raise ValueError(f"Expected `repeats` >= 1, got {repeats}.")
    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda *_: None)
    for _ in range(warmup):
        fn()
    synchronize(device)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        samples.append((time.perf_counter() - start) * 1000)
    quartiles = statistics.quantiles(samples, n=4) if len(samples) > 1 else [samples[0]] * 3
    return Timing(statistics.median(samples), quartiles[0], quartiles[2], repeats)


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def write_json(report: dict, path: Path | None) -> None:
    """Write a results file (creating its folder) when a path is given."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2))
