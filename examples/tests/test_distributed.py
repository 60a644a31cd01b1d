"""Several processes (gloo ranks on the CPU) give what one process gives."""

import json

import ddp_worker
import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from planted_task import TASK
from training_batches import CPU, random_batches

from cxr_paper.learning.stage_loop import StageState, run_epoch
from cxr_paper.scoring.evaluation import evaluate_test

pytestmark = pytest.mark.slow  # spawns two gloo ranks


class TestDistributedDataParallel:
    def test_two_gloo_ranks_equal_one_process_accumulating(self, tmp_path):
        batches = random_batches(4)
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


class TestBestCheckpointUnderDDP:
    def test_every_rank_restores_the_best_epoch_when_it_is_the_last(self, tmp_path):
        """Rank 0 writes ``stage1_best.pt`` slowly after the last epoch, the best: each rank
        must end with that epoch's weights, not the previous best file on disk."""
        batches = random_batches(4)
        mp.spawn(
            ddp_worker.fit_rank,
            args=(2, str(tmp_path / "init"), batches, str(tmp_path), [0.6, 0.7]),
            nprocs=2,
        )
        ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
        last_epoch = ranks[0]["epochs"][-1]
        assert not torch.equal(
            ranks[0]["epochs"][0]["classifier.weight"], last_epoch["classifier.weight"]
        )
        for saved in ranks:
            for name, value in last_epoch.items():
                assert torch.equal(saved["final"][name], value), name


class TestEvaluationUnderDDP:
    def test_every_rank_holds_the_whole_split_in_rank_order(self, tmp_path):
        """Two gloo ranks each score their shard; after the gather both hold what one process
        scoring rank 0's images, then rank 1's, holds: scores, records, maps and names."""
        pattern = str(tmp_path / "rank{rank}.pt")
        mp.spawn(ddp_worker.evaluate_rank, args=(2, str(tmp_path / "init"), pattern), nprocs=2)
        batches, model = ddp_worker.planted_split()
        whole = evaluate_test(model, None, batches[0::2] + batches[1::2], CPU, task=TASK)
        expected = ddp_worker.evaluation_summary(whole)
        for rank in (0, 1):
            got = torch.load(pattern.format(rank=rank), weights_only=False)
            assert got["image_names"] == expected["image_names"], rank
            assert (got["box_images"], got["maps"], got["viewer"]) == (
                expected["box_images"],
                expected["maps"],
                expected["viewer"],
            ), rank
            assert json.dumps(got["localization"]) == json.dumps(expected["localization"]), rank
            assert got["auroc"] == pytest.approx(expected["auroc"], nan_ok=True), rank
            for kind, state in expected["scores"].items():
                for key, value in state.items():
                    np.testing.assert_array_equal(got["scores"][kind][key], value, f"{rank} {key}")
