"""Any saved model by its path: a ``save_pretrained`` folder or Hub id (PyTorch) or an exported
``.onnx`` file (onnxruntime); and the one-line stop when an optional dependency is missing."""

from __future__ import annotations

from pathlib import Path

import torch

from cxr_paper.deploy.onnx_model import OnnxLocalizer
from cxr_paper.deploy.pretrained import CXRLocalizer, load_pretrained
from cxr_paper.errors import RunError

INSTALL_DEPLOY = "pip install -c constraints.txt './examples[deploy]'"


def require(module: str, purpose: str) -> None:
    """Import ``module`` or stop with one line saying what needs it and how to install it.

    Args:
        module: The module to import.
        purpose: What needs it, for the message.

    Raises:
        RunError: The module is not installed.
    """
    try:
        __import__(module)
    except ImportError:
        raise RunError(f"{purpose} needs {module}: {INSTALL_DEPLOY}.") from None


def load_model(
    where: str | Path, device: torch.device | str = "cpu"
) -> CXRLocalizer | OnnxLocalizer:
    """A saved model by its path, PyTorch or ONNX alike (they predict through the same calls).

    Args:
        where: an exported ``.onnx`` file (run by onnxruntime on the CPU) or anything
            :func:`~cxr_paper.deploy.pretrained.load_pretrained` reads.
        device: where a PyTorch model goes (an ONNX one: ``"cpu"`` only).

    Returns:
        The model.

    Raises:
        RunError: one line: no such file, a device an ONNX model cannot use, onnxruntime
            missing, or what :func:`~cxr_paper.deploy.pretrained.load_pretrained` refuses.
    """
    if str(where).endswith(".onnx"):
        if not Path(where).is_file():
            raise RunError(f"--model {where}: no such file.")
        if torch.device(device).type != "cpu":
            raise RunError(f"--model {where}: an ONNX model runs on the CPU here (--device cpu).")
        require("onnxruntime", f"--model {where}")
        return OnnxLocalizer(where)
    return load_pretrained(where, device)
