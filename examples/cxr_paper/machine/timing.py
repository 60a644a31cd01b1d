"""One way to time a forward pass, for the report's Table 4 and the benchmarks.

``torch.utils.benchmark.Timer.blocked_autorange`` does the warm-up, runs enough calls per block to
swamp the timer overhead, synchronises CUDA, and sets the thread count explicitly, so CPU and GPU
numbers are comparable run to run.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType

import torch

CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@dataclass
class Timing:
    """Median and interquartile range of the per-call time, over ``runs`` measured blocks.

    Attributes:
        median_ms: Median milliseconds per call.
        iqr_ms: Interquartile range of the blocks' per-call milliseconds.
        runs: Measured blocks.
    """

    median_ms: float
    iqr_ms: float
    runs: int

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _benchmark_module() -> ModuleType:
    """``torch.utils.benchmark``, imported on first use and without the warning its import of
    ``cpp_extension`` logs on a machine with ``nvcc`` but no GPU ("No CUDA runtime is found"):
    nothing here compiles extensions, and users read the line as an error."""
    cpp_extension_log = logging.getLogger("torch.utils.cpp_extension")
    level = cpp_extension_log.level
    cpp_extension_log.setLevel(logging.ERROR)
    try:
        from torch.utils import benchmark
    finally:
        cpp_extension_log.setLevel(level)
    return benchmark


def time_call(fn: Callable[[], object], min_run_time: float = 1.0) -> Timing:
    """Time ``fn()`` with ``blocked_autorange`` (at least ``min_run_time`` seconds of calls).

    Args:
        fn: The call to time.
        min_run_time: Seconds to spend at least.

    Returns:
        Its timing.

    Examples:
        >>> time_call(lambda: sum(range(100)), min_run_time=0.01).median_ms < 10
        True
    """
    timer = _benchmark_module().Timer(
        stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads()
    )
    measurement = timer.blocked_autorange(min_run_time=min_run_time)
    return Timing(measurement.median * 1e3, measurement.iqr * 1e3, len(measurement.times))


def interleaved_ratio(
    numerator: Callable[[], object],
    denominator: Callable[[], object],
    rounds: int = 5,
    min_run_time: float = 0.5,
) -> float:
    """Median over ``rounds`` of time(numerator) / time(denominator), timed alternately, so a
    machine that speeds up or slows down during the run moves both.

    Args:
        numerator: One call.
        denominator: The other.
        rounds: Alternations.
        min_run_time: Seconds per timing.

    Returns:
        The median ratio.
    """
    ratios = []
    for _ in range(rounds):
        a = time_call(numerator, min_run_time).median_ms
        ratios.append(a / time_call(denominator, min_run_time).median_ms)
    return statistics.median(ratios)


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 natively (else bf16 is emulated and timing it misleads).

    Args:
        device: A device.

    Returns:
        ``torch.cuda.is_bf16_supported()`` on CUDA; on a CPU, whether it has AVX-512 BF16 or AMX.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text() if cpuinfo.is_file() else ""
    return any(flag in flags for flag in CPU_BF16_FLAGS)
