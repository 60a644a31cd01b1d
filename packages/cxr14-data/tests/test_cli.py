import json

from cxr14_data.cli import main


def test_synth_stats_prepare(tmp_path, capsys):
    root = tmp_path / "cxr"
    assert main(["synth", str(root), "--patients", "8", "--size", "32"]) == 0
    assert main(["stats", str(root), "--json"]) == 0
    out = capsys.readouterr().out
    stats = json.loads(out[out.index("{") :])
    assert stats["patients"] == 8 and stats["images"] == stats["splits"]["all"]["images"]
    assert stats["splits"]["train"]["images"] + stats["splits"]["val"]["images"] <= stats["images"]
    assert main(["stats", str(root)]) == 0
    assert "Hernia" in capsys.readouterr().out
    assert main(["prepare", str(root), "--size", "32"]) == 0
    assert (root / "prepared_32" / "images.npy").is_file()
