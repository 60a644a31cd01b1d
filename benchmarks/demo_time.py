"""Wall time of the demo (``reproduce_paper.py --preset demo``), median of several fresh runs.

    python benchmarks/demo_time.py --runs 3 --json benchmarks/results/demo_cpu.json

Each run starts from an empty run folder (the synthetic set is generated again), as
``nox -s demo`` does on a fresh clone; the script's own time is measured from outside, in a
subprocess. Keep the machine otherwise idle: the budget is 8 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from _harness import utc_now, write_json

from cxr_paper.machine.environment import environment

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "reproduce_paper.py"


def time_demo(extra: list[str]) -> float:
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, str(SCRIPT), "--preset", "demo", "--out", folder, *extra]
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh demo runs; the median counts")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("extra", nargs="*", help="more flags for the demo (after --)")
    return parser


def main(args: argparse.Namespace) -> dict:
    seconds = []
    for run in range(args.runs):
        seconds.append(time_demo(args.extra))
        print(f"run {run + 1}: {seconds[-1] / 60:.2f} min", flush=True)
    report = {
        "benchmark": "demo wall time (reproduce_paper.py --preset demo, fresh folder)",
        "date": utc_now(),
        "machine": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu": environment(torch.device("cpu"))["cpu"],
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "flags": args.extra,
        "seconds": seconds,
        "median_minutes": statistics.median(seconds) / 60,
    }
    print(f"median: {report['median_minutes']:.2f} min over {args.runs} runs")
    write_json(report, args.json)
    return report


if __name__ == "__main__":
    main(get_args_parser().parse_args())
