"""Overlap drawing minibatches (coupling plans, gathers) with the network steps, on idle cores.

Every training step draws its batch with its own generator, seeded from the trainer's sample
generator in step order (:func:`step_generator`). Draws are then independent of each other, so
:class:`Prefetcher` can run up to ``workers`` of them at once in background threads while the caller
trains, and the batches are still identical to calling ``draw(step_generator(generator))`` inline,
step after step. POT's solvers, SciPy's assignment and torch ops release the GIL, so plans run
concurrently with the network step and with each other when cores are free (on a GPU: the CPU-side
plans run while the device computes).
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import torch

SEED_BOUND = 2**63 - 1


def step_generator(generator: torch.Generator) -> torch.Generator:
    """A fresh CPU generator for one step's draw, seeded by one draw from ``generator``."""
    seed = int(torch.randint(SEED_BOUND, (1,), generator=generator))
    return torch.Generator().manual_seed(seed)


class Prefetcher:
    """Draw ``total`` batches ahead, up to ``workers`` at a time, in background threads.

    Parameters
    ----------
    draw : callable ``(generator) -> batch``
        Uses only the generator it is given (one per step, :func:`step_generator`).
    generator : torch.Generator
        The parent generator; read only by :class:`Prefetcher`, in the caller's thread.
    total : int
        Number of batches to draw (no draw beyond it, so the parent generator ends where an inline
        loop would).
    workers : int
        Draws in flight at once (1: the next step's batch is drawn during the current step).

    Attributes
    ----------
    pending_state : Tensor
        The parent generator's state before the oldest pending draw: what an inline loop's
        generator holds after the batches returned so far (checkpoints store this one).
    """

    def __init__(self, draw: Callable, generator: torch.Generator, total: int, workers: int = 1):
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers={workers!r} is not allowed; it must be an integer >= 1")
        self.draw, self.generator, self.remaining = draw, generator, int(total)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="flowalign-prefetch")
        self._pending: deque = deque()  # (parent state before the draw, future)
        self.pending_state = generator.get_state()
        for _ in range(min(workers, self.remaining)):
            self._submit()

    def _submit(self) -> None:
        state = self.generator.get_state()
        self._pending.append((state, self._pool.submit(self.draw, step_generator(self.generator))))

    def next(self):
        """The next batch (waits for its draw), and start drawing another one."""
        if not self._pending:
            raise StopIteration("all prefetched batches were returned")
        _, future = self._pending.popleft()
        batch = future.result()
        self.remaining -= 1
        if self.remaining > len(self._pending):
            self._submit()
        self.pending_state = self._pending[0][0] if self._pending else self.generator.get_state()
        return batch

    def close(self) -> None:
        """Wait for pending draws, discard them and restore the parent generator to :attr:`pending_state`."""
        while self._pending:
            _, future = self._pending.popleft()
            try:
                future.result()
            except BaseException:  # noqa: BLE001 - a discarded draw's error is not the caller's
                pass
        self.generator.set_state(self.pending_state)
        self._pool.shutdown(wait=True)
