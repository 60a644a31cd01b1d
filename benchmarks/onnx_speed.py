"""onnxruntime against PyTorch on this CPU: the whole saved model (classifier + PCM, all three
outputs), standard and multi-resolution, batch 1 and 32.

    python benchmarks/onnx_speed.py --json benchmarks/results/onnx_cpu.json
    python benchmarks/onnx_speed.py --models resnet50 multires_resnet50 --size 256

Each model is exported with a dynamic batch (:func:`cxr_paper.deploy.onnx_model.export_onnx`); both
runtimes use the same number of intra-op threads. The ratio onnxruntime / PyTorch is timed
*interleaved* (the two alternate, round after round;
:func:`cxr_paper.machine.timing.interleaved_ratio`),
and its spread over the rounds is reported beside the median. Random weights: the speed of a
graph does not depend on its values.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
from pathlib import Path

import onnxruntime
import torch
from _harness import utc_now, write_json

from cxr14_data import CLASSES
from cxr_paper.deploy.onnx_model import OPSET, OnnxLocalizer, export_onnx
from cxr_paper.deploy.pretrained import CXRLocalizer
from cxr_paper.machine.timing import time_call
from cxr_paper.reporting.document import make_table


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["resnet10t", "multires_resnet10t"])
    parser.add_argument("--size", type=int, default=256, help="input side in pixels")
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 32])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per ratio")
    parser.add_argument("--min-run-time", type=float, default=0.5, help="seconds per timing")
    parser.add_argument("--json", type=Path, default=None)
    return parser


def compare(
    model: CXRLocalizer, graph: OnnxLocalizer, batch: int, rounds: int, min_run_time: float
) -> dict[str, float]:
    """Per-image milliseconds of each runtime (medians over rounds) and the interleaved ratio."""
    images = torch.randn(batch, 3, model.image_size, model.image_size)
    torch_ms, onnx_ms, ratios = [], [], []
    for _ in range(rounds):
        a = time_call(lambda: graph(images), min_run_time).median_ms
        b = time_call(lambda: model(images), min_run_time).median_ms
        onnx_ms.append(a / batch)
        torch_ms.append(b / batch)
        ratios.append(a / b)
    return {
        "batch": batch,
        "pytorch_ms_per_image": statistics.median(torch_ms),
        "onnxruntime_ms_per_image": statistics.median(onnx_ms),
        "ratio_onnxruntime_over_pytorch": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
    }


def main(args: argparse.Namespace) -> dict:
    threads = torch.get_num_threads()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models:
            torch.manual_seed(0)
            model = CXRLocalizer(name, list(CLASSES), image_size=args.size)
            path = export_onnx(model, Path(folder) / f"{name}.onnx")
            graph = OnnxLocalizer(path, threads=threads)
            for batch in args.batches:
                row = {
                    "model": name,
                    **compare(model, graph, batch, args.rounds, args.min_run_time),
                }
                rows.append(row)
                print(
                    f"{name} batch {batch}: PyTorch {row['pytorch_ms_per_image']:.2f} ms/image, "
                    f"onnxruntime {row['onnxruntime_ms_per_image']:.2f} ms/image, ratio "
                    f"{row['ratio_onnxruntime_over_pytorch']:.2f} "
                    f"[{row['ratio_min']:.2f}, {row['ratio_max']:.2f}]"
                )
    report = {
        "date": utc_now(),
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "opset": OPSET,
        "threads": threads,
        "image_size": args.size,
        "rounds": args.rounds,
        "rows": rows,
    }
    print(
        make_table(
            ["model", "batch", "PyTorch ms/image", "onnxruntime ms/image", "ratio [min, max]"],
            [
                [
                    r["model"],
                    str(r["batch"]),
                    f"{r['pytorch_ms_per_image']:.2f}",
                    f"{r['onnxruntime_ms_per_image']:.2f}",
                    f"{r['ratio_onnxruntime_over_pytorch']:.2f} "
                    f"[{r['ratio_min']:.2f}, {r['ratio_max']:.2f}]",
                ]
                for r in rows
            ],
        ).to_markdown()
    )
    write_json(report, args.json)
    return report


if __name__ == "__main__":
    main(get_args_parser().parse_args())
