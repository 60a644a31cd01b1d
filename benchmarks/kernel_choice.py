"""Which CPU choices change the trained weights, and does ``--reproducible`` remove them?

    python benchmarks/kernel_choice.py --json benchmarks/results/kernel_choice_cpu.json

PyTorch on a CPU picks code by the processor in three libraries: ATen's vectorised kernels
(``ATEN_CPU_CAPABILITY``), oneDNN's JIT convolutions (``ONEDNN_MAX_CPU_ISA``; its blocking also
follows the cache sizes) and MKL's GEMM (``MKL_ENABLE_INSTRUCTIONS``, unless ``MKL_CBWR`` fixes
it); the thread count splits sums. Each setting changes one of them, alone or under the
reproducible mode of ``cxr_paper.machine.reproducible`` (set in the worker: oneDNN off,
deterministic
algorithms, one thread, with the mode's environment), and runs twice in a fresh process: the same
stage-1 training steps of the demo's models from one seed (demo batch, input size and
``channels_last``), then a checksum of the trained weights and the time per step. A setting that
emulates another machine (an instruction set this one has but another may lack) and keeps the
checksum of its baseline shows that choice does not reach the weights.
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

#: Mode's environment (:data:`cxr_paper.machine.reproducible.ENVIRONMENT`, repeated so the benchmark
#: can run without the examples package on the path).
MODE = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "COMPATIBLE", "OMP_NUM_THREADS": "1"}
#: What an AVX2-only machine runs, emulated here: each library limited to AVX2 (numpy's and
#: OpenBLAS's too, for the synthetic set), MKL further down to SSE4.2.
AVX2_MACHINE = {
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
    "OPENBLAS_CORETYPE": "Haswell",
}
#: name -> (environment, reproducible mode in the worker). ``default`` is what the machine picks.
SETTINGS: dict[str, tuple[dict[str, str], bool]] = {
    "default": ({}, False),
    "ATen at AVX2": ({"ATEN_CPU_CAPABILITY": "avx2"}, False),
    "oneDNN at AVX2": ({"ONEDNN_MAX_CPU_ISA": "AVX2"}, False),
    "MKL at AVX2": ({"MKL_ENABLE_INSTRUCTIONS": "AVX2"}, False),
    "MKL_CBWR=COMPATIBLE": ({"MKL_CBWR": "COMPATIBLE"}, False),
    "1 thread": ({"OMP_NUM_THREADS": "1"}, False),
    "AVX2 kernels (ATen + oneDNN)": (
        {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
        False,
    ),
    "reproducible": (MODE, True),
    "reproducible, AVX2 machine emulated": ({**MODE, **AVX2_MACHINE}, True),
    "reproducible, ATen at AVX-512": ({**MODE, "ATEN_CPU_CAPABILITY": "avx512"}, True),
    "reproducible, ATen scalar (default)": ({**MODE, "ATEN_CPU_CAPABILITY": "default"}, True),
    "reproducible without MKL_CBWR": ({**MODE, "MKL_CBWR": ""}, True),
    "reproducible without MKL_CBWR, MKL at SSE4.2": (
        {**MODE, "MKL_CBWR": "", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
        True,
    ),
}
MODELS = ("resnet10t", "multires_resnet10t")
WARM_UP = 2


def train_and_hash(
    model_name: str, steps: int, batch: int, size: int, mode: bool = False
) -> dict[str, object]:
    """Train ``WARM_UP + steps`` stage-1 steps from seed 0 (in the reproducible mode if
    ``mode``); the weights' SHA-256 and the seconds per timed step."""
    import torch

    if mode:  # cxr_paper.machine.reproducible.apply(), inlined for the same reason as MODE
        torch.backends.mkldnn.enabled = False
        torch.use_deterministic_algorithms(True)
        torch.set_num_threads(1)

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


def run_setting(env: dict[str, str], mode: bool, args: argparse.Namespace) -> dict[str, object]:
    command = [
        sys.executable,
        __file__,
        "--worker",
        *(["--mode"] if mode else []),
        "--steps",
        str(args.steps),
        "--batch",
        str(args.batch),
        "--size",
        str(args.size),
    ]
    merged = {**os.environ, **env}
    for name in [k for k, v in env.items() if v == ""]:  # "" removes a variable
        merged.pop(name, None)
    done = subprocess.run(command, env=merged, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per model")
    parser.add_argument("--batch", type=int, default=32, help="the demo's batch")
    parser.add_argument("--size", type=int, default=128, help="the demo's input side")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument(
        "--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS),
        help="which settings to run (default: all)",
    )  # fmt: skip
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(args: argparse.Namespace) -> dict:
    if args.worker:
        result = {
            m: train_and_hash(m, args.steps, args.batch, args.size, args.mode) for m in MODELS
        }
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
    for name in args.settings:
        env, mode = SETTINGS[name]
        first, second = run_setting(env, mode, args), run_setting(env, mode, args)
        report["settings"][name] = {
            "environment": env,
            "reproducible_mode": mode,
            "runs": [first, second],
        }
        for model in MODELS:
            same = first[model]["sha256"] == second[model]["sha256"]
            print(
                f"{name:45s} {model:20s} weights {first[model]['sha256']} "
                f"({'repeats' if same else 'DIFFERS between runs'}), "
                f"{first[model]['seconds_per_step']:.3f} / {second[model]['seconds_per_step']:.3f}"
                " s per step"
            )
    write_json(report, args.json)
    return report


if __name__ == "__main__":
    main(get_args_parser().parse_args())
