"""Seeded, sharded sampling: disjoint shards, exact resume, augmentation by key."""

import pytest
import torch

from cxr_paper.inputs.sampling import EpochSampler, SeededItems, collate_skipping


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
