import json

import pytest

from cxr_paper.jobs import seed_study

pytestmark = pytest.mark.slow  # trains two seeds end to end

FLAGS = ["--preset", "smoke", "--bootstrap-resamples", "100"]


def test_two_seeds_one_data_set_aggregated_and_resumable(tmp_path):
    args = seed_study.get_args_parser().parse_args(["--out", str(tmp_path), "--seeds", "0", "1"])
    study = seed_study.main(args, FLAGS)
    runs = [seed_study.run_folder(tmp_path, 0, s) for s in (0, 1)]
    configs = [json.loads((run / "config.json").read_text()) for run in runs]
    assert [c["seed"] for c in configs] == [0, 1]
    assert configs[0]["data"] == configs[1]["data"]  # both seeds read one generated set
    assert len(list((tmp_path / "data").iterdir())) == 1
    block = study["data_seeds"][0]
    row = block["numbers"]["resnet10t"]["mean AUROC"]
    assert row["seeds"] == [0, 1] and len(row["values"]) == 2
    assert "multires_resnet10t − resnet10t" in block["differences"]
    text = (tmp_path / "study.md").read_text()
    assert "## Data seed 0" in text and "mean ± sd" in text
    saved = json.loads((tmp_path / "study.json").read_text())
    assert saved["config"]["runs"] == 2
    noise = json.loads((tmp_path / "noise.json").read_text())
    assert noise["runs"] == [r.name for r in runs] and noise["settings"]["data"] == "synthetic"
    accuracy = noise["numbers"]["multires_resnet10t · cam · accuracy"]
    assert accuracy["runs"] == 2 and 0 <= accuracy["training_share"] <= 1
    assert set(noise["minutes_per_run"]) == {r.name for r in runs}

    stamps = {p: p.stat().st_mtime_ns for run in runs for p in run.rglob("stage*_last.pt")}
    again = seed_study.main(args, FLAGS)  # finished runs are kept, not retrained
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert again["data_seeds"][0]["numbers"] == block["numbers"]
