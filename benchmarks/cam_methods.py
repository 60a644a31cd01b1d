"""All 14 classes' Grad-CAM maps: pytorch-grad-cam (a forward and a backward pass per class)
against one forward and one batched backward pass (``cxr_paper.scoring.batched_cam``).

    python benchmarks/cam_methods.py --json benchmarks/results/cam_methods_cpu.json

Times, with ``torch.utils.benchmark`` (medians), one forward and backward pass of the model
(the unit), the library over ``--classes`` classes, and the batched version over the same
classes, for each method; the goal is all 14 classes in at most two passes' time.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytorch_grad_cam
import torch
from _harness import utc_now, write_json
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from cxr_paper.machine.environment import environment
from cxr_paper.machine.timing import time_call
from cxr_paper.scoring.batched_cam import METHODS, batched_cams
from cxr_paper.scoring.cam_methods import _LIBRARY_NAMES, LogitsOnly
from multires_backbone import create_model


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="multires_resnet50")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--classes", type=int, default=14)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--min-run-time", type=float, default=2.0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=None)
    return parser


def main(args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = create_model(args.model, num_classes=14).to(device).eval()
    wrapped, layer = LogitsOnly(model), model.feature_map
    images = torch.randn(args.batch, 3, args.size, args.size, device=device)
    classes = list(range(args.classes))

    def one_pass() -> None:
        model.zero_grad(set_to_none=True)
        wrapped(images)[:, 0].sum().backward()

    unit = time_call(one_pass, args.min_run_time).median_ms
    report = {
        "date": utc_now(),
        "model": args.model,
        "input": [args.batch, 3, args.size, args.size],
        "classes": args.classes,
        "one_forward_backward_ms": unit,
        "methods": {},
        "environment": environment(device),
    }
    for method in args.methods:
        explainer = getattr(pytorch_grad_cam, _LIBRARY_NAMES[method])(
            model=wrapped, target_layers=[layer]
        )

        def library(explainer=explainer) -> None:
            for k in classes:
                explainer(input_tensor=images, targets=[ClassifierOutputTarget(k)] * len(images))

        def batched(method=method) -> None:
            batched_cams(method, wrapped, layer, images, classes)

        library_ms = time_call(library, args.min_run_time).median_ms
        explainer.activations_and_grads.release()  # its hooks would see the batched pass
        batched_ms = time_call(batched, args.min_run_time).median_ms
        report["methods"][method] = {
            "library_ms": library_ms,
            "batched_ms": batched_ms,
            "speedup": library_ms / batched_ms,
            "batched_in_passes": batched_ms / unit,
        }
        print(method, report["methods"][method])
    write_json(report, args.json)
    return report


if __name__ == "__main__":
    main(get_args_parser().parse_args())
