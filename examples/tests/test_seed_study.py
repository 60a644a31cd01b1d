import json
import shutil

import pytest

from cxr_paper.errors import RunError
from cxr_paper.files.jsonio import strict
from cxr_paper.files.typed_json import from_json, to_json
from cxr_paper.jobs import seed_study
from cxr_paper.scoring.study_results import Study

pytestmark = pytest.mark.slow  # trains two seeds end to end

FLAGS = ["--preset", "smoke", "--bootstrap-resamples", "100"]


@pytest.fixture(scope="module")
def two_seed_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    args = seed_study.get_args_parser().parse_args(["--out", str(out), "--seeds", "0", "1"])
    return out, args, seed_study.main(args, FLAGS)


def test_two_seeds_one_data_set_aggregated_and_resumable(two_seed_study):
    tmp_path, args, study = two_seed_study
    runs = [seed_study.run_folder(tmp_path, 0, s) for s in (0, 1)]
    configs = [json.loads((run / "config.json").read_text()) for run in runs]
    assert [c["seed"] for c in configs] == [0, 1]
    assert configs[0]["data"] == configs[1]["data"]  # both seeds read one generated set
    assert len(list((tmp_path / "data").iterdir())) == 1
    block = study.data_seeds[0]
    row = block.numbers["resnet10t"]["mean AUROC"]
    assert row.seeds == [0, 1] and len(row.values) == 2
    assert "multires_resnet10t − resnet10t" in block.differences
    text = (tmp_path / "study.md").read_text()
    assert "## Data seed 0" in text and "mean ± sd" in text
    saved = json.loads((tmp_path / "study.json").read_text())
    assert saved.pop("config")["runs"] == 2
    assert _same_numbers(from_json(Study, saved), study)
    noise = json.loads((tmp_path / "noise.json").read_text())
    assert noise["runs"] == [r.name for r in runs] and noise["settings"]["data"] == "synthetic"
    accuracy = noise["numbers"]["multires_resnet10t · cam · accuracy"]
    assert accuracy["runs"] == 2 and 0 <= accuracy["training_share"] <= 1
    assert set(noise["minutes_per_run"]) == {r.name for r in runs}

    stamps = {p: p.stat().st_mtime_ns for run in runs for p in run.rglob("stage*_last.pt")}
    again = seed_study.main(args, FLAGS)  # finished runs are kept, not retrained
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert _same_numbers(again.data_seeds[0].numbers, block.numbers)


def _same_numbers(a, b) -> bool:
    """Equal, NaN equal to NaN (as the JSON files compare)."""
    return strict(to_json(a)) == strict(to_json(b))


def _aggregate(out, seeds=("0", "1")):
    args = seed_study.get_args_parser().parse_args(
        ["--out", str(out), "--seeds", *seeds, "--aggregate-only"]
    )
    return seed_study.main(args, FLAGS)


def test_aggregating_a_missing_run_is_named(two_seed_study, tmp_path):
    out = shutil.copytree(two_seed_study[0], tmp_path / "study")
    with pytest.raises(RunError, match=r"data0_seed2: no such run"):
        _aggregate(out, ("0", "1", "2"))


def test_damaged_or_edited_study_files_are_named(two_seed_study, tmp_path):
    out = shutil.copytree(two_seed_study[0], tmp_path / "study")
    run = seed_study.run_folder(out, 0, 1)
    (run / "metrics.json").write_text('{"resnet10t": {"au')  # not read: results are
    assert _aggregate(out).data_seeds[0].numbers
    report = run / "report.md"
    report.write_text(report.read_text().replace("wall time", "time on the wall"))
    with pytest.raises(RunError, match=f"{report}: no 'wall time N min' line"):
        _aggregate(out)
    (run / "multires_resnet10t" / "result.json").write_text('{"test": ')
    with pytest.raises(RunError, match="multires_resnet10t: its saved result cannot be read"):
        _aggregate(out)


@pytest.mark.parametrize("flags", [["--seeds", "-1"], ["--data-seeds", "4294967296"]])
def test_seed_flags_out_of_range_are_refused_before_anything_is_written(tmp_path, flags):
    argv = ["--out", str(tmp_path / "s"), "--seeds", "0", *flags]
    with pytest.raises(RunError, match="expected an integer"):
        seed_study.main(seed_study.get_args_parser().parse_args(argv), FLAGS)
    assert not (tmp_path / "s").exists()
