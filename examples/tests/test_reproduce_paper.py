import json
import struct
import zlib

import numpy as np
import predict
import pytest
import reproduce_paper
from dicom_files import write_dicom
from PIL import Image

from cxr14_data import BOX_CLASSES, CLASSES, find_images
from cxr_paper.configuration.cli import get_args_parser, resolve_config
from cxr_paper.configuration.presets import PRESETS
from cxr_paper.errors import RunError
from cxr_paper.files.jsonio import strict
from cxr_paper.files.typed_json import from_json, to_json
from cxr_paper.scoring.interval_types import Difference
from cxr_paper.scoring.results import ModelResult
from cxr_paper.scoring.study_results import Study

SMOKE_MODELS = PRESETS["smoke"]["models"]


def _run(out, *extra):
    args = get_args_parser().parse_args(["--preset", "smoke", "--out", str(out), *extra])
    return reproduce_paper.main(args)


class TestSmokeRun:
    def test_report_has_all_tables_and_figures(self, smoke_run):
        out, report = smoke_run
        text = report.read_text()
        for title in ("Table 1", "Table 2", "Table 3", "Table 4", "synthetic NIH-format set"):
            assert title in text
        assert "Localization methods compared" in text and "| CAM + PCM |" in text
        assert "## Operating points and calibration" in text and "| ECE after scaling |" in text
        for figure in (
            "fig5_losses.png",
            "fig6_roc.png",
            "fig7_heatmaps.png",
            "fig_threshold_curves.png",
            "fig_reliability.png",
        ):
            assert (out / figure).stat().st_size > 1000
            assert figure in text
        assert Image.open(out / "fig7_heatmaps.png").size[0] > 300

    def test_metrics_json(self, smoke_run):
        out, _ = smoke_run
        metrics = json.loads((out / "metrics.json").read_text())
        assert set(metrics) == set(SMOKE_MODELS)
        for model, result in metrics.items():
            assert set(result["auroc"]) == {*CLASSES, "mean"}
            for kind in ("cam", "pcm"):
                localization = result["localization"][kind]
                assert set(localization) == {
                    "iobb",
                    "iou",
                    "seed_authors",
                    "max_box_acc_v2",
                    "pointing_game",
                    "threshold_curve",
                    "calibrated",
                }
                calibrated = localization["calibrated"]
                assert calibrated["threshold"] in localization["threshold_curve"]["thresholds"]
                assert (
                    calibrated["calibration_images"] + calibrated["evaluation_images"]
                    == (result["localization_images"])
                )
                assert set(localization["iobb"]) == {"0.1", "0.25", "0.5", "0.75", "0.9"}
                assert set(localization["iobb"]["0.1"]) == {*BOX_CLASSES, "mean"}
            points, calibration = result["operating_points"], result["calibration"]
            assert set(points["thresholds"]) == set(points["test"]) == set(CLASSES)
            assert calibration["after"] == {} and calibration["temperature"] == 1.0
            assert set(calibration["before"]["ece"]) == {*CLASSES, "all"}
            test = ModelResult.load(out / model).test
            assert sum(b["count"] for b in calibration["before"]["curve"]) == test.probs.size
            assert result["params"]["model_with_pcm"] > result["params"]["model"]
            assert result["latency_ms"] > 0 and result["localization_images"] > 0

    def test_config_and_checkpoints(self, smoke_run):
        out, _ = smoke_run
        config = json.loads((out / "config.json").read_text())
        assert config["preset"] == "smoke" and config["models"] == SMOKE_MODELS
        for model in SMOKE_MODELS:
            for name in ("stage1_last.pt", "stage1_best.pt", "stage2_last.pt"):
                assert (out / model / name).is_file()
            for name in ("model.safetensors", "config.json", "README.md"):
                assert (out / model / "pretrained" / name).is_file()
        assert not list(out.rglob(".*.tmp"))

    def test_resume_keeps_finished_models_from_their_saved_results(self, smoke_run, tmp_path):
        import shutil

        out = shutil.copytree(smoke_run[0], tmp_path / "run")  # the shared run stays as it was
        for model in SMOKE_MODELS:  # results are JSON + npz: nothing needs pickle to read
            assert not (out / model / "result.pt").exists()
            json.loads((out / model / "result.json").read_text())
            np.load(out / model / "result.npz", allow_pickle=False).close()
        before = (out / "metrics.json").read_text()
        stamps = {p: p.stat().st_mtime_ns for p in out.rglob("stage*_last.pt")}
        _run(out, "--resume")
        assert {p: p.stat().st_mtime_ns for p in out.rglob("stage*_last.pt")} == stamps
        # every number, intervals and paired differences included, recomputed from the saved
        # results alone
        assert (out / "metrics.json").read_text() == before
        history = json.loads(before)[SMOKE_MODELS[0]]["history"]
        assert len(history["train_loss"]) == 1 and len(history["pcm_loss"]) == 1
        # every SEAM term reaches the history (and so Fig. 5), those the objective leaves 0 too
        assert {"msml", "ecr", "er", "min_pool"} <= set(history)
        assert history["msml"][0] > 0 and history["er"] == [0.0]

    def test_the_browser_counts_hits_as_the_metric_does(self, smoke_run):
        """report.html's hit/miss and false positives (viewer records) add up to the fixed
        protocol's counts at IoBB > 0.1, for every model and map kind."""
        from cxr_paper.scoring.results import ModelResult

        for model in SMOKE_MODELS:
            test = ModelResult.load(smoke_run[0] / model).test
            for kind, scores in test.scores.items():
                entries = [e for r in test.viewer.values() for e in r["kinds"][kind].values()]
                metric = scores.fixed["iobb"]  # thresholds (0.1, ...): column 0
                assert sum(int(np.sum(e["hits"])) for e in entries) == metric.hits[:, 0].sum()
                assert sum(len(e["hits"]) for e in entries) == metric.gt_boxes.sum() > 0
                false_positives = sum(int(np.sum(~e["box_hits"])) for e in entries)
                assert false_positives == metric.false_positives[:, 0].sum()

    def test_an_unreadable_saved_result_is_one_line(self, smoke_run, tmp_path):
        import shutil

        from cxr_paper.scoring.results import ModelResult

        out = shutil.copytree(smoke_run[0], tmp_path / "run")
        (out / SMOKE_MODELS[0] / "result.json").write_text("{torn")
        with pytest.raises(RunError, match=r"saved result cannot be read.*delete result.json"):
            ModelResult.load(out / SMOKE_MODELS[0])
        with pytest.raises(RunError, match="delete result.json"):
            _run(out, "--resume")

    def test_flags_override_the_preset(self):
        flags = ["--preset", "paper", "--data", "synthetic", "--epochs", "2"]
        args = get_args_parser().parse_args(
            [*flags, "--models", "resnet18", "--no-finetune-policy"]
        )
        config = resolve_config(args)
        assert (config.epochs, config.models, config.finetune_policy, config.lr) == (
            2,
            ["resnet18"],
            False,
            3e-4,
        )

    def test_paper_preset_needs_data(self, tmp_path):
        with pytest.raises(RunError, match="--data /path/to/ChestX-ray14, or --data synthetic"):
            resolve_config(get_args_parser().parse_args(["--preset", "paper"]))

    def test_bad_data_root(self, tmp_path):
        with pytest.raises(RunError, match="no such folder"):
            _run(tmp_path / "out", "--data", str(tmp_path / "missing"))
        (tmp_path / "empty").mkdir()
        with pytest.raises(RunError, match="not a ChestX-ray14 folder.*test_list.txt"):
            _run(tmp_path / "out", "--data", str(tmp_path / "empty"))


class TestPredict:
    def test_png_and_dicom_and_a_bad_file(self, smoke_run, tmp_path, capsys):
        out, _ = smoke_run
        png = next(iter(find_images(next((out / "data").iterdir())).values()))
        gray = np.asarray(Image.open(png).convert("L"))
        dicom = tmp_path / "scan.dcm"
        write_dicom(dicom, gray.astype(np.uint16) * 16)
        broken = tmp_path / "broken.png"
        broken.write_bytes(b"not an image")
        args = predict.get_args_parser().parse_args(
            [
                str(png),
                str(broken),
                str(dicom),
                "--model",
                str(out / SMOKE_MODELS[1]),
                "--out",
                str(tmp_path / "p"),
                "--prob-threshold",
                "0.0",
            ]
        )
        assert predict.main(args) == 1
        assert "broken.png" in capsys.readouterr().err
        for stem in (png.stem, "scan"):
            result = json.loads((tmp_path / "p" / f"{stem}.json").read_text())
            assert set(result["probabilities"]) == set(CLASSES)
            assert result["predicted"] == list(CLASSES)  # threshold 0: every class
            assert (tmp_path / "p" / f"{stem}_Nodule.png").is_file()
            # every class predicted: each one's boxes are listed, and some class has boxes (a
            # class whose map has no positive value has none), so the check below is not vacuous
            assert set(result["boxes"]) == set(CLASSES)
            assert sum(len(boxes) for boxes in result["boxes"].values()) >= 1
            for boxes in result["boxes"].values():
                for x, y, w, h in boxes:
                    assert x >= 0 and y >= 0 and x + w <= gray.shape[1] and y + h <= gray.shape[0]
        png_probs = json.loads((tmp_path / "p" / f"{png.stem}.json").read_text())["probabilities"]
        dcm_probs = json.loads((tmp_path / "p" / "scan.json").read_text())["probabilities"]
        assert png_probs == pytest.approx(dcm_probs, abs=0.02)  # the same pixels either way

    def test_predicting_loads_neither_training_nor_scikit_learn(self):
        import subprocess
        import sys
        from pathlib import Path

        examples = Path(__file__).resolve().parents[1]
        code = (
            "import sys; import predict; "
            "bad = [m for m in ('sklearn', 'cxr_paper.learning.training', "
            "'cxr_paper.scoring.evaluation', 'matplotlib', 'scipy.optimize', 'onnxruntime', "
            "'highdicom') if m in sys.modules]; "
            "sys.exit(str(bad) if bad else 0)"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=examples, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-500:]

    def test_thresholds_come_from_the_saved_model(self, smoke_run, tmp_path):
        from cxr_paper.deploy.pretrained import CXRLocalizer

        out, _ = smoke_run
        png = next(iter(find_images(next((out / "data").iterdir())).values()))
        saved = CXRLocalizer.from_pretrained(out / SMOKE_MODELS[1] / "pretrained")
        assert (saved.prob_threshold, saved.heatmap_threshold) == (0.5, 0.7)  # the run's
        eager = CXRLocalizer.from_pretrained(
            out / SMOKE_MODELS[1] / "pretrained",
            prob_threshold=0.0,
            heatmap_threshold=0.5,
            operating_points=None,
        )
        eager.save_pretrained(tmp_path / "eager")
        args = predict.get_args_parser().parse_args(
            [str(png), "--model", str(tmp_path / "eager"), "--out", str(tmp_path / "p")]
        )
        assert predict.main(args) == 0
        result = json.loads((tmp_path / "p" / f"{png.stem}.json").read_text())
        assert result["thresholds"] == {
            "probability": dict.fromkeys(CLASSES, 0.0),
            "operating_point": None,
            "heatmap": 0.5,
        }
        assert result["predicted"] == list(CLASSES)

    def test_predict_uses_the_operating_points_chosen_on_validation(self, smoke_run, tmp_path):
        from cxr_paper.deploy.pretrained import CXRLocalizer

        out, _ = smoke_run
        metrics = json.loads((out / "metrics.json").read_text())[SMOKE_MODELS[1]]
        saved = CXRLocalizer.from_pretrained(out / SMOKE_MODELS[1] / "pretrained")
        points = metrics["operating_points"]
        assert saved.operating_points["rule"] == points["rule"] == "youden"
        chosen = {c: t for c, t in points["thresholds"].items() if points["chosen"][c]}
        assert chosen and saved.operating_points["thresholds"] == chosen
        assert saved.decision_thresholds() == points["thresholds"]
        png = next(iter(find_images(next((out / "data").iterdir())).values()))
        args = predict.get_args_parser().parse_args(
            [str(png), "--model", str(out / SMOKE_MODELS[1]), "--out", str(tmp_path / "p")]
        )
        assert predict.main(args) == 0
        result = json.loads((tmp_path / "p" / f"{png.stem}.json").read_text())
        assert result["thresholds"]["probability"] == points["thresholds"]
        assert result["thresholds"]["operating_point"] == "youden"
        expected = [c for c in CLASSES if result["probabilities"][c] > points["thresholds"][c]]
        assert result["predicted"] == expected

    def test_the_model_card_states_data_results_and_limits(self, smoke_run):
        out, _ = smoke_run
        card = (out / SMOKE_MODELS[1] / "pretrained" / "README.md").read_text()
        assert card.startswith("---\n") and "license: apache-2.0" in card
        assert "synthetic NIH-format set" in card and "Not a medical device" in card
        assert "Trained on synthetic phantoms" in card
        assert "| mean AUROC, 14 classes |" in card and "pointing game, CAM + PCM" in card
        # the card is published with push_to_hub: no folder of this machine in it
        assert str(out) not in card and str(out.parent) not in card
        assert f"{out.name}/{SMOKE_MODELS[1]}/pretrained" in card

    def test_bad_model(self, tmp_path):
        args = predict.get_args_parser().parse_args(
            ["a.png", "--model", str(tmp_path), "--out", str(tmp_path / "p")]
        )
        with pytest.raises(RunError, match="no model.safetensors there"):
            predict.main(args)
        (tmp_path / "model.safetensors").write_bytes(b"not weights")
        (tmp_path / "config.json").write_text('{"architecture": "resnet10t", "classes": ["A"]}')
        with pytest.raises(RunError, match="cannot load it"):
            predict.main(args)


class TestConfiguration:
    """Choices are checked before any data is generated; --resume restores config.json."""

    def test_help_shows_both_presets(self, capsys):
        with pytest.raises(SystemExit):
            get_args_parser().parse_args(["--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "(default: None)" not in text
        assert "[demo: 128; paper: 256]" in text and "[demo: none; paper: torchvision]" in text

    @pytest.mark.parametrize(
        ("flags", "message"),
        [
            (["--device", "gpu"], "'auto', 'cpu', 'cuda' or 'cuda:N'"),
            (["--amp", "fp16"], r"\['auto', 'bf16', 'off'\]"),
            (["--models", "resnet_50"], "Unknown model 'resnet_50'"),
            (["--pretrained", "imagenet"], "neither one of.*torchvision"),
            (["--pretrained", "resnet10t=timm"], r"no value for \['multires_resnet10t'\]"),
            (["--pcm-overrides", '{"resnet10t": [0.1]}'], r"\[lr > 0, epochs: an int >= 1\]"),
            (
                ["--pcm-overrides", '{"resnet10t": ["a", 1]}'],
                r"resnet10t lr 'a': expected",
            ),
            (
                ["--pcm-overrides", '{"resnet10t": [0.1, 1.5]}'],
                r"resnet10t epochs 1.5: expect",
            ),
            (["--pcm-overrides", '{"efficientnet-b4": [0.1, 1]}'], "Unknown model"),
            (["--head-dropout", "1.5"], r"not in \[0, 1\)"),
            (["--pcm-overrides", "[0.1, 1]"], "expected a JSON object MODEL"),
            (["--seam-overrides", '["cam"]'], "expected a JSON object of SEAMLoss"),
            (["--seam-overrides", '{"no_such_switch": 1}'], "no_such_switch"),
        ],
    )
    def test_bad_choices_are_refused_before_any_data(self, tmp_path, flags, message):
        with pytest.raises(RunError, match=message):
            _run(tmp_path / "out", *flags)
        assert not (tmp_path / "out").exists()

    def test_a_weights_file_that_does_not_fit_is_refused_before_any_data(self, tmp_path):
        import timm
        import torch

        path = tmp_path / "resnet18.pth"
        torch.save(timm.create_model("resnet18", num_classes=0).state_dict(), path)
        with pytest.raises(RunError, match=r"multires_resnet10t.*resnet18.pth"):
            _run(tmp_path / "out", "--pretrained", "resnet10t=none", f"multires_resnet10t={path}")
        assert not (tmp_path / "out").exists()

    def test_resume_restores_the_saved_config(self, smoke_run, tmp_path):
        out, _ = smoke_run
        saved = (out / "config.json").read_text()
        args = get_args_parser().parse_args(["--out", str(out), "--resume"])  # no --preset
        assert resolve_config(args).preset == "smoke"
        with pytest.raises(RunError, match=r"--epochs 3 \(saved: 1\).*--override-config"):
            resolve_config(
                get_args_parser().parse_args(["--out", str(out), "--resume", "--epochs", "3"])
            )
        for flags in ([], ["--epochs", "3"], ["--override-config"]):  # a new run: refused
            with pytest.raises(RunError, match=r"already holds files.*--resume.*--overwrite"):
                resolve_config(get_args_parser().parse_args(["--out", str(out), *flags]))
        overridden = resolve_config(
            get_args_parser().parse_args(
                ["--out", str(out), "--resume", "--epochs", "3", "--override-config"]
            )
        )
        assert (overridden.epochs, overridden.preset) == (3, "smoke")
        assert (out / "config.json").read_text() == saved  # resolving writes nothing
        with pytest.raises(RunError, match="not found"):
            resolve_config(get_args_parser().parse_args(["--out", str(tmp_path), "--resume"]))

    def test_metrics_json_is_strict(self, smoke_run):
        out, _ = smoke_run

        def refuse(constant):
            raise ValueError(f"non-standard JSON constant {constant}")

        for name in ("metrics.json", "config.json"):
            json.loads((out / name).read_text(), parse_constant=refuse)
        metrics = json.loads((out / "metrics.json").read_text())
        auroc = metrics[SMOKE_MODELS[0]]["auroc"]
        assert None in auroc.values()  # a class absent from the tiny test split: null, not NaN


class TestUnreadableImages:
    @pytest.fixture
    def corrupt_run(self, smoke_run, tmp_path):
        import shutil

        out, _ = smoke_run
        data = shutil.copytree(next((out / "data").iterdir()), tmp_path / "data")
        test_images = (data / "test_list.txt").read_text().split()
        victims = [test_images[0], (data / "train_val_list.txt").read_text().split()[0]]
        test_png = data / "images" / victims[0]
        test_png.write_bytes(test_png.read_bytes()[:100])  # truncated
        # a 69-byte PNG whose header claims 20000 x 20000 pixels (Pillow's decompression bomb)
        ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
        chunks = [(b"IHDR", ihdr), (b"IDAT", zlib.compress(b"")), (b"IEND", b"")]
        (data / "images" / victims[1]).write_bytes(
            b"\x89PNG\r\n\x1a\n"
            + b"".join(
                struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d))
                for k, d in chunks
            )
        )
        return data, victims

    def test_without_the_flag_one_line_names_file_and_flag(self, corrupt_run, tmp_path):
        data, victims = corrupt_run
        with pytest.raises(RunError) as stopped:
            _run(tmp_path / "out", "--data", str(data), "--models", "resnet10t")
        message = str(stopped.value)
        assert "\n" not in message and "--skip-unreadable" in message and "--verify" in message
        assert any(name in message for name in victims)

    def test_with_the_flag_the_report_lists_them(self, corrupt_run, tmp_path):
        data, victims = corrupt_run
        report = _run(
            tmp_path / "out", "--data", str(data), "--models", "resnet10t", "--skip-unreadable"
        ).read_text()
        assert "Unreadable images skipped" in report
        assert victims[0] in report and "test 1" in report
        listed = len((data / "test_list.txt").read_text().split())
        assert f"Computed on {listed - 1} of the {listed} test images." in report


class TestAblation:
    def test_quick_ablation_of_a_finished_run(self, smoke_run, tmp_path):
        import shutil

        import ablate_pcm

        out = shutil.copytree(smoke_run[0], tmp_path / "run")  # the shared run stays as it was
        args = ablate_pcm.get_args_parser().parse_args(
            ["--run", str(out), "--variants", "paper", "masked-cam-scale", "untrained", "--quick"]
        )
        results = ablate_pcm.main(args)
        rows = results["variants"]["multires_resnet10t"]
        assert list(rows) == ["CAM only", "paper", "masked-cam-scale", "untrained"]
        smoke = json.loads((out / "metrics.json").read_text())["multires_resnet10t"]
        cam_only = smoke["localization"]["cam"]["iobb"]["0.1"]["mean"]["accuracy"]
        assert rows["CAM only"]["accuracy"]["mean"] == pytest.approx(cam_only)  # stage 1 kept
        assert all(rows[v]["seconds"] > 0 for v in ("paper", "masked-cam-scale", "untrained"))
        text = (out / "ablation.md").read_text()
        assert "| paper |" in text and "| CAM only |" in text
        folder = out / "ablation" / "multires_resnet10t" / "masked-cam-scale"
        assert (folder / "stage2_last.pt").is_file()
        page = (out / "ablation.html").read_text()  # each variant a panel of the image browser
        assert '"multires_resnet10t [masked-cam-scale]"' in page
        assert '"folder":"ablation_files"' in page
        assert (out / "ablation_files" / "data" / "0.js").is_file()
        assert (out / "report_files" / "data" / "0.js").is_file()  # the run's own page untouched

    def test_variant_configs(self):
        from cxr_paper.configuration.config import RunConfig, preset_values
        from cxr_paper.configuration.seam_objective import seam_loss
        from cxr_paper.jobs.ablation import variant_config
        from pcm_seam import SEAMLoss

        demo = RunConfig(**preset_values("demo"))  # its own override: the ECR at the CAMs' size
        assert seam_loss(demo).ecr_resolution == "cam"
        for name in ("paper", "seam", "authors", "masked-cam-scale"):
            variant = seam_loss(variant_config(demo, name))
            fixes = {"authors_input_bug": False} if name == "authors" else {}
            expected = SEAMLoss.variant(name, **fixes)
            assert variant.extra_repr() == expected.extra_repr(), name  # the variant alone
        logit = seam_loss(variant_config(demo, "paper+logit-msml"))
        assert logit.extra_repr() == SEAMLoss(msml_on="refined_logits").extra_repr()
        assert variant_config(demo, "paper+image").pcm_reads_image
        assert not variant_config(demo, "paper").pcm_reads_image


class TestAblationOverSeeds:
    def test_two_runs_pooled(self, smoke_run, tmp_path):
        import shutil

        import ablate_pcm

        out, _ = smoke_run
        runs = [shutil.copytree(out, tmp_path / f"seed{s}") for s in (0, 1)]
        args = ablate_pcm.get_args_parser().parse_args(
            ["--run", *map(str, runs), "--variants", "untrained", "--quick"]
        )
        study = ablate_pcm.main(args)
        rows = study.data_seeds[0].differences["multires_resnet10t [untrained]: CAM + PCM − CAM"]
        assert rows["accuracy"].values[0] == rows["accuracy"].values[1]  # same run twice
        assert rows["accuracy"].sd == 0
        assert isinstance(rows["accuracy"].pooled, Difference)
        saved = json.loads((tmp_path / "ablation_seeds.json").read_text())
        assert strict(to_json(from_json(Study, saved))) == strict(to_json(study))
        assert "| multires_resnet10t [untrained] |" in (tmp_path / "ablation_seeds.md").read_text()

    def test_not_a_run_is_one_line(self, tmp_path):
        import ablate_pcm

        args = ablate_pcm.get_args_parser().parse_args(["--run", str(tmp_path)])
        with pytest.raises(RunError, match="no config.json"):
            ablate_pcm.main(args)
