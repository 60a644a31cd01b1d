"""The smoke preset's trained weights under ``--reproducible``: their fingerprint (committed, and
checked by ``examples/tests/test_reproducible.py`` on every machine the tests run on), whether
an emulated AVX2-only machine gets the same, and what the mode costs.

    python benchmarks/reproducible_smoke.py --json benchmarks/results/reproducible_smoke_cpu_X.json

(one file per machine: the test compares this machine's weights with the file of the same CPU
model and instruction-set flags.)

Four fresh processes: the default run, ``--reproducible`` twice, and ``--reproducible`` with
every library limited as on an AVX2-only machine (``kernel_choice.AVX2_MACHINE``). Times are
the script's wall time from outside; keep the machine idle for them.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from _harness import utc_now, write_json
from kernel_choice import AVX2_MACHINE

from cxr_paper.machine.environment import environment
from cxr_paper.machine.reproducible import ENVIRONMENT, fingerprint

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "reproduce_paper.py"
RUNS: dict[str, tuple[list[str], dict[str, str]]] = {
    "default": ([], {}),
    "reproducible": (["--reproducible"], {}),
    "reproducible, again": (["--reproducible"], {}),
    "reproducible, AVX2 machine emulated": (["--reproducible"], AVX2_MACHINE),
}


def smoke_run(flags: list[str], env: dict[str, str]) -> dict[str, object]:
    """One smoke run in a fresh process: its weights' fingerprint and wall time."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, str(SCRIPT), "--preset", "smoke", "--out", folder, *flags]
        started = time.perf_counter()
        subprocess.run(command, env={**os.environ, **env}, check=True, capture_output=True)
        seconds = time.perf_counter() - started
        return {"fingerprint": fingerprint(Path(folder)), "seconds": seconds}


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    return parser


def main(args: argparse.Namespace) -> dict:
    report: dict[str, object] = {
        "benchmark": "smoke preset: weights' fingerprint under --reproducible, and its cost",
        "date": utc_now(),
        "command": "python examples/reproduce_paper.py --preset smoke --reproducible",
        "mode_environment": ENVIRONMENT,
        "machine": {
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "cpu": environment(torch.device("cpu"))["cpu"],
        },
        "runs": {},
    }
    for name, (flags, env) in RUNS.items():
        result = {"environment": env, **smoke_run(flags, env)}
        report["runs"][name] = result
        print(f"{name:40s} {result['fingerprint']} {result['seconds']:.0f} s")
    report["fingerprint"] = report["runs"]["reproducible"]["fingerprint"]
    write_json(report, args.json)
    return report


if __name__ == "__main__":
    main(get_args_parser().parse_args())
