"""What a comparison of two runs needs to know about where each ran.

On a CPU, PyTorch picks its kernels by the processor's instruction sets (``ATen`` by
``torch.backends.cpu.get_cpu_capability()``, oneDNN by its own ISA detection) and splits work by
the thread count, so the same seed on two machines can round differently and then train to
different weights. ``metrics.json`` records all of it beside each model's numbers.
"""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from cxr_paper.machine import reproducible

PACKAGES = (
    "torch",
    "torchvision",
    "timm",
    "kornia",
    "numpy",
    "scikit-learn",
    "opencv-python-headless",
    "weighted-bce",
    "multires-backbone",
    "pcm-seam",
    "cam-boxes-iobb",
    "cxr14-data",
)
#: Instruction sets that decide which CPU kernels run.
KERNEL_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16")
#: Environment variables that change kernel choice, threads or determinism.
SETTINGS = (
    "ATEN_CPU_CAPABILITY",
    "ONEDNN_MAX_CPU_ISA",
    "MKL_CBWR",
    "MKL_ENABLE_INSTRUCTIONS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "CUBLAS_WORKSPACE_CONFIG",
)


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _commit() -> dict[str, Any]:
    folder = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "uncommitted_changes": None}
    return {"commit": commit, "uncommitted_changes": bool(dirty)}


def _cpu() -> dict[str, Any]:
    model, flags = platform.processor() or None, set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model is None:
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    except OSError:
        pass
    return {
        "model": model,
        "machine": platform.machine(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "flags": {flag: flag in flags for flag in KERNEL_FLAGS} if flags else None,
    }


def environment(device: torch.device) -> dict[str, Any]:
    """Commit, versions, device, CPU kernel choice, threads and determinism settings.

    Args:
        device: The device the run computes on.

    Returns:
        JSON-ready facts: ``code``, ``cpu``, ``determinism``, ``device``, ``python``,
        ``threads``, ``versions``.

    Examples:
        >>> env = environment(torch.device("cpu"))
        >>> sorted(env)
        ['code', 'cpu', 'determinism', 'device', 'python', 'threads', 'versions']
    """
    cuda = device.type == "cuda"
    return {
        "code": _commit(),
        "python": platform.python_version(),
        "versions": {name: _version(name) for name in PACKAGES},
        "device": {
            "type": device.type,
            "name": torch.cuda.get_device_name(device) if cuda else None,
            "cuda": torch.version.cuda if cuda else None,
        },
        "cpu": _cpu(),
        "threads": {
            "intra_op": torch.get_num_threads(),
            "inter_op": torch.get_num_interop_threads(),
        },
        "determinism": {
            "reproducible_mode": reproducible.active(),
            "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
            "cudnn_deterministic": torch.backends.cudnn.deterministic,
            "cudnn_benchmark": torch.backends.cudnn.benchmark,
            "onednn_enabled": torch.backends.mkldnn.enabled,
            "settings": {name: os.environ.get(name) for name in SETTINGS},
        },
    }
