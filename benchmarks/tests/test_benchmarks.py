import json
import math
import os

import inference_speed
import pytest
import stages


@pytest.mark.slow  # runs a benchmark
def test_inference_speed_quick(tmp_path):
    path = tmp_path / "out.json"
    args = inference_speed.get_args_parser().parse_args(
        [
            "--models",
            "resnet10t",
            "multires_resnet10t",
            "--size",
            "64",
            "--quick",
            "--json",
            str(path),
        ]
    )
    report = inference_speed.main(args)
    assert json.loads(path.read_text()) == json.loads(json.dumps(report))
    for result in report["models"].values():
        for variant in ("fp32", "channels_last"):
            assert result["latency_ms"][variant]["median_ms"] > 0
            assert result["throughput"][variant] > 0
        # bf16 is timed only where the device computes it natively
        assert ("bf16" in result["unsupported"]) != ("bf16" in result["latency_ms"])
        assert result["params_with_pcm"] > result["params"]
    assert "multires_resnet10t / resnet10t" in report["ratios"]["fp32"]


@pytest.mark.slow  # runs a benchmark
def test_stages_quick(tmp_path):
    args = stages.get_args_parser().parse_args(["--quick", "--json", str(tmp_path / "s.json")])
    report = stages.main(args)
    assert set(report["pcm_ms"]) == {"8x8_dense", "8x8_chunked_256"}
    assert set(report["pcm_memory"]) == {"64px_dense", "64px_auto"}
    for result in report["pcm_memory"].values():  # CAMs of 8 x 8: a 64 x 64 float32 affinity
        assert result["ms"] > 0 and math.isfinite(result["peak_mib"])
        assert result["affinity_mib"] == pytest.approx(64 * 64 * 4 / 2**20)
    assert report["cam_to_metric"]["images_per_s_one_core"] > 0
    assert (
        report["loader"]["png_images_per_s"] > 0 and report["loader"]["prepared_images_per_s"] > 0
    )


def test_train_speed_cpu(tmp_path):
    import train_speed

    flags = ["--device", "cpu", "--models", "multires_resnet10t", "--batch", "4", "--size", "64"]
    flags += ["--steps", "1", "--json", str(tmp_path / "t.json")]
    args = train_speed.get_args_parser().parse_args(flags)
    report = train_speed.main(args)
    assert report["models"]["multires_resnet10t"]["images_per_s"] > 0
    assert json.loads((tmp_path / "t.json").read_text())["batch"] == 4


@pytest.mark.slow  # runs a benchmark
def test_demo_time_runs_the_demo(tmp_path):
    import demo_time

    tiny = ["--synthetic-patients", "10", "--synthetic-size", "64", "--image-size", "64"]
    tiny += ["--epochs", "1", "--pcm-epochs", "1", "--models", "resnet10t"]
    tiny += ["--latency-repeats", "1", "--figure-images", "1"]
    args = demo_time.get_args_parser().parse_args(
        ["--runs", "1", "--json", str(tmp_path / "d.json"), "--", *tiny]
    )
    report = demo_time.main(args)
    assert len(report["seconds"]) == 1 and report["median_minutes"] > 0
    assert report["flags"] == tiny


@pytest.mark.slow  # runs a benchmark
def test_kernel_choice_repeats_within_each_setting(tmp_path):
    import kernel_choice

    path = tmp_path / "kernels.json"
    # three of the settings (each runs twice, each run a fresh process importing torch): the
    # whole set took 148 s of the suite; the committed results file holds every setting
    chosen = ["1 thread", "reproducible", "reproducible, AVX2 machine emulated"]
    args = kernel_choice.get_args_parser().parse_args(
        ["--steps", "1", "--batch", "2", "--size", "32", "--json", str(path), "--settings", *chosen]
    )
    report = kernel_choice.main(args)
    assert list(report["settings"]) == chosen
    for setting in report["settings"].values():
        first, second = setting["runs"]
        for model in kernel_choice.MODELS:
            assert first[model]["sha256"] == second[model]["sha256"]
            assert first[model]["seconds_per_step"] > 0
    one_thread = report["settings"]["1 thread"]["runs"][0]
    assert one_thread[kernel_choice.MODELS[0]]["threads"] == 1
    mode = report["settings"]["reproducible"]["runs"][0]
    assert mode[kernel_choice.MODELS[0]]["threads"] == 1
    assert mode[kernel_choice.MODELS[0]]["cpu_capability"] == "AVX2"
    emulated = report["settings"]["reproducible, AVX2 machine emulated"]["runs"][0]
    for model in kernel_choice.MODELS:  # the mode's point: another machine, the same weights
        assert emulated[model]["sha256"] == mode[model]["sha256"]


def test_report_html_quick(tmp_path):
    from browser import unavailable_reason

    reason = unavailable_reason()
    if reason is not None:
        if os.environ.get("CXR_REQUIRE_TEST_DEPENDENCIES"):
            pytest.fail(f"no browser: {reason} (CXR_REQUIRE_TEST_DEPENDENCIES is set)")
        pytest.skip(f"no browser: {reason}")
    import report_html

    args = report_html.get_args_parser().parse_args(
        ["--images", "12", "--models", "2", "--repeats", "1", "--json", str(tmp_path / "r.json")]
    )
    report = report_html.main(args)
    assert report["load_to_first_image_s"] > 0 and report["next_image_s"] > 0


def test_cam_methods_quick(tmp_path):
    import cam_methods

    flags = ["--model", "multires_resnet10t", "--size", "32", "--batch", "2", "--classes", "3"]
    flags += ["--methods", "gradcam", "--min-run-time", "0.01", "--json", str(tmp_path / "c.json")]
    args = cam_methods.get_args_parser().parse_args(flags)
    report = cam_methods.main(args)
    timing = report["methods"]["gradcam"]
    assert timing["library_ms"] > 0 and timing["batched_ms"] > 0
    assert json.loads((tmp_path / "c.json").read_text())["classes"] == 3


@pytest.mark.slow  # runs a benchmark
def test_onnx_speed_quick(tmp_path):
    import onnx_speed

    path = tmp_path / "onnx.json"
    args = onnx_speed.get_args_parser().parse_args(
        [
            *("--size", "64", "--batches", "1", "2", "--rounds", "2"),
            *("--min-run-time", "0.05", "--json", str(path)),
        ]
    )
    report = onnx_speed.main(args)
    assert json.loads(path.read_text()) == json.loads(json.dumps(report))
    assert [(r["model"], r["batch"]) for r in report["rows"]] == [
        ("resnet10t", 1), ("resnet10t", 2), ("multires_resnet10t", 1), ("multires_resnet10t", 2),
    ]  # fmt: skip
    for row in report["rows"]:
        assert row["ratio_min"] <= row["ratio_onnxruntime_over_pytorch"] <= row["ratio_max"]
        assert row["pytorch_ms_per_image"] > 0 and row["onnxruntime_ms_per_image"] > 0


@pytest.mark.slow  # runs a benchmark
def test_index_metadata_quick(tmp_path, monkeypatch):
    import sys

    import index_metadata

    path = tmp_path / "out.json"
    argv = ["index_metadata.py", "--repeats", "1", "--mimic-images", "2000", "--json", str(path)]
    monkeypatch.setattr(sys, "argv", [*argv, "--layouts", "siim", "mimic"])
    index_metadata.main()
    layouts = json.loads(path.read_text())["layouts"]
    assert layouts["siim"]["rows"] == 12_047 and layouts["mimic"]["rows"] > 0
    assert all(
        row["seconds_median"] >= 0 and row["peak_mib_median"] > 0 for row in layouts.values()
    )


@pytest.mark.slow  # runs a benchmark
def test_loader_speed_quick(tmp_path, monkeypatch):
    import sys

    import loader_speed

    path = tmp_path / "out.json"
    argv = ["loader_speed.py", "--images", "2", "--size", "256", "--repeats", "1"]
    monkeypatch.setattr(sys, "argv", [*argv, "--json", str(path)])
    loader_speed.main()
    formats = json.loads(path.read_text())["formats"]
    assert set(formats) == {"jpg", "png", "dcm"}
    assert all(row["images_per_s_median"] > 0 for row in formats.values())
