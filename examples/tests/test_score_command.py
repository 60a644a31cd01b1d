"""The run's own maps, scored by ``python -m cam_boxes_iobb score`` against the synthetic set's
``BBox_List_2017.csv``, give the run's numbers: the command and the run score the same way."""

import json

import numpy as np
import pytest

from cam_boxes_iobb.cli import main


@pytest.mark.parametrize("kind", ["cam", "pcm"])
def test_the_command_reproduces_the_runs_localization(smoke_run, tmp_path, kind):
    out, _ = smoke_run
    config = json.loads((out / "config.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    data = next((out / "data").iterdir())
    size = str(config["image_size"])
    for model, entry in metrics.items():
        maps = out / model / "maps" / f"{kind}.npz"
        score_out = tmp_path / model / kind
        args = ["score", "--maps", str(maps), "--annotations", str(data), "--format", "nih"]
        args += ["--score-size", size, size, "--out", str(score_out), "--resamples", "0"]
        assert main(args) == 0
        results = json.loads((score_out / "score.json").read_text())["maps"][kind]["results"]
        run = entry["localization"][kind]
        assert results["accuracy"]["0.1"]["mean"]["estimate"] == pytest.approx(
            run["iobb"]["0.1"]["mean"]["accuracy"]
        )
        assert results["afp"]["0.1"]["mean"]["estimate"] == pytest.approx(
            run["iobb"]["0.1"]["mean"]["afp"]
        )
        for klass, values in run["iobb"]["0.5"].items():
            got = results["accuracy"]["0.5"].get(klass, {}).get("estimate")
            if got is not None:
                assert got == pytest.approx(values["accuracy"]), klass
        assert results["max_box_acc_v2"]["mean"]["estimate"] == pytest.approx(
            run["max_box_acc_v2"]["mean"]["max_box_acc"]
        )
        assert results["pointing_game"]["mean"]["estimate"] == pytest.approx(
            run["pointing_game"]["mean"]["accuracy"]
        )
        assert np.isfinite(results["max_box_acc_v1"]["mean"]["estimate"])
