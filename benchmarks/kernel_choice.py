"""Do CPU kernel choice and thread count change the numbers, and what does pinning them cost?

    python benchmarks/kernel_choice.py --json benchmarks/results/kernel_choice_cpu.json

PyTorch on a CPU picks its kernels by the processor's instruction sets (ATen by
``torch.backends.cpu.get_cpu_capability()``, oneDNN by its own detection) and splits work by the
thread count; both change the order of floating-point sums. Each setting runs twice in a fresh
process: the same stage-1 training steps of the demo's models from one seed (demo batch, input
size and ``channels_last``), then a checksum of the trained weights and the time per step.
Identical checksums within a setting and different ones across settings mean: a run reproduces
bit for bit where its kernels and threads are the same, and only there.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _harness import utc_now, write_json

#: Environment of each setting: ``default`` is what the machine picks by itself.
SETTINGS: dict[str, dict[str, str]] = {
    "default": {},
    "avx2 kernels": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "1 thread": {"OMP_NUM_THREADS": "1"},
}
MODELS = ("resnet10t", "multires_resnet10t")
WARM_UP = 2


def train_and_hash(model_name: str, steps: int, batch: int, size: int) -> dict[str, object]:
    """Train ``WARM_UP + steps`` stage-1 steps from seed 0; the weights' SHA-256 and the seconds
    per timed step."""
    import torch

    from multires_backbone import create_model
    from weighted_bce import DynamicWeightedBCEWithLogitsLoss

    torch.manual_seed(0)
    model = create_model(model_name).to(memory_format=torch.channels_last).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.9))
    criterion = DynamicWeightedBCEWithLogitsLoss()
    generator = torch.Generator().manual_seed(1)
    images = torch.randn(batch, 3, size, size, generator=generator)
    images = images.contiguous(memory_format=torch.channels_last)
    labels = (torch.rand(batch, 14, generator=generator) < 0.2).float()

    def step() -> None:
        loss = criterion(model(images).logits, labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(WARM_UP):  # kernels chosen, memory pools filled; part of the hash too
        step()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = (time.perf_counter() - started) / steps
    digest = hashlib.sha256()
    for tensor in model.state_dict().values():
        digest.update(tensor.detach().contiguous().numpy().tobytes())
    return {
        "sha256": digest.hexdigest()[:16],
        "seconds_per_step": seconds,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
    }


def run_setting(env: dict[str, str], args: argparse.Namespace) -> dict[str, object]:
    command = [
        sys.executable,
        __file__,
        "--worker",
        "--steps",
        str(args.steps),
        "--batch",
        str(args.batch),
        "--size",
        str(args.size),
    ]
    done = subprocess.run(
        command, env={**os.environ, **env}, check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per model")
    parser.add_argument("--batch", type=int, default=32, help="the demo's batch")
    parser.add_argument("--size", type=int, default=128, help="the demo's input side")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(args: argparse.Namespace) -> dict:
    if args.worker:
        result = {m: train_and_hash(m, args.steps, args.batch, args.size) for m in MODELS}
        print(json.dumps(result))
        return result
    report: dict[str, object] = {
        "benchmark": "CPU kernel choice and threads: weights after training, time per step",
        "date": utc_now(),
        "steps": args.steps,
        "batch": args.batch,
        "size": args.size,
        "settings": {},
    }
    for name, env in SETTINGS.items():
        first, second = run_setting(env, args), run_setting(env, args)
        report["settings"][name] = {"environment": env, "runs": [first, second]}
        for model in MODELS:
            same = first[model]["sha256"] == second[model]["sha256"]
            print(
                f"{name:13s} {model:20s} weights {first[model]['sha256']} "
                f"({'repeats' if same else 'DIFFERS between runs'}), "
                f"{first[model]['seconds_per_step']:.3f} / {second[model]['seconds_per_step']:.3f}"
                " s per step"
            )
    write_json(report, args.json)
    return report


if __name__ == "__main__":
    main(get_args_parser().parse_args())
