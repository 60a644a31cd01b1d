"""Deterministic, resumable, shardable data order and per-sample augmentation seeds.

Exact resume needs the same images, in the same order, with the same augmentation, whatever the
number of DataLoader workers and wherever a run was stopped. So the sampler yields
``(epoch, index)`` keys from a permutation that depends only on ``(seed, epoch)``, each rank takes
every ``world_size``-th key, a resumed epoch skips the keys already consumed, and
:class:`SeededItems` seeds torch's RNG from the key before the (random) transform runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.utils.data import Dataset, Sampler

_MIX = (1_000_003, 10_007)


class EpochSampler(Sampler[tuple[int, int]]):
    """``(epoch, index)`` keys for one rank: a seeded permutation per epoch, sharded, resumable.

    For training (``drop_tail=True``) every rank gets the same number of keys: the tail of the
    permutation that does not divide evenly is dropped, so DDP ranks run the same number of
    steps. For evaluation (``drop_tail=False``) every index is served exactly once overall.

    Args:
        size: Items in the data set.
        seed: The permutation's seed.
        rank: This process's rank.
        world_size: Processes.
        shuffle: Permute (training) or keep the order.
        drop_tail: Give every rank the same number of keys.
    """

    def __init__(
        self,
        size: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
        drop_tail: bool = True,
    ) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(
                f"Expected 0 <= rank < world_size, got rank {rank}, world {world_size}."
            )
        self.size, self.seed, self.rank, self.world_size = size, seed, rank, world_size
        self.shuffle, self.drop_tail = shuffle, drop_tail
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Serve ``epoch``, skipping this rank's first ``start`` keys (already consumed)."""
        self.epoch, self.start = epoch, start

    def _keys(self) -> list[int]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * _MIX[0] + self.epoch)
            order = torch.randperm(self.size, generator=generator).tolist()
        else:
            order = list(range(self.size))
        usable = len(order) - len(order) % self.world_size if self.drop_tail else len(order)
        return order[self.rank : usable : self.world_size]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for index in self._keys()[self.start :]:
            yield self.epoch, index

    def __len__(self) -> int:
        return max(0, len(self._keys()) - self.start)


class SeededItems(Dataset):
    """Wrap a dataset so that item ``(epoch, index)`` is drawn with its own RNG seed.

    Items that fail to load with an ``OSError`` (a corrupt or vanished image) are returned as
    ``{"unreadable": name}`` when ``skip_unreadable`` is set, and :func:`collate_skipping` drops
    them and lists their names.

    Args:
        dataset: A map-style data set whose ``__getitem__`` takes an index.
        seed: Added to each key's seed.
        skip_unreadable: Return unreadable items as markers instead of raising.
    """

    def __init__(self, dataset: Dataset, seed: int = 0, skip_unreadable: bool = False) -> None:
        self.dataset, self.seed, self.skip_unreadable = dataset, seed, skip_unreadable

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def name(self, index: int) -> str:
        records = getattr(self.dataset, "records", None)
        if records is not None:
            return records[index].image_index
        table = getattr(self.dataset, "table", None)
        return table.image_ids[index] if table is not None else f"item {index}"

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, Any]:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed((self.seed * _MIX[0] + epoch) * _MIX[1] + index)
            try:
                return self.dataset[index]
            except OSError as error:
                if not self.skip_unreadable:
                    raise
                print(f"warning: skipped unreadable image: {error}", flush=True)
                return {"unreadable": self.name(index)}


def collate_skipping(
    collate: Callable[[list[dict[str, Any]]], dict[str, Any]],
) -> Callable[[list[dict[str, Any]]], dict[str, Any]]:
    """Wrap a collate function: drop unreadable items, list them in ``batch["skipped_names"]``
    and count them in ``batch["skipped"]``.

    Args:
        collate: The collate function for the readable items.

    Returns:
        The wrapped function.
    """

    def wrapped(items: list) -> dict[str, Any]:
        skipped = [item["unreadable"] for item in items if "unreadable" in item]
        kept = [item for item in items if "unreadable" not in item]
        batch = collate(kept) if kept else {}
        batch.update(skipped=len(skipped), skipped_names=skipped)
        return batch

    return wrapped
