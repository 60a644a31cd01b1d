"""``--reproducible``: the smoke run's weights equal the fingerprint committed from a machine of
the same CPU (model and instruction-set flags) as the one the tests run on, and the mode refuses
what it cannot do.

Two machines' fingerprints are committed and they differ (``benchmarks/results/
reproducible_smoke_cpu*.json``): the mode repeats itself on one machine, but does not make an
AMD EPYC and the machine of the first file (its CPU was not recorded) agree. On a CPU without a
committed fingerprint the test is skipped, printing the fingerprint to commit."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cxr_paper.errors import RunError
from cxr_paper.machine.reproducible import fingerprint

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"


def committed_for_this_cpu() -> dict | None:
    """The committed smoke fingerprint of a machine with this one's CPU model and flags."""
    import torch

    from cxr_paper.machine.environment import environment

    cpu = environment(torch.device("cpu"))["cpu"]
    for path in sorted(RESULTS.glob("reproducible_smoke_cpu*.json")):
        saved = json.loads(path.read_text())
        if saved.get("machine", {}).get("cpu") == cpu:
            return saved
    return None


@pytest.mark.slow  # two smoke runs' worth of training in the slower mode
def test_the_smoke_run_trains_the_committed_weights(tmp_path):
    committed = committed_for_this_cpu()
    command = [
        sys.executable,
        str(ROOT / "examples" / "reproduce_paper.py"),
        "--preset",
        "smoke",
        "--out",
        str(tmp_path / "run"),
        "--reproducible",
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    if committed is None:
        pytest.skip(
            f"no fingerprint committed for this CPU; it trains {fingerprint(tmp_path / 'run')} "
            "(python benchmarks/reproducible_smoke.py --json benchmarks/results/"
            "reproducible_smoke_cpu_<name>.json commits one)"
        )
    assert fingerprint(tmp_path / "run") == committed["fingerprint"], (
        "--reproducible trained other weights than those committed from a machine of this CPU"
    )
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    determinism = next(iter(metrics.values()))["environment"]["determinism"]
    assert determinism["reproducible_mode"] and not determinism["onednn_enabled"]


def test_inside_python_without_its_environment_the_mode_says_how(tmp_path, monkeypatch):
    import reproduce_paper

    from cxr_paper.configuration.cli import get_args_parser

    monkeypatch.delenv("MKL_CBWR", raising=False)
    args = get_args_parser().parse_args(
        ["--preset", "smoke", "--out", str(tmp_path / "r"), "--reproducible"]
    )
    with pytest.raises(RunError, match="start the process with ATEN_CPU_CAPABILITY=avx2"):
        reproduce_paper.main(args)
    assert not (tmp_path / "r").exists()


def test_the_mode_is_for_cpus(tmp_path):
    import reproduce_paper

    from cxr_paper.configuration.cli import get_args_parser

    args = get_args_parser().parse_args(
        ["--preset", "smoke", "--out", str(tmp_path / "r"), "--reproducible", "--device", "cuda"]
    )
    with pytest.raises(RunError, match="a CPU mode"):
        reproduce_paper.main(args)
