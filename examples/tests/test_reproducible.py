"""``--reproducible``: the smoke run's weights equal the fingerprint committed from this
project's machine, on whatever machine the tests run (the point of the mode), and the mode
refuses what it cannot do."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cxr_paper.errors import RunError
from cxr_paper.machine.reproducible import fingerprint

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "benchmarks" / "results" / "reproducible_smoke_cpu.json"


@pytest.mark.slow  # two smoke runs' worth of training in the slower mode
def test_the_smoke_run_trains_the_committed_weights(tmp_path):
    committed = json.loads(COMMITTED.read_text())
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
    assert fingerprint(tmp_path / "run") == committed["fingerprint"], (
        "--reproducible trained other weights than the committed ones: this machine's "
        "arithmetic differs from the one benchmarks/reproducible_smoke.py ran on"
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
