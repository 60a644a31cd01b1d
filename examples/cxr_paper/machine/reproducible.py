"""``--reproducible``: the settings under which a CPU run's arithmetic stops depending on the
machine's instruction sets, measured by ``benchmarks/kernel_choice.py``.

On a CPU, three libraries pick code by the processor: ATen's vectorised kernels (by
``ATEN_CPU_CAPABILITY``), oneDNN's JIT convolutions (by ISA and cache sizes) and MKL's GEMM (by
ISA, unless its Conditional Numerical Reproducibility mode is set); the thread count splits sums.
The mode pins each: ATen at AVX2 (every x86-64 CPU since 2013 has it; measured: AVX2 and AVX-512
give the same weights, the scalar ``default`` does not), oneDNN off (convolutions through ATen's
im2col + MKL GEMM), ``MKL_CBWR=COMPATIBLE``, one intra-op thread, and PyTorch's deterministic
algorithms. The environment variables are read when the libraries start, so a process that lacks
them re-executes itself with them, once, before anything else runs.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from cxr_paper.errors import RunError

#: Read by ATen and MKL at start-up: set before the process imports torch.
ENVIRONMENT = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "COMPATIBLE", "OMP_NUM_THREADS": "1"}
THREADS = 1
_REEXECUTED = "CXR_PAPER_REPRODUCIBLE_REEXEC"


def missing_environment() -> dict[str, str]:
    """The settings of :data:`ENVIRONMENT` this process did not start with.

    Returns:
        ``{variable: value}`` still to be set.
    """
    return {k: v for k, v in ENVIRONMENT.items() if os.environ.get(k) != v}


def ensure_environment(argv: Sequence[str]) -> None:
    """Re-execute this script with :data:`ENVIRONMENT` if it started without it (the process
    keeps its id, so ``torchrun`` still sees it); refuse if a re-executed one still lacks it.

    Args:
        argv: The script's command line (``sys.argv``).

    Raises:
        RunError: The re-executed process still lacks the environment.
    """
    missing = missing_environment()
    if not missing:
        return
    if os.environ.get(_REEXECUTED):
        raise RunError(
            f"--reproducible: the environment {missing} did not take effect; set it yourself "
            "before starting Python."
        )
    os.environ.update(missing)
    os.environ[_REEXECUTED] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *argv])


def apply() -> dict[str, Any]:
    """Switch this process's PyTorch into the mode; return what was set (for ``metrics.json``).

    Returns:
        The settings, as :func:`settings` reports them.
    """
    torch.backends.mkldnn.enabled = False
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(THREADS)
    return settings()


def settings() -> dict[str, Any]:
    """The mode's settings as this process runs them.

    Returns:
        Threads, deterministic algorithms, oneDNN, the ATen CPU capability and the environment.
    """
    return {
        "environment": {k: os.environ.get(k) for k in ENVIRONMENT},
        "onednn_enabled": torch.backends.mkldnn.enabled,
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "intra_op_threads": torch.get_num_threads(),
        "aten_capability": torch.backends.cpu.get_cpu_capability(),
    }


def active() -> bool:
    """Whether this process runs in the mode (environment and PyTorch settings both).

    Returns:
        Whether the mode is on.
    """
    return (
        not missing_environment()
        and not torch.backends.mkldnn.enabled
        and torch.are_deterministic_algorithms_enabled()
        and torch.get_num_threads() == THREADS
    )


def fingerprint(run: Path) -> dict[str, str]:
    """Per model of a finished run: the SHA-256 (first 16 hex digits) of its saved weights, the
    classifier's and the PCM's, tensor by tensor in name order (dtype, shape and bytes).

    Args:
        run: A finished run folder.

    Returns:
        ``{model: 16 hex digits}`` (one digest over ``model.safetensors``, classifier and PCM).
    """
    from safetensors.numpy import load_file

    prints = {}
    for weights in sorted(Path(run).glob("*/pretrained/model.safetensors")):
        digest = hashlib.sha256()
        for name, array in sorted(load_file(weights).items()):
            digest.update(f"{name}:{array.dtype}:{array.shape}".encode())
            digest.update(array.tobytes())
        prints[weights.parent.parent.name] = digest.hexdigest()[:16]
    return prints
