import json
import os

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


def test_stats_reports_png_sizes_box_frame_and_unreadable(tmp_path, capsys):
    root = tmp_path / "cxr"
    assert main(["synth", str(root), "--patients", "6", "--size", "48"]) == 0
    victim = sorted((root / "images").iterdir())[0]
    victim.write_bytes(victim.read_bytes()[:60])  # a truncated PNG
    capsys.readouterr()
    assert main(["stats", str(root), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["box_frame"] == [1024, 1024] and stats["boxes_outside_frame"] == []
    assert stats["png_sizes"]["48x48"] >= 1 and "unreadable" not in stats
    assert main(["stats", str(root), "--verify", "--workers", "0", "--json"]) == 1
    stats = json.loads(capsys.readouterr().out)
    assert list(stats["unreadable"]) == [victim.name]
    assert main(["stats", str(root), "--verify", "--workers", "2"]) == 1
    text = capsys.readouterr().out
    assert (
        "unreadable images: 1" in text and victim.name in text and "box frame 1024 x 1024" in text
    )


def test_errors_are_one_line_with_status_2(tmp_path, capsys):
    assert main(["stats", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err and "missing" in err
    (tmp_path / "Data_Entry_2017.csv").write_text(
        "Image Index,Finding Labels,Patient ID\na,Flu,1\n"
    )
    assert main(["stats", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'Flu'" in err and "line 2" in err


def test_prepare_into_a_cache_folder(tmp_path):
    root = tmp_path / "cxr"
    assert main(["synth", str(root), "--patients", "4", "--size", "32"]) == 0
    assert main(["prepare", str(root), "--size", "32", "--cache", str(tmp_path / "c")]) == 0
    assert (tmp_path / "c" / "prepared_32" / "images.npy").is_file()
    assert not (root / "prepared_32").exists()
    # a shared cache: the folder gets what mkdir gives under the umask, not mkdtemp's 0700
    mask = os.umask(0o022)
    os.umask(mask)
    assert (tmp_path / "c" / "prepared_32").stat().st_mode & 0o777 == 0o777 & ~mask


def test_verify_lists_a_decompression_bomb(tmp_path, capsys, bomb_png):
    root = tmp_path / "cxr"
    assert main(["synth", str(root), "--patients", "6", "--size", "48"]) == 0
    victim = sorted((root / "images").iterdir())[1]
    victim.write_bytes(bomb_png(20000, 20000))
    capsys.readouterr()
    assert main(["stats", str(root), "--verify", "--workers", "0", "--json"]) == 1
    stats = json.loads(capsys.readouterr().out)
    assert list(stats["unreadable"]) == [victim.name]
    assert "decompression bomb" in stats["unreadable"][victim.name]
