"""Overlap drawing the next minibatch (coupling plan, gather) with the current network step.

:class:`Prefetcher` calls ``draw(generator)`` for step ``s + 1`` in one background thread while the
caller trains on step ``s``. Draws use the generator strictly one after another, in step order, so
the batches are identical to calling ``draw`` inline with the same seed. POT's solvers and torch ops
release the GIL, so the plan runs concurrently with the network step when a core is free (on a GPU:
the CPU-side plan runs while the device computes).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import torch


class Prefetcher:
    """Draw ``total`` batches ahead by one, in a background thread.

    Parameters
    ----------
    draw : callable ``(generator) -> batch``
    generator : torch.Generator
        Used only by ``draw``, only in the background thread while a draw is pending.
    total : int
        Number of batches to draw (no draw beyond it, so the generator ends where an inline loop
        would).

    Attributes
    ----------
    pending_state : Tensor
        The generator state before the pending draw: what an inline loop's generator holds after
        the batches returned so far (checkpoints store this one).
    """

    def __init__(self, draw: Callable, generator: torch.Generator, total: int):
        self.draw, self.generator, self.remaining = draw, generator, int(total)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowalign-prefetch")
        self._future = None
        self._submit()

    def _submit(self) -> None:
        self.pending_state = self.generator.get_state()
        self._future = self._pool.submit(self.draw, self.generator) if self.remaining > 0 else None

    def next(self):
        """The next batch (waits for its draw), and start drawing the one after."""
        if self._future is None:
            raise StopIteration("all prefetched batches were returned")
        batch = self._future.result()
        self.remaining -= 1
        self._submit()
        return batch

    def close(self) -> None:
        """Wait for a pending draw, discard it and restore the generator to :attr:`pending_state`."""
        if self._future is not None:
            try:
                self._future.result()
            except BaseException:  # noqa: BLE001 - the discarded draw's error is not the caller's
                pass
            self._future = None
            self.generator.set_state(self.pending_state)
        self._pool.shutdown(wait=True)
