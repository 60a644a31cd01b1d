"""A job writes only under its ``--out``, deletes only what it wrote there, and neither a second
job nor a link inside ``--out`` can make it write elsewhere (links in the path the user gave are
followed as the user meant). Checked with Python's audit hooks (``write_audit``): every
open-for-write, rename, removal and mkdir a job makes."""

import getpass
import json
import os
import shutil
import tempfile

import numpy as np
import pytest
from PIL import Image
from write_audit import SMOKE_RUN_WRITES, audited_writes, outside, unlisted

from cxr_paper.deploy.pretrained import CXRLocalizer
from cxr_paper.errors import RunError
from cxr_paper.files.atomic import atomic_text, atomic_write
from cxr_paper.files.manifest import MANIFEST_FILE, OutputManifest, record_output
from cxr_paper.files.out_folder import LOCK_FILE, FolderLock, claim


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    CXRLocalizer("resnet10t", ["A", "B"], image_size=64).save_pretrained(folder)
    return folder


def _predict(inputs, model, out, *flags):
    import predict

    args = predict.get_args_parser().parse_args(
        [
            *map(str, inputs),
            "--model",
            str(model),
            "--out",
            str(out),
            "--prob-threshold",
            "0",
            *flags,
        ]
    )
    with audited_writes() as writes:
        status = predict.main(args)
    return status, writes


class TestPredictStaysInOut:
    def test_absolute_inputs_sharing_a_folder_and_a_stem(self, saved_model, tmp_path, monkeypatch):
        """``/data/x/a.png``, ``/data/x/a.jpg`` and the first again by a relative path wrote
        their outputs into ``/``; each now gets its own files under ``--out``."""
        folder = tmp_path / "data" / "x"
        folder.mkdir(parents=True)
        for suffix in ("png", "jpg"):
            Image.fromarray(np.full((48, 40), 90, np.uint8)).save(folder / f"a.{suffix}")
        monkeypatch.chdir(tmp_path)
        inputs = [folder / "a.png", folder / "a.jpg", "data/x/a.png"]
        out = tmp_path / "out"
        status, writes = _predict(inputs, saved_model, out)
        assert status == 0
        assert outside(writes, out) == []
        names = sorted(p.name for p in out.glob("*.json"))
        assert len(names) == 3, names
        sources = {json.loads((out / n).read_text())["image"] for n in names}
        assert sources == {str(folder / "a.png"), str(folder / "a.jpg"), "data/x/a.png"}
        assert unlisted(writes, out) == []

    def test_a_numbered_name_does_not_overwrite_another_input(self, saved_model, tmp_path):
        """``a.dcm a.png a_2.jpg``: ``a.png`` got ``a_2`` and ``a_2.jpg``'s result replaced it."""
        for name in ("a.png", "a_2.jpg", "b.png"):
            Image.fromarray(np.full((40, 40), 120, np.uint8)).save(tmp_path / name)
        shutil.copyfile(tmp_path / "b.png", tmp_path / "a.bmp")
        inputs = [tmp_path / "a.bmp", tmp_path / "a.png", tmp_path / "a_2.jpg"]
        status, _ = _predict(inputs, saved_model, tmp_path / "out")
        assert status == 0
        images = [json.loads(p.read_text())["image"] for p in (tmp_path / "out").glob("*.json")]
        assert sorted(images) == sorted(map(str, inputs))

    def test_class_names_cannot_leave_out(self, tmp_path):
        model = tmp_path / "model"
        CXRLocalizer("resnet10t", ["../../escape", "B"], image_size=64).save_pretrained(model)
        Image.fromarray(np.full((40, 40), 120, np.uint8)).save(tmp_path / "x.png")
        status, writes = _predict([tmp_path / "x.png"], model, tmp_path / "out")
        assert status == 0 and outside(writes, tmp_path / "out") == []
        assert (tmp_path / "out" / "x__._.._escape.png").is_file()


class TestLockAndManifest:
    def test_a_symlinked_lock_is_refused_not_followed(self, tmp_path):
        victim = tmp_path / "victim.txt"
        victim.write_text("precious")
        out = tmp_path / "out"
        out.mkdir()
        (out / LOCK_FILE).symlink_to(victim)
        with pytest.raises(RunError, match="remove it by hand"):
            FolderLock(out).acquire()
        assert victim.read_text() == "precious"

    def test_overwrite_of_a_folder_without_a_manifest_deletes_nothing(self, tmp_path):
        """A home folder holding a config.json was emptied by ``--overwrite``."""
        home = tmp_path / "home"
        for name in (".ssh/id_ed25519", "Documents/thesis.tex", ".bashrc", "config.json"):
            (home / name).parent.mkdir(parents=True, exist_ok=True)
            (home / name).write_text(name)
        before = sorted(p.relative_to(home) for p in home.rglob("*"))
        with pytest.raises(RunError, match="remove by hand what you want gone"):
            claim(home, resume=False, overwrite=True, job="reproduce")
        assert sorted(p.relative_to(home) for p in home.rglob("*")) == before

    def test_overwrite_of_another_kind_of_job_is_refused(self, tmp_path):
        out = tmp_path / "out"
        with claim(out, resume=False, overwrite=False, job="predict"):
            atomic_text(out / "a.json", "{}")
        with pytest.raises(RunError, match="of a 'predict' job, not of 'reproduce'"):
            claim(out, resume=False, overwrite=True, job="reproduce")
        assert (out / "a.json").is_file()

    def test_overwrite_removes_only_listed_entries_never_through_links(self, tmp_path):
        out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
        elsewhere.mkdir()
        (elsewhere / "kept.txt").write_text("outside")
        with claim(out, resume=False, overwrite=False, job="score"):
            atomic_text(out / "score.json", "{}")
            atomic_text(out / "maps" / "cam.json", "{}")
            record_output(out / "viewer", folder=True)
            (out / "viewer").mkdir()
            (out / "viewer" / "x.js").write_text("x")
            atomic_text(out / "link.txt", "mine")
        (out / "user.txt").write_text("the user's")
        (out / "link.txt").unlink()
        (out / "link.txt").symlink_to(elsewhere / "kept.txt")  # listed, now a link
        shutil.rmtree(out / "maps")
        (out / "maps").symlink_to(elsewhere)  # a listed file's folder replaced by a link
        (elsewhere / "cam.json").write_text("outside")
        claim(out, resume=False, overwrite=True, job="score").release()
        assert sorted(p.name for p in out.iterdir()) == sorted(
            [LOCK_FILE, MANIFEST_FILE, "maps", "user.txt"]
        )
        assert (elsewhere / "kept.txt").read_text() == "outside"
        assert (elsewhere / "cam.json").read_text() == "outside"

    @pytest.mark.parametrize("entry", ["../x", "/etc/passwd", "a/../../x", "", 3])
    def test_a_manifest_entry_that_leaves_the_folder_is_refused(self, tmp_path, entry):
        header = json.dumps({"version": 1, "job": "score"})
        (tmp_path / MANIFEST_FILE).write_text(f"{header}\n{json.dumps(entry)}\n")
        with pytest.raises(RunError, match="leaves its folder|is not a relative path") as refused:
            OutputManifest.read(tmp_path)
        assert str(tmp_path / MANIFEST_FILE) in str(refused.value)

    def test_a_line_torn_by_a_crash_is_not_an_entry(self, tmp_path):
        """Entries are appended before their files are written: a torn last line's file was
        never written, and the lines before it still count."""
        out = tmp_path / "out"
        with claim(out, resume=False, overwrite=False, job="score"):
            atomic_text(out / "a.json", "{}")
        with open(out / MANIFEST_FILE, "a") as handle:
            handle.write('"b.js')  # the crash came mid-line
        assert OutputManifest.read(out).entries == ["a.json"]
        with claim(out, resume=True, overwrite=False, job="score"):
            atomic_text(out / "c.json", "{}")
        assert OutputManifest.read(out).entries == ["a.json", "c.json"]

    def test_no_write_goes_through_a_link_inside_out(self, tmp_path):
        out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
        elsewhere.mkdir()
        with claim(out, resume=False, overwrite=False, job="reproduce"):
            (out / "resnet10t").symlink_to(elsewhere)
            with pytest.raises(RunError, match="symbolic link inside the output folder"):
                atomic_text(out / "resnet10t" / "result.json", "{}")
        assert list(elsewhere.iterdir()) == []

    def test_links_in_the_users_own_path_are_followed(self, tmp_path):
        real = tmp_path / "real"
        real.mkdir()
        (tmp_path / "runs").symlink_to(real)
        with claim(tmp_path / "runs" / "a", resume=False, overwrite=False, job="score"):
            atomic_text(tmp_path / "runs" / "a" / "score.json", "{}")
        assert OutputManifest.read(real / "a").entries == ["score.json"]

    def test_a_crash_leaves_no_unlisted_file(self, tmp_path):
        out = tmp_path / "out"
        with (
            claim(out, resume=False, overwrite=False, job="score"),
            pytest.raises(ZeroDivisionError),
        ):
            atomic_write(out / "half.json", lambda p: (p.write_text("half"), 1 / 0))
        assert OutputManifest.read(out).entries == ["half.json"]
        assert sorted(p.name for p in out.iterdir()) == sorted([LOCK_FILE, MANIFEST_FILE])


def test_the_smoke_run_writes_only_under_out_and_lists_every_output(smoke_run):
    out, _ = smoke_run
    assert SMOKE_RUN_WRITES, "the smoke run was not audited"
    assert outside(SMOKE_RUN_WRITES, out) == []
    assert unlisted(SMOKE_RUN_WRITES, out) == []
    assert any(os.path.basename(p) == "report.md" for _, p in SMOKE_RUN_WRITES)


def test_score_model_writes_only_under_out(smoke_run, tmp_path):
    import score_model

    out = tmp_path / "score"
    args = score_model.get_args_parser().parse_args(
        ["--model", str(smoke_run[0] / "resnet10t"), "--out", str(out), "--preset", "smoke"]
    )
    with audited_writes() as writes:
        score_model.main(args)
    data = smoke_run[0] / "data"
    assert outside(writes, out, data) == []  # the prepared store lives beside the data
    assert unlisted(writes, out) == []


def test_ablation_writes_only_into_its_run_and_lists_it(smoke_run, tmp_path):
    import ablate_pcm

    run = shutil.copytree(smoke_run[0], tmp_path / "run")
    args = ablate_pcm.get_args_parser().parse_args(
        ["--run", str(run), "--variants", "untrained", "--quick"]
    )
    with audited_writes() as writes:
        ablate_pcm.main(args)
    assert outside(writes, run) == []
    assert unlisted(writes, run) == []
    assert "ablation.json" in OutputManifest.read(run).entries


def test_scoring_maps_writes_only_under_out(smoke_run, tmp_path):
    from cam_boxes_iobb.cli import main

    maps = smoke_run[0] / "multires_resnet10t" / "maps" / "cam.npz"
    (data,) = (smoke_run[0] / "data").iterdir()
    out = tmp_path / "score"
    argv = ["score", "--maps", str(maps), "--annotations", str(data), "--format", "nih"]
    with audited_writes() as writes:
        assert main([*argv, "--score-size", "64", "64", "--out", str(out)]) == 0
    assert outside(writes, out) == [] and (out / "score.json").is_file()


def test_export_writes_only_its_file(smoke_run, tmp_path):
    import export_onnx

    pytest.importorskip("onnxruntime")
    target = tmp_path / "out" / "model.onnx"
    args = export_onnx.get_args_parser().parse_args(
        ["--model", str(smoke_run[0] / "resnet10t"), "--out", str(target)]
    )
    with audited_writes() as writes:
        export_onnx.main(args)
    # torch.export's own compile cache (TORCHINDUCTOR_CACHE_DIR, by default in the system's
    # temporary folder) is PyTorch's, not an output
    cache = os.environ.get("TORCHINDUCTOR_CACHE_DIR") or os.path.join(
        tempfile.gettempdir(), f"torchinductor_{getpass.getuser()}"
    )
    assert outside(writes, target.parent, cache) == [] and target.is_file()
