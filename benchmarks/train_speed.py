"""Training throughput of the `paper` preset's four models (images/s, peak memory).

    python benchmarks/train_speed.py --device cuda --json benchmarks/results/train_cuda.json

One stage-1 step as ``reproduce_paper.py --preset paper`` runs it (fine-tuning policy,
channels_last, bf16 autocast on GPU, the weighted BCE, Adam) on batches of real synthetic
NIH-format images at 256 px, kept on the device so the loader is not what is timed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from _harness import utc_now, write_json

from cxr14_data import ChestXray14, collate, make_synthetic, paper_transforms
from multires_backbone import apply_finetune_policy, create_model
from weighted_bce import DynamicWeightedBCEWithLogitsLoss

PAPER_MODELS = ["resnet50", "multires_resnet50", "efficientnet_b4", "multires_efficientnet_b4"]


def synthetic_batch(batch: int, size: int) -> dict[str, torch.Tensor]:
    with tempfile.TemporaryDirectory() as folder:
        root = make_synthetic(
            folder, n_patients=max(8, batch // 2), image_size=size, progress=False
        )
        dataset = ChestXray14(root, "train", paper_transforms(True, size), no_finding=None)
        items = [dataset[i % len(dataset)] for i in range(batch)]
    return collate(items)


def train_throughput(
    name: str, batch: dict[str, torch.Tensor], steps: int, device: torch.device
) -> dict[str, float]:
    torch.manual_seed(0)
    model = create_model(name)
    apply_finetune_policy(model)
    model = model.to(device, memory_format=torch.channels_last)
    model.train()
    optimizer = torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad], lr=3e-4, betas=(0.9, 0.9)
    )
    criterion = DynamicWeightedBCEWithLogitsLoss()
    images = batch["image"].to(device).contiguous(memory_format=torch.channels_last)
    labels = batch["labels"].to(device)
    dtype = torch.bfloat16 if device.type == "cuda" else None

    def step() -> None:
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = criterion(model(images).logits, labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(3):  # warm-up: kernels chosen, memory pools filled
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    return {"images_per_s": steps * len(images) / seconds, "peak_gib": peak}


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda")
    parser.add_argument("--models", nargs="+", default=PAPER_MODELS)
    parser.add_argument("--batch", type=int, default=128, help="images per step")
    parser.add_argument("--size", type=int, default=256, help="input side (the paper: 256)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per model")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    return parser


def main(args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    batch = synthetic_batch(args.batch, args.size)
    report = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "date": utc_now(),
        "batch": args.batch,
        "size": args.size,
        "precision": "bf16 autocast, channels_last" if device.type == "cuda" else "fp32",
        "models": {name: train_throughput(name, batch, args.steps, device) for name in args.models},
    }
    for name, result in report["models"].items():
        print(f"{name}: {result['images_per_s']:.0f} images/s, peak {result['peak_gib']} GiB")
    write_json(report, args.json)
    return report


if __name__ == "__main__":
    main(get_args_parser().parse_args())
