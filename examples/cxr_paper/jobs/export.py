"""Export a saved model (classifier + PCM) to one ONNX graph and check it against PyTorch.

The graph returns ``probabilities``, ``cams`` and ``refined`` (the PCM's maps) for ``images``
normalised as the model's config says; the config travels in the file, so
``predict.py --model model.onnx`` runs it (:mod:`cxr_paper.deploy.onnx_model`). After writing,
the graph is run in onnxruntime on random and constant inputs and every output compared with the
PyTorch model; a largest difference above ``--tolerance`` stops with exit 2.
Run it with ``examples/export_onnx.py``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from cxr_paper.configuration.ranges import COUNT, POSITIVE, check_flags
from cxr_paper.deploy.model_loading import require
from cxr_paper.deploy.onnx_model import OPSET, OUTPUTS, OnnxLocalizer, export_onnx
from cxr_paper.deploy.pretrained import load_pretrained
from cxr_paper.errors import RunError

#: Largest absolute difference accepted between onnxruntime and PyTorch (float32, any output).
TOLERANCE = 1e-4
#: Number flags and their ranges (:func:`cxr_paper.configuration.cli.check_flags`).
NUMBER_FLAGS = {
    "batch_size": (COUNT, True),
    "opset": ((7, 30, True, True), True),
    "tolerance": (POSITIVE, False),
}


def get_args_parser() -> argparse.ArgumentParser:
    """The command line of ``examples/export_onnx.py``.

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--model", required=True, help="a run's model folder, a save_pretrained folder or a Hub id"
    )
    parser.add_argument("--out", type=Path, required=True, help="the .onnx file to write")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="a fixed batch size (default: dynamic)"
    )
    parser.add_argument("--opset", type=int, default=OPSET, help="ONNX opset")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE, help="largest difference")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    return parser


def largest_differences(
    model: torch.nn.Module, exported: OnnxLocalizer, batch: int, seed: int = 0
) -> dict[str, float]:
    """Per output, the largest absolute difference between PyTorch and onnxruntime over a
    random batch and a constant one.

    Args:
        model: The PyTorch model.
        exported: The ONNX graph loaded in onnxruntime.
        batch: Images per batch.
        seed: The random batch's seed.

    Returns:
        Per output (``probs``, ``cams``, ``refined``), the largest absolute difference.
    """
    generator = torch.Generator().manual_seed(seed)
    size = model.image_size
    inputs = [
        torch.randn(batch, 3, size, size, generator=generator),
        torch.zeros(batch, 3, size, size),
    ]
    worst = dict.fromkeys(OUTPUTS, 0.0)
    for images in inputs:
        for name, ours, theirs in zip(OUTPUTS, model(images), exported(images), strict=True):
            worst[name] = max(worst[name], float((ours - theirs).abs().max()))
    return worst


def main(args: argparse.Namespace) -> dict[str, float]:
    """Export ``--model`` to ``--out`` and return the largest difference per output.

    Args:
        args: The parsed command line.

    Returns:
        Per output, the largest difference.
    """
    check_flags(args, NUMBER_FLAGS)
    if args.out.suffix != ".onnx":
        raise RunError(f"--out {args.out}: expected a .onnx file name.")
    if args.out.exists() and not args.overwrite:
        raise RunError(f"--out {args.out} exists; pass --overwrite to replace it.")
    for module in ("onnx", "onnxscript", "onnxruntime"):
        require(module, "export_onnx.py")
    model = load_pretrained(args.model, "cpu")
    export_onnx(model, args.out, args.batch_size, args.opset)
    differences = largest_differences(model, OnnxLocalizer(args.out), args.batch_size or 3)
    shown = ", ".join(f"{k} {v:.2e}" for k, v in differences.items())
    print(
        f"{args.out}: opset {args.opset}, batch {args.batch_size or 'dynamic'}; "
        f"largest |onnxruntime - PyTorch|: {shown}"
    )
    if max(differences.values()) > args.tolerance:
        raise RunError(f"{args.out}: outputs differ by more than --tolerance {args.tolerance}.")
    return differences
