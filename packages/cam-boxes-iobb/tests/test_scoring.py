"""The evaluator: scoring maps against the neutral annotations, its intervals and paired
differences, and the command on non-NIH formats end to end."""

import json
import math

import numpy as np
import pytest

from cam_boxes_iobb import LocalizationMetric, MaxBoxAcc, PointingGame
from cam_boxes_iobb.annotations import Annotations, ImageAnnotation
from cam_boxes_iobb.cli import main
from cam_boxes_iobb.formats import write_coco
from cam_boxes_iobb.maps import open_maps, save_maps
from cam_boxes_iobb.rle import encode
from cam_boxes_iobb.scoring import ScoreError, ScoreSettings, paired_differences, score_maps

CLASSES = ("Mass", "Nodule", "Effusion")


def _data_set(seed=0, n=24, frame=(200, 160)):
    """Annotations with boxes (Mass, Nodule) and masks (Effusion) and maps that partly find them."""
    rng = np.random.default_rng(seed)
    ann = Annotations(CLASSES, source="generated")
    maps = np.zeros((n, 3, 20, 16), np.float32)
    for i in range(n):
        image = ImageAnnotation(f"im{i}.png", f"p{i // 2}", *frame)
        ann.add(image)
        for k, label in enumerate(CLASSES[:2]):
            if rng.random() < 0.6:
                x, y = rng.uniform(0, 110), rng.uniform(0, 150)
                image.add_box(label, [x, y, 40, 40])
                if rng.random() < 0.6:  # a map that finds it
                    maps[i, k, int(y / 10) : int(y / 10) + 4, int(x / 10) : int(x / 10) + 4] = 2
        if rng.random() < 0.5:
            mask = np.zeros(frame, np.uint8)
            mask[50:120, 30:90] = 1
            image.masks["Effusion"] = encode(mask)
            maps[i, 2, 5:12, 3:9] = rng.uniform(0.5, 2)
        maps[i] += rng.normal(scale=0.3, size=maps[i].shape)
    probs = rng.uniform(size=(n, 3))
    return ann, maps, probs


def _maps_file(tmp_path, name, maps, probs=None, ids=None, classes=CLASSES):
    ids = ids or [f"im{i}.png" for i in range(len(maps))]
    return open_maps(save_maps(tmp_path / f"{name}.npz", ids, classes, maps, probs))


def test_scores_equal_the_metrics_fed_by_hand(tmp_path):
    ann, maps, probs = _data_set()
    score = score_maps(_maps_file(tmp_path, "a", maps, probs), ann, ScoreSettings(resamples=0))
    fixed = LocalizationMetric(CLASSES[:2], thresholds=(0.1, 0.25, 0.5, 0.75, 0.9))
    v2, game = MaxBoxAcc.v2(CLASSES[:2]), PointingGame(CLASSES[:2])
    from cam_boxes_iobb import heatmap_to_boxes, normalize_heatmap

    for i, image in enumerate(ann):
        pred = {
            c: heatmap_to_boxes(normalize_heatmap(maps[i, k], (200, 160)), 0.7)
            for k, c in enumerate(CLASSES[:2])
            if probs[i, k] > 0.5
        }
        fixed.update(pred, image.boxes)
        raw = {c: maps[i, k] for k, c in enumerate(CLASSES[:2]) if c in image.boxes}
        v2.update(raw, image.boxes, size=(200, 160))
        game.update(raw, image.boxes, size=(200, 160))
    observed = score.scorer.observed()
    assert observed["accuracy"][0, -1, 0] == pytest.approx(fixed.compute()["mean"][0.1]["accuracy"])
    assert observed["afp"][0, 0, 0] == pytest.approx(fixed.compute()["Mass"][0.1]["afp"])
    assert observed["max_box_acc_v2"][0, -1] == pytest.approx(v2.compute()["mean"]["max_box_acc"])
    assert observed["pointing_game"][0, 1] == pytest.approx(game.compute()["Nodule"]["accuracy"])
    assert 0 < observed["hit_rate"][0, -1] <= 1 and 0 < observed["pxap"][0, -1] <= 1


def test_score_size_equals_scoring_boxes_already_at_that_size(tmp_path):
    ann, maps, probs = _data_set(1)
    small = Annotations(CLASSES, source="scaled")
    for image in ann:
        copy = ImageAnnotation(image.name, image.patient, 100, 80)
        for label, boxes in image.boxes.items():
            for box in boxes:
                copy.add_box(label, box / 2)
        small.add(copy)
    settings = ScoreSettings(resamples=0, score_size=(100, 80))
    at_size = score_maps(
        _maps_file(tmp_path, "a", maps[:, :2], probs[:, :2], classes=CLASSES[:2]), ann, settings
    )
    native = score_maps(
        _maps_file(tmp_path, "b", maps[:, :2], probs[:, :2], classes=CLASSES[:2]),
        small,
        ScoreSettings(resamples=0),
    )
    for key in ("accuracy", "afp", "max_box_acc_v1", "max_box_acc_v2"):
        np.testing.assert_allclose(at_size.scorer.observed()[key], native.scorer.observed()[key])


def test_probabilities_gate_the_fixed_protocol_only(tmp_path):
    ann, maps, _ = _data_set(2)
    never = np.zeros((len(maps), 3))
    gated = score_maps(_maps_file(tmp_path, "a", maps, never), ann, ScoreSettings(resamples=0))
    observed = gated.scorer.observed()
    assert observed["accuracy"][0, -1, 0] == 0 and observed["afp"][0, -1, 0] == 0
    ungated = score_maps(
        _maps_file(tmp_path, "b", maps, never), ann, ScoreSettings(resamples=0, prob_threshold=None)
    )
    assert ungated.scorer.observed()["accuracy"][0, -1, 0] > 0
    np.testing.assert_allclose(
        observed["max_box_acc_v2"], ungated.scorer.observed()["max_box_acc_v2"]
    )


def test_intervals_equal_rescoring_the_resampled_patients(tmp_path):
    """The bootstrap's resamples recomputed by brute force: score the drawn patients' images
    again (each as often as drawn) and compare every metric."""
    ann, maps, probs = _data_set(3, n=12)
    settings = ScoreSettings(resamples=5, seed=4)
    score = score_maps(_maps_file(tmp_path, "a", maps, probs), ann, settings)
    from cam_boxes_iobb.bootstrap import resample_weights

    weights = resample_weights(score.scorer.patients, 5, seed=4)
    resampled = score.scorer.resampled(weights)
    for r, w in enumerate(weights):
        drawn = Annotations(CLASSES, source="drawn")
        ids, rows = [], []
        for i, image in enumerate(ann):
            for copy in range(int(w[i])):
                clone = ImageAnnotation(
                    f"{image.name}#{copy}",
                    image.patient,
                    image.height,
                    image.width,
                    image.boxes,
                    image.masks,
                )
                drawn.add(clone)
                ids.append(clone.name)
                rows.append(i)
        again = score_maps(
            _maps_file(tmp_path, f"r{r}", maps[rows], probs[rows], ids=ids),
            drawn,
            ScoreSettings(resamples=0),
        )
        for key, value in again.scorer.observed().items():
            np.testing.assert_allclose(resampled[key][r], value[0], err_msg=key)
    intervals = score.intervals(settings)
    assert intervals["accuracy"].estimate.shape == (3, 5)  # Mass, Nodule, mean x 5 overlaps


def test_paired_differences_match_images_by_name(tmp_path):
    ann, maps, probs = _data_set(5)
    settings = ScoreSettings(resamples=200)
    ids = [f"im{i}.png" for i in range(len(maps))]
    a = score_maps(_maps_file(tmp_path, "a", maps, probs), ann, settings, "a")
    b = score_maps(
        _maps_file(tmp_path, "b", maps[::-1], probs[::-1], ids=ids[::-1]), ann, settings, "b"
    )
    same = paired_differences(a, b, settings)
    for key, intervals in same.items():
        assert np.nanmax(np.abs([intervals.low, intervals.high])) < 1e-12, key  # sums reordered
    worse = maps.copy()
    worse[:, :2] = np.random.default_rng(0).normal(size=worse[:, :2].shape)
    c = score_maps(_maps_file(tmp_path, "c", worse, probs), ann, settings, "c")
    differences = paired_differences(a, c, settings)
    assert differences["pointing_game"].estimate[-1] < 0


def test_refusals(tmp_path):
    ann, maps, probs = _data_set(6)
    with pytest.raises(ScoreError, match="no maps for 1 of the 24"):
        score_maps(_maps_file(tmp_path, "a", maps[:-1], probs[:-1]), ann)
    with pytest.raises(ScoreError, match="share none"):
        score_maps(_maps_file(tmp_path, "b", maps[:, :1], classes=("Hernia",)), ann)
    extra = _maps_file(
        tmp_path,
        "c",
        np.concatenate([maps, maps[:2]]),
        ids=[*(f"im{i}.png" for i in range(24)), "x", "y"],
    )
    score = score_maps(extra, ann, ScoreSettings(resamples=0))
    assert score.ignored_images == 2
    only_mass = score_maps(
        _maps_file(tmp_path, "d", maps[:, :1], classes=("Mass",)), ann, ScoreSettings(resamples=0)
    )
    assert only_mass.missing_classes == ("Nodule", "Effusion")
    with pytest.raises(ScoreError):
        ScoreSettings(mask_threshold=2.0)


VINDR = "image_id,rad_id,class_name,x_min,y_min,x_max,y_max\n"


def test_command_on_vindr_boxes_with_two_readers_and_chexlocalize_masks(tmp_path, capsys):
    rng = np.random.default_rng(0)
    rows, sizes, ids = [VINDR], ["image_id,height,width\n"], []
    maps = np.zeros((10, 2, 16, 16), np.float32)
    for i in range(10):
        name = f"{i:032x}"
        ids.append(name)
        sizes.append(f"{name},2048,1536\n")
        if i % 3 == 0:
            rows.append(f"{name},R1,No finding,,,,\n")
            continue
        x, y = rng.integers(100, 1000), rng.integers(100, 1500)
        for reader, jitter in (("R8", 0), ("R9", 24)):
            rows.append(
                f"{name},{reader},Aortic enlargement,{x + jitter},{y},{x + 300},{y + 260}\n"
            )
        maps[
            i,
            0,
            y * 16 // 2048 : (y + 260) * 16 // 2048 + 1,
            x * 16 // 1536 : (x + 300) * 16 // 1536 + 1,
        ] = 1
        maps[i, 0, (y + 130) * 16 // 2048, (x + 150) * 16 // 1536] = 2  # the peak inside the box
    (tmp_path / "annotations_test.csv").write_text("".join(rows))
    (tmp_path / "sizes.csv").write_text("".join(sizes))
    good = save_maps(
        tmp_path / "good.npz",
        ids,
        ["Aortic enlargement", "ILD"],
        maps + rng.normal(scale=0.05, size=maps.shape),
    )
    noise = save_maps(
        tmp_path / "noise.npz", ids, ["Aortic enlargement", "ILD"], rng.normal(size=maps.shape)
    )
    out = tmp_path / "vindr"
    args = [
        "score",
        "--maps",
        f"good={good}",
        f"noise={noise}",
        "--annotations",
        str(tmp_path / "annotations_test.csv"),
        "--format",
        "vindr",
        "--sizes",
        str(tmp_path / "sizes.csv"),
        "--out",
        str(out),
        "--resamples",
        "200",
    ]
    assert main(args) == 0
    score = json.loads((out / "score.json").read_text())
    results = score["maps"]["good"]["results"]
    assert score["maps"]["good"]["box_classes"] == ["Aortic enlargement"]
    assert (
        results["accuracy"]["0.1"]["Aortic enlargement"]["estimate"] == 1.0
    )  # both readers' boxes hit
    assert results["pointing_game"]["mean"]["estimate"] == 1.0
    paired = score["paired"]["noise - good"]["pointing_game"]["mean"]
    assert paired["estimate"] < 0 and paired["excludes_zero"]
    assert "noise - good" in (out / "score.md").read_text()
    assert main(args) == 2 and "already holds" in capsys.readouterr().err  # no silent overwrite
    assert main([*args, "--overwrite"]) == 0

    seg = np.zeros((60, 50), np.uint8)
    seg[10:40, 10:30] = 1
    gt = {}
    mask_maps = np.zeros((4, 10, 12, 10), np.float32)
    from cam_boxes_iobb.formats import CHEXLOCALIZE_CLASSES

    for i in range(4):
        rle = encode(seg)
        entry = {
            c: {"size": [60, 50], "counts": encode(np.zeros((60, 50), np.uint8))["counts"].decode()}
            for c in CHEXLOCALIZE_CLASSES
        }
        entry["Edema"] = {"size": rle["size"], "counts": rle["counts"].decode()}
        gt[f"patient{i}_study1_view1_frontal"] = entry
        mask_maps[i, CHEXLOCALIZE_CLASSES.index("Edema"), 2:8, 2:6] = 1
    (tmp_path / "gt_segmentations_test.json").write_text(json.dumps(gt))
    chex = save_maps(tmp_path / "chex.npz", list(gt), CHEXLOCALIZE_CLASSES, mask_maps)
    out = tmp_path / "chex"
    assert (
        main(
            [
                "score",
                "--maps",
                str(chex),
                "--annotations",
                str(tmp_path / "gt_segmentations_test.json"),
                "--format",
                "chexlocalize",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    results = json.loads((out / "score.json").read_text())["maps"]["chex"]["results"]
    assert (
        results["hit_rate"]["Edema"]["estimate"] == 1.0
        and results["miou"]["Edema"]["estimate"] > 0.7
    )
    assert set(results) == {"miou", "hit_rate", "pxap"}
    text = (out / "score.md").read_text()
    assert "PxAP bins of 0.001 (wsolevaluation's `evaluate_wsol`" in text
    coarse = tmp_path / "chex_coarse"
    flags = ["--annotations", str(tmp_path / "gt_segmentations_test.json"), "--resamples", "0"]
    flags += ["--format", "chexlocalize", "--pxap-step", "0.01", "--all-mask-pairs"]
    assert main(["score", "--maps", str(chex), *flags, "--out", str(coarse)]) == 0
    saved = json.loads((coarse / "score.json").read_text())
    assert saved["settings"]["pxap_step"] == 0.01 and not saved["settings"]["true_positives_only"]
    assert "PxAP bins of 0.01" in (coarse / "score.md").read_text()
    assert "`true_pos_only=False`" in (coarse / "score.md").read_text()


def test_command_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "bad.csv").write_text("image_id,rad_id\n")
    code = main(
        [
            "score",
            "--maps",
            str(tmp_path / "none.npz"),
            "--annotations",
            str(tmp_path / "bad.csv"),
            "--format",
            "vindr",
            "--sizes",
            str(tmp_path / "bad.csv"),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and "bad.csv" in err
    assert (
        main(
            [
                "convert",
                "--annotations",
                str(tmp_path / "bad.csv"),
                "--format",
                "nih",
                "--sizes",
                "x",
                "--out",
                "y",
            ]
        )
        == 2
    )


def test_convert_writes_the_neutral_form(tmp_path):
    (tmp_path / "BBox_List_2017.csv").write_text(
        "Image Index,Finding Label,Bbox [x,y,w,h],,,\n00000001_000.png,Mass,1,2,3,4,,,\n"
    )
    assert (
        main(
            [
                "convert",
                "--annotations",
                str(tmp_path),
                "--format",
                "nih",
                "--out",
                str(tmp_path / "n.json"),
            ]
        )
        == 0
    )
    data = json.loads((tmp_path / "n.json").read_text())
    assert (
        data["annotations"][0]["bbox"] == [1.0, 2.0, 3.0, 4.0]
        and data["images"][0]["patient_id"] == "00000001"
    )
    assert not math.isnan(data["annotations"][0]["area"])


def test_unwritable_out_is_one_line(tmp_path, capsys):
    ann, maps, probs = _data_set(7, n=4)
    coco = write_coco(ann, tmp_path / "gt.json")
    maps_file = save_maps(
        tmp_path / "m.npz", [f"im{i}.png" for i in range(4)], CLASSES, maps, probs
    )
    (tmp_path / "taken").write_text("a file, not a folder")
    args = ["score", "--maps", str(maps_file), "--annotations", str(coco)]
    assert main([*args, "--out", str(tmp_path / "taken"), "--resamples", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --out") and "taken" in err and err.count("\n") == 1
