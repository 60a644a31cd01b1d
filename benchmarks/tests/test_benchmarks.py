import json

import inference_speed
import stages


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
        for variant in ("fp32", "channels_last", "bf16"):
            assert result["latency_ms"][variant]["median_ms"] > 0
            assert result["throughput"][variant] > 0
        assert result["params_with_pcm"] > result["params"]
    assert "multires_resnet10t / resnet10t" in report["ratios"]


def test_stages_quick(tmp_path):
    args = stages.get_args_parser().parse_args(["--quick", "--json", str(tmp_path / "s.json")])
    report = stages.main(args)
    assert set(report["pcm_ms"]) == {"8x8_dense", "8x8_chunked_256"}
    assert report["cam_to_metric"]["images_per_s_one_core"] > 0
    assert (
        report["loader"]["png_images_per_s"] > 0 and report["loader"]["prepared_images_per_s"] > 0
    )
