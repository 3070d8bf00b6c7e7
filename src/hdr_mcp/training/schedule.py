"""Data order: which items (and augmentation variants) make global batch ``step``.

A pure function of (training items, buckets, batch size, seed, step): epoch ``e`` shuffles the
items with ``default_rng([seed, e])``, groups them by bucket (a batch never mixes sizes), cuts
each group into batches (a short last batch is filled from the start of its group) and shuffles
the batches. Step ``s`` (1-based) is batch ``(s - 1) mod B`` of epoch ``(s - 1) // B``. A resumed
run therefore sees exactly the batches an uninterrupted one would, and the checkpoint's record
of the data order (epoch, position) is a check, not a necessity.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hdr_mcp.errors import InvalidArgument

__all__ = ["BatchSchedule"]


class BatchSchedule:
    def __init__(self, items: Sequence, buckets: dict, batch_size: int, seed: int,
                 variants: int) -> None:
        if not items:
            raise InvalidArgument("validation_fraction", None, "no training items are left")
        self.items = [item.index for item in items]
        self.buckets = buckets
        self.batch_size = batch_size
        self.seed = seed
        self.variants = variants
        groups = {}
        for index in self.items:
            groups.setdefault(self._key(index), []).append(index)
        self.batches_per_epoch = sum(-(-len(g) // batch_size) for g in groups.values())
        self._epochs: dict[int, list[list[int]]] = {}

    def _key(self, index: int) -> tuple[int, int]:
        bucket = self.buckets[index]
        return bucket.width, bucket.height

    def _epoch(self, epoch: int) -> list[list[int]]:
        if epoch not in self._epochs:
            rng = np.random.default_rng([self.seed, epoch])
            order = [self.items[i] for i in rng.permutation(len(self.items))]
            groups: dict[tuple[int, int], list[int]] = {}
            for index in order:
                groups.setdefault(self._key(index), []).append(index)
            batches = []
            for group in groups.values():
                for start in range(0, len(group), self.batch_size):
                    batch = group[start:start + self.batch_size]
                    while len(batch) < self.batch_size:
                        batch += group[: self.batch_size - len(batch)]
                    batches.append(batch)
            self._epochs = {epoch: [batches[i] for i in rng.permutation(len(batches))]}
        return self._epochs[epoch]

    def position(self, step: int) -> tuple[int, int]:
        """(epoch, batch index within it) of 1-based ``step``."""
        return divmod(step - 1, self.batches_per_epoch)

    def batch(self, step: int) -> list[tuple[int, int]]:
        """The (item index, variant) pairs of global batch ``step``."""
        epoch, position = self.position(step)
        return [(index, epoch % self.variants) for index in self._epoch(epoch)[position]]
