import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import ddp_worker
import pytest
import torch
import torch.multiprocessing as mp

from cxr_paper.checkpoint import load, save_atomic
from cxr_paper.distributed import DistContext
from cxr_paper.runtime import KILL_AT_STEP_ENV
from cxr_paper.sampling import EpochSampler, SeededItems, collate_skipping
from cxr_paper.stage_loop import StageState, run_epoch
from weighted_bce import DynamicWeightedBCEWithLogitsLoss

SCRIPT = Path(__file__).resolve().parents[1] / "reproduce_paper.py"
CPU = DistContext(0, 1, 0, torch.device("cpu"))


def _batches(count: int, size: int = 4, seed: int = 0) -> list[dict]:
    g = torch.Generator().manual_seed(seed)
    return [
        {
            "image": torch.randn(size, 3, 64, 64, generator=g),
            "labels": (torch.rand(size, 14, generator=g) < 0.3).float(),
        }
        for _ in range(count)
    ]


class TestDistributedDataParallel:
    def test_two_gloo_ranks_equal_one_process_accumulating(self, tmp_path):
        batches = _batches(4)
        pattern = str(tmp_path / "rank{rank}.pt")
        mp.spawn(
            ddp_worker.train_rank, args=(2, str(tmp_path / "init"), batches, pattern), nprocs=2
        )
        rank0, rank1 = (torch.load(pattern.format(rank=r)) for r in (0, 1))

        reference = ddp_worker.make_model()
        optimizer = torch.optim.Adam(reference.parameters(), lr=1e-3)
        # micro-batches (rank 0's, rank 1's) accumulated per step, as DDP averages them
        reference.train()
        step = ddp_worker.bce_step(reference)
        run_epoch(
            reference, batches, step, optimizer, StageState(), CPU, "reference", accumulation=2
        )
        params = dict(reference.named_parameters())
        assert params
        for name, value in params.items():
            assert torch.equal(rank0[name], rank1[name]), f"ranks differ on {name}"
            torch.testing.assert_close(rank0[name], value.detach(), rtol=1e-4, atol=1e-5, msg=name)


class TestSampling:
    def test_shards_are_disjoint_equal_and_seeded(self):
        shards = [list(EpochSampler(103, seed=1, rank=r, world_size=4)) for r in range(4)]
        indices = [i for shard in shards for _, i in shard]
        assert len(set(indices)) == len(indices) == 100 and {len(s) for s in shards} == {25}
        assert shards[0] == list(EpochSampler(103, seed=1, rank=0, world_size=4))
        other_epoch = EpochSampler(103, seed=1, rank=0, world_size=4)
        other_epoch.set_epoch(1)
        assert [i for _, i in other_epoch] != [i for _, i in shards[0]]

    def test_eval_shards_cover_everything_once(self):
        shards = [
            [i for _, i in EpochSampler(10, rank=r, world_size=3, shuffle=False, drop_tail=False)]
            for r in range(3)
        ]
        assert sorted(i for s in shards for i in s) == list(range(10))

    def test_resume_skips_consumed_keys(self):
        sampler = EpochSampler(20, seed=3)
        sampler.set_epoch(2)
        full = list(sampler)
        sampler.set_epoch(2, start=7)
        assert list(sampler) == full[7:] and len(sampler) == 13

    def test_augmentation_depends_on_the_key_only(self):
        class Noisy(torch.utils.data.Dataset):
            def __len__(self):
                return 5

            def __getitem__(self, index):
                return torch.rand(3)

        items = SeededItems(Noisy(), seed=9)
        first = [items[(1, i)] for i in range(5)]
        torch.rand(100)  # the global RNG moving does not matter
        again = [items[(1, i)] for i in reversed(range(5))][::-1]
        assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
        assert not torch.equal(items[(2, 0)], first[0])

    def test_unreadable_items_are_skipped_and_counted(self):
        class Broken(torch.utils.data.Dataset):
            def __len__(self):
                return 3

            def __getitem__(self, index):
                if index == 1:
                    raise OSError("x.png: cannot decode image")
                return {"image": torch.zeros(1), "labels": torch.zeros(1)}

        items = SeededItems(Broken(), skip_unreadable=True)
        batch = collate_skipping(lambda xs: {"image": torch.stack([x["image"] for x in xs])})(
            [items[i] for i in range(3)]
        )
        assert batch["skipped"] == 1 and batch["image"].shape == (2, 1)
        assert batch["skipped_names"] == ["item 1"]
        with pytest.raises(OSError, match="x.png"):
            SeededItems(Broken())[1]


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
            run_epoch(model, _batches(4), step, optimizer, state, CPU, "test", on_step=on_step)
        saved = load(checkpoint)
        assert saved["batches"] == 2
        assert all(
            torch.isfinite(v).all() for v in saved["model"].values() if v.is_floating_point()
        )

    def test_crash_while_writing_keeps_the_previous_checkpoint(self, tmp_path, monkeypatch):
        path = tmp_path / "last.pt"
        save_atomic({"step": 1, "weights": torch.ones(3)}, path)

        def torn_save(obj, target):
            Path(target).write_bytes(b"half a checkpoint")
            raise OSError("disk full")

        monkeypatch.setattr(torch, "save", torn_save)
        with pytest.raises(OSError, match="disk full"):
            save_atomic({"step": 2, "weights": torch.zeros(3)}, path)
        monkeypatch.undo()
        assert load(path)["step"] == 1

    def test_sigkill_mid_epoch_then_resume_is_bit_identical(self, tmp_path):
        def run(out, *extra, kill_at=None):
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            env.pop(KILL_AT_STEP_ENV, None)
            if kill_at is not None:
                env[KILL_AT_STEP_ENV] = str(kill_at)
            command = [
                sys.executable,
                str(SCRIPT),
                "--preset",
                "smoke",
                "--models",
                "resnet10t",
                "--epochs",
                "2",
                "--checkpoint-every",
                "3",
                "--out",
                str(out),
                *extra,
            ]
            return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)

        straight = run(tmp_path / "straight")
        assert straight.returncode == 0, straight.stderr[-2000:]
        killed = run(tmp_path / "killed", kill_at=7)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        state = load(tmp_path / "killed" / "resnet10t" / "stage1_last.pt")["state"]
        # 4 steps an epoch: checkpoints at steps 3, 4 (epoch end) and 6; step 7 is lost and redone
        assert state["optimizer_steps"] == 6 and state["epoch"] == 1 and state["batch"] == 2
        resumed = run(tmp_path / "killed", "--resume")
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        a = load(tmp_path / "straight" / "resnet10t" / "final.pt")
        b = load(tmp_path / "killed" / "resnet10t" / "final.pt")
        for part in ("model", "pcm"):
            assert a[part].keys() == b[part].keys()
            for key in a[part]:
                assert torch.equal(a[part][key], b[part][key]), f"{part}.{key} differs after resume"


def test_loader_workers_do_not_change_the_result(tmp_path):
    import reproduce_paper

    from cxr_paper.cli import get_args_parser

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
        finals.append(load(out / "multires_resnet10t" / "final.pt"))
    for part in ("model", "pcm"):
        for key, value in finals[0][part].items():
            assert torch.equal(value, finals[1][part][key]), f"{part}.{key}"
