"""Files users hand us, damaged or hostile: each gives one line naming the file and what is
wrong (a RunError, exit 2), never a traceback; two writers of one folder are refused; outputs
are never silently overwritten."""

import json
import shutil
import sys

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from cxr_paper.configuration.config import CONFIG_FILE, RunConfig, preset_values
from cxr_paper.deploy.pretrained import CXRLocalizer, load_pretrained
from cxr_paper.errors import USER_ERRORS, RunError
from cxr_paper.files.out_folder import FolderLock, check_out

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    CXRLocalizer("resnet10t", ["A", "B"], image_size=64).save_pretrained(folder)
    return folder


class TestRunConfig:
    def _saved(self, tmp_path, **changes):
        values = {**preset_values("smoke"), "out": str(tmp_path), **changes}
        (tmp_path / CONFIG_FILE).write_text(json.dumps(values))
        return tmp_path

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"epochs": "3"}, "\"epochs\" is '3', expected int"),
            ({"models": None}, '"models" is None, expected list'),
            ({"betas": ["a", 1]}, '"betas"'),
            ({"preset": "nope"}, "preset 'nope'"),
        ],
    )
    def test_hand_edited_values_are_named(self, tmp_path, changes, message):
        with pytest.raises(RunError, match=message) as refused:
            RunConfig.load(self._saved(tmp_path, **changes))
        assert str(tmp_path / CONFIG_FILE) in str(refused.value)

    @FUZZ
    @given(key=st.sampled_from(sorted(preset_values("smoke"))), value=json_values)
    @example(key="preset", value=[])  # an unhashable preset once raised TypeError
    def test_any_value_loads_or_is_refused_by_name(self, tmp_path_factory, key, value):
        from cxr_paper.configuration.cli import validate

        folder = self._saved(tmp_path_factory.mktemp("cfg"), **{key: value})
        refused = None
        try:
            validate(RunConfig.load(folder))
        except RunError as error:
            refused = str(error)
        assert refused is None or "\n" not in refused

    @FUZZ
    @given(data=st.binary(max_size=200))
    def test_any_bytes_load_or_are_refused_by_name(self, tmp_path_factory, data):
        folder = tmp_path_factory.mktemp("cfg")
        (folder / CONFIG_FILE).write_bytes(data)
        with pytest.raises(RunError, match=str(folder)):
            RunConfig.load(folder)


class TestSavedModel:
    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"image_size": 60000}, r"image_size 60000 is not an int in \[32, 4096\]"),
            ({"std": [0, 0, 0]}, r"std \[0, 0, 0\] is not 3 finite numbers > 0"),
            ({"classes": []}, "classes"),
            ({"gamma": -1}, "gamma"),
        ],
    )
    def test_config_values_that_cannot_work_are_named(
        self, saved_model, tmp_path, changes, message
    ):
        folder = shutil.copytree(saved_model, tmp_path / "m")
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, **changes}))
        with pytest.raises(RunError, match=message) as refused:
            load_pretrained(folder)
        assert "\n" not in str(refused.value)

    @FUZZ
    @given(
        key=st.sampled_from(["image_size", "mean", "std", "gamma", "classes", "architecture"]),
        value=json_values,
        flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=4),
    )
    def test_any_config_or_weights_damage_loads_or_is_one_line(
        self, saved_model, tmp_path_factory, key, value, flips
    ):
        folder = shutil.copytree(saved_model, tmp_path_factory.mktemp("m") / "m")
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, key: value}))
        weights = bytearray((folder / "model.safetensors").read_bytes())
        for where, byte in flips:
            weights[min(int(where * len(weights)), len(weights) - 1)] = byte
        (folder / "model.safetensors").write_bytes(bytes(weights))
        refused = None
        try:
            load_pretrained(folder)
        except RunError as error:
            refused = str(error)
        assert refused is None or ("\n" not in refused and str(folder) in refused)

    def test_a_mistyped_local_folder_is_not_sent_to_the_hub(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        (tmp_path / "runs").mkdir()
        with pytest.raises(RunError, match="runs/typo: no such folder"):
            load_pretrained("runs/typo")


class TestForeignModels:
    def test_xrv_without_torchxrayvision_says_what_to_install(self, monkeypatch):
        from cxr_paper.configuration.task import chestxray14
        from cxr_paper.scoring.foreign_models import load_foreign

        monkeypatch.setitem(sys.modules, "torchxrayvision", None)
        with pytest.raises(RunError, match="needs torchxrayvision: pip install torchxrayvision"):
            load_foreign("xrv:densenet121-res224-nih", "gradcam", chestxray14())

    @pytest.mark.parametrize("content", [b"not weights at all\n", b"", b"PK\x03\x04garbage"])
    def test_weights_that_are_not_weights_are_one_line(self, tmp_path, content):
        from cxr_paper.configuration.task import chestxray14
        from cxr_paper.scoring.foreign_models import load_foreign

        path = tmp_path / "w.pth"
        path.write_bytes(content)
        with pytest.raises(RunError, match=r"--weights .*w\.pth: not a weights file") as refused:
            load_foreign("timm:resnet18", "gradcam", chestxray14(), str(path))
        assert "\n" not in str(refused.value)


@FUZZ
@given(
    flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=6),
    keep=st.floats(0, 1),
)
@example(flips=[(0.0, 101)], keep=1.0)  # torch's unpickler raised IndexError on this one
def test_mutated_checkpoints_load_only_as_written_or_are_one_line(tmp_path_factory, flips, keep):
    from cxr_paper.files.checkpoint import load, save_atomic

    path = tmp_path_factory.mktemp("ckpt") / "stage1_last.pt"
    state = {"model": {"w": torch.arange(50.0)}, "state": {"epoch": 1, "history": {}}}
    save_atomic(state, path)
    raw = bytearray(path.read_bytes())
    for where, byte in flips:
        raw[min(int(where * len(raw)), len(raw) - 1)] = byte
    path.write_bytes(bytes(raw[: int(keep * len(raw))] if keep < 0.95 else raw))
    refused, loaded = None, None
    try:
        loaded = load(path)
    except RunError as error:
        refused = str(error)
    if refused is not None:
        assert "\n" not in refused and str(path) in refused
    else:  # the flips missed the data
        assert torch.equal(loaded["model"]["w"], state["model"]["w"])


class TestOutputFolders:
    def test_a_second_writer_is_refused_with_the_holders_pid(self, tmp_path):
        import os

        message = rf"being written by process {os.getpid()} on"
        with FolderLock(tmp_path / "run"), pytest.raises(RunError, match=message):
            FolderLock(tmp_path / "run").acquire()
        FolderLock(tmp_path / "run").acquire().release()  # free once the holder ends

    def test_the_lock_dies_with_its_process(self, tmp_path):
        import subprocess

        code = (
            "import sys; from cxr_paper.files.out_folder import FolderLock; "
            f"FolderLock({str(tmp_path)!r}).acquire(); print('held', flush=True); "
            "sys.stdin.read()"
        )
        holder = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunError, match=f"process {holder.pid} on"):
            FolderLock(tmp_path).acquire()
        holder.kill()
        holder.wait()
        FolderLock(tmp_path).acquire().release()

    def test_an_out_with_files_needs_resume_or_overwrite(self, tmp_path):
        out = tmp_path / "out"
        check_out(out, resume=False, overwrite=False, job="reproduce")  # absent: fine
        out.mkdir()
        (out / "notes.txt").write_text("mine")
        with pytest.raises(RunError, match="already holds files"):
            check_out(out, resume=False, overwrite=False, job="reproduce")


class TestPredictNames:
    def test_inputs_sharing_a_stem_get_distinct_outputs(self, saved_model, tmp_path):
        import predict

        for folder, value in (("pa", 40), ("pb", 200)):
            (tmp_path / folder).mkdir()
            Image.fromarray(np.full((64, 64), value, np.uint8)).save(tmp_path / folder / "IM1.png")
        inputs = [str(tmp_path / "pa" / "IM1.png"), str(tmp_path / "pb" / "IM1.png")]
        args = predict.get_args_parser().parse_args(
            [
                *inputs,
                "--model",
                str(saved_model),
                "--out",
                str(tmp_path / "p"),
                "--prob-threshold",
                "0",
            ]
        )
        assert predict.main(args) == 0
        written = {p.name for p in (tmp_path / "p").glob("*.json")}
        assert written == {"pa__IM1.json", "pb__IM1.json"}
        for name, source in (("pa__IM1", inputs[0]), ("pb__IM1", inputs[1])):
            assert json.loads((tmp_path / "p" / f"{name}.json").read_text())["image"] == source
            assert (tmp_path / "p" / f"{name}_A.png").is_file()
        with pytest.raises(RunError, match="already holds files"):
            predict.main(args)

    def test_the_same_file_twice_and_deep_clashes(self):
        from pathlib import Path

        from cxr_paper.files.file_names import output_names

        names = output_names(
            [Path("a/x/s.png"), Path("b/x/s.png"), Path("a/x/s.png"), Path("t.dcm")]
        )
        assert names == ["a__x__s", "b__x__s", "a__x__s_2", "t"]


@pytest.mark.parametrize(
    "kind", ["RunError", *(e.__name__ for e in __import__("cxr_paper.errors").errors.USER_ERRORS)]
)
def test_every_error_a_user_can_fix_ends_a_script_in_one_line(kind, capsys):
    """A truncated prepared store ended in a traceback whose last line was a good
    StaleStoreError: every package's error for bad input now ends a script as a RunError does."""
    from cxr_paper.errors import run_main

    error = {e.__name__: e for e in (RunError, *USER_ERRORS)}[kind]

    def main():
        raise error("/data/x.npy: truncated")

    with pytest.raises(SystemExit) as ended:
        run_main(main)
    assert ended.value.code == 2
    assert capsys.readouterr().err == "error: /data/x.npy: truncated\n"


def test_an_error_of_the_code_itself_is_still_a_traceback():
    from cxr_paper.errors import run_main

    with pytest.raises(ZeroDivisionError):
        run_main(lambda: 1 / 0)
