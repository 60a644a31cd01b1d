"""A long run loses nothing: bad losses stop it, torn writes and SIGKILL are survived, and
loader workers do not change the result."""

import errno
import math
import signal
from pathlib import Path

import ddp_worker
import pytest
import torch
from script_runs import run_reproduce_paper
from training_batches import CPU, random_batches

from cxr_paper.errors import RunError
from cxr_paper.files.checkpoint import load, save_atomic
from cxr_paper.learning.stage_loop import StageState, run_epoch
from cxr_paper.machine.runtime import KILL_AT_STEP_ENV
from weighted_bce import DynamicWeightedBCEWithLogitsLoss


def trained_weights(model_folder: Path) -> dict[str, torch.Tensor]:
    """The classifier's and PCM's weights a run saved (its shareable ``pretrained/`` folder)."""
    from safetensors.torch import load_file

    return load_file(model_folder / "pretrained" / "model.safetensors")


class TestResilience:
    def test_non_finite_loss_stops_and_names_the_batch(self, tmp_path):
        model = ddp_worker.make_model()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        checkpoint = tmp_path / "last.pt"
        calls = {"n": 0}

        def criterion(logits, labels):
            calls["n"] += 1
            loss = DynamicWeightedBCEWithLogitsLoss()(logits, labels)
            return loss * math.nan if calls["n"] == 3 else loss

        state = StageState()

        def on_step():
            save_atomic({"model": model.state_dict(), "batches": state.batch}, checkpoint)

        step = ddp_worker.bce_step(model, criterion)
        with pytest.raises(FloatingPointError, match=r"Non-finite loss \(nan\) at test, batch 2"):
            run_epoch(
                model, random_batches(4), step, optimizer, state, CPU, "test", on_step=on_step
            )
        saved = load(checkpoint)
        assert saved["batches"] == 2
        assert all(
            torch.isfinite(v).all() for v in saved["model"].values() if v.is_floating_point()
        )

    def test_crash_while_writing_keeps_the_previous_checkpoint(self, tmp_path, monkeypatch):
        path = tmp_path / "last.pt"
        save_atomic({"step": 1, "weights": torch.ones(3)}, path)

        def torn_write(self, data):
            with open(self, "wb") as handle:  # half the bytes, then the disk is full
                handle.write(bytes(data)[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(Path, "write_bytes", torn_write)
        with pytest.raises(RunError, match="no space left on the device"):
            save_atomic({"step": 2, "weights": torch.zeros(3)}, path)
        monkeypatch.undo()
        assert load(path)["step"] == 1

    @pytest.mark.slow  # three pipeline runs
    def test_sigkill_mid_epoch_then_resume_is_bit_identical(self, tmp_path):
        def run(out, *extra, kill_at=None):
            flags = ["--preset", "smoke", "--models", "resnet10t", "--epochs", "2"]
            flags += ["--checkpoint-every", "3", "--out", str(out), *extra]
            kill = None if kill_at is None else (KILL_AT_STEP_ENV, kill_at)
            return run_reproduce_paper(flags, kill, timeout=600)

        straight = run(tmp_path / "straight")
        assert straight.returncode == 0, straight.stderr[-2000:]
        killed = run(tmp_path / "killed", kill_at=7)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        state = load(tmp_path / "killed" / "resnet10t" / "stage1_last.pt")["state"]
        # 4 steps an epoch: checkpoints at steps 3, 4 (epoch end) and 6; step 7 is lost and redone
        assert state["optimizer_steps"] == 6 and state["epoch"] == 1 and state["batch"] == 2
        resumed = run(tmp_path / "killed", "--resume")
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        a = trained_weights(tmp_path / "straight" / "resnet10t")
        b = trained_weights(tmp_path / "killed" / "resnet10t")
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), f"{key} differs after resume"


@pytest.mark.slow  # two pipeline runs
def test_loader_workers_do_not_change_the_result(tmp_path):
    import reproduce_paper

    from cxr_paper.configuration.cli import get_args_parser

    finals = []
    for workers in (0, 2):
        out = tmp_path / f"workers{workers}"
        args = get_args_parser().parse_args(
            [
                "--preset",
                "smoke",
                "--models",
                "multires_resnet10t",
                "--workers",
                str(workers),
                "--out",
                str(out),
            ]
        )
        reproduce_paper.main(args)
        finals.append(trained_weights(out / "multires_resnet10t"))
    assert finals[0].keys() == finals[1].keys()
    for key, value in finals[0].items():
        assert torch.equal(value, finals[1][key]), key
