"""Several processes (gloo ranks on the CPU) give what one process gives."""

import ddp_worker
import pytest
import torch
import torch.multiprocessing as mp
from training_batches import CPU, random_batches

from cxr_paper.learning.stage_loop import StageState, run_epoch

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
