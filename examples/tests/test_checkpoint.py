"""Checkpoints hold no pickle: a run folder from someone else cannot run code on --resume, and a
damaged checkpoint is one line naming it."""

import os
import random

import numpy as np
import pytest
import torch

from cxr_paper.errors import RunError
from cxr_paper.files.checkpoint import load, save_atomic
from cxr_paper.machine.runtime import rng_state, set_rng_state


class Payload:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_every_rng_round_trips_through_a_weights_only_checkpoint(tmp_path):
    torch.manual_seed(1), np.random.seed(2), random.seed(3)  # noqa: NPY002
    np.random.standard_normal()  # noqa: NPY002 - leaves a cached Gaussian in the state
    random.gauss(0, 1)
    save_atomic({"rng": rng_state()}, tmp_path / "c.pt")
    expected = (torch.rand(3), np.random.rand(3), [random.random() for _ in range(3)])  # noqa: NPY002
    expected_gauss = (np.random.standard_normal(), random.gauss(0, 1))  # noqa: NPY002
    torch.manual_seed(9), np.random.seed(9), random.seed(9)  # noqa: NPY002
    set_rng_state(load(tmp_path / "c.pt")["rng"])
    assert torch.equal(torch.rand(3), expected[0])
    np.testing.assert_array_equal(np.random.rand(3), expected[1])  # noqa: NPY002
    assert [random.random() for _ in range(3)] == expected[2]
    assert (np.random.standard_normal(), random.gauss(0, 1)) == expected_gauss  # noqa: NPY002


def test_a_pickled_object_is_refused_and_never_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save({"model": {}, "evil": Payload()}, tmp_path / "stage1_last.pt")
    with pytest.raises(RunError, match=r"stage1_last\.pt: not a readable checkpoint.*pickle"):
        load(tmp_path / "stage1_last.pt")
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("damage", ["truncate", "flip", "text", "empty"])
def test_a_damaged_checkpoint_is_one_line_naming_it(tmp_path, damage):
    path = tmp_path / "stage2_last.pt"
    save_atomic({"weights": torch.randn(64, 64)}, path)
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":  # a byte inside the tensor's data: only the checksum sees it
        data[len(data) // 2] ^= 0xFF
    elif damage == "text":
        data = bytearray(b"not a checkpoint\n")
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    with pytest.raises(RunError) as refused:
        load(path)
    assert "\n" not in str(refused.value) and str(path) in str(refused.value)


def test_a_checkpoint_of_another_shape_is_refused_by_name(tmp_path):
    from training_batches import CPU

    from cxr_paper.learning.stage_loop import load_stage

    path = tmp_path / "stage1_last.pt"
    save_atomic({"model": {"weight": torch.zeros(3)}, "state": {"epoch": 1}}, path)
    with pytest.raises(RunError, match=r"stage1_last\.pt: does not fit this run's stage"):
        load_stage(path, CPU, model=torch.nn.Linear(2, 2))


def test_temporary_files_are_unique_and_cleaned(tmp_path):
    from cxr_paper.files.atomic import atomic_write

    target = tmp_path / "x.npz"
    seen = []
    for _ in range(2):
        atomic_write(target, lambda p: seen.append(p) or np.savez(p, a=np.zeros(2)))
    assert seen[0] != seen[1] and all(p.suffix == ".npz" for p in seen)

    def fail(p):
        p.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, fail)
    assert [p.name for p in tmp_path.iterdir()] == ["x.npz"]
    assert set(np.load(target)) == {"a"}


def test_written_files_and_saved_models_get_the_umask_permissions(tmp_path):
    """mkstemp/mkdtemp create 0600/0700; outputs get what a plain open/mkdir would."""
    import os

    from cxr_paper.deploy.pretrained import CXRLocalizer, save_run_model
    from cxr_paper.files.atomic import atomic_text

    previous = os.umask(0o027)
    try:
        atomic_text(tmp_path / "a.txt", "x")
        model = CXRLocalizer("resnet10t", ["A"], image_size=64)
        folder = save_run_model(
            model.classifier, model.pcm, tmp_path / "m", architecture="resnet10t",
            classes=["A"], image_size=64, normalization=(model.mean, model.std), gamma=10.0,
            prob_threshold=0.5, heatmap_threshold=0.7, card={},
        )  # fmt: skip
    finally:
        os.umask(previous)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o640
    assert folder.stat().st_mode & 0o777 == 0o750
    assert (folder / "model.safetensors").stat().st_mode & 0o777 == 0o640


class TestFullDisk:
    """A full disk is one line naming the folder and its free space, and leaves no temporary
    file (torch.save's zip writer said ``unexpected pos``, predict.py ``OSError: [Errno 28]``)."""

    @staticmethod
    def _full(*args, **kwargs):
        import errno

        raise OSError(errno.ENOSPC, "No space left on device")

    def test_the_atomic_writer_names_the_folder(self, tmp_path):
        from cxr_paper.errors import RunError
        from cxr_paper.files.atomic import atomic_write

        with pytest.raises(RunError, match=rf"{tmp_path}: no space left on the device \(\d+ MiB"):
            atomic_write(tmp_path / "a.json", self._full)
        assert list(tmp_path.iterdir()) == []

    def test_a_checkpoint_on_a_full_disk(self, tmp_path, monkeypatch):
        from pathlib import Path

        from cxr_paper.errors import RunError
        from cxr_paper.files.checkpoint import save_atomic

        save_atomic({"w": torch.ones(3)}, tmp_path / "stage1_last.pt")
        before = (tmp_path / "stage1_last.pt").read_bytes()
        monkeypatch.setattr(Path, "write_bytes", self._full)
        with pytest.raises(RunError, match="no space left on the device"):
            save_atomic({"w": torch.zeros(3)}, tmp_path / "stage1_last.pt")
        assert (tmp_path / "stage1_last.pt").read_bytes() == before  # the old one kept
        assert [p.name for p in tmp_path.iterdir()] == ["stage1_last.pt"]

    def test_predict_on_a_full_disk_is_one_line(self, tmp_path, monkeypatch, capsys):
        import numpy as np
        import predict
        from PIL import Image

        from cxr_paper.deploy.pretrained import CXRLocalizer
        from cxr_paper.errors import run_main

        CXRLocalizer("resnet10t", ["A"], image_size=64).save_pretrained(tmp_path / "model")
        Image.fromarray(np.full((40, 40), 9, np.uint8)).save(tmp_path / "x.png")
        argv = [str(tmp_path / "x.png"), "--model", str(tmp_path / "model")]
        argv += ["--prob-threshold", "0", "--out", str(tmp_path / "p")]
        args = predict.get_args_parser().parse_args(argv)
        monkeypatch.setattr(Image.Image, "save", self._full)
        with pytest.raises(SystemExit) as ended:
            run_main(lambda: predict.main(args))
        error = capsys.readouterr().err.strip()
        assert ended.value.code == 2 and "\n" not in error
        assert f"{tmp_path / 'p'}: no space left on the device" in error
