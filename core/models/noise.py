"""The random numbers of one training step, drawn for the whole global batch.

With several training processes (torchrun), each holds a slice of the global batch: rank r the frames at
positions r, r + N, r + 2N ... of it (DistributedSampler). Were each process to draw its own numbers for
its slice (augmentation, dropout masks, the VAEs' sampling noise), a 2-process run would train on other
noise than a 1-process run with the same seed, and end as far from it as another seed does: on a held-out
set, up to 40 points of pitch class apart (the issue's runs). Here every process draws the same numbers,
for the global batch, from a generator seeded by the run's seed and the step, and keeps its own rows: the
frames of step s get the same numbers whatever the number of processes (and a resumed run the same as an
uninterrupted one). What is left between them is the order of floating-point sums.
"""
from __future__ import annotations

import torch


class StepNoise:
    def __init__(self, seed: int, step: int, replicas: int = 1, rank: int = 0, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.generator = torch.Generator(device=self.device).manual_seed((seed * 1_000_003 + step) % 2**62)
        self.replicas, self.rank = replicas, rank

    def _mine(self, t: torch.Tensor) -> torch.Tensor:
        return t[self.rank :: self.replicas]

    def rand(self, rows: int, *shape: int) -> torch.Tensor:
        """Uniform [0, 1) of shape (rows, *shape) for this process's ``rows`` rows of the global batch."""
        return self._mine(torch.rand((rows * self.replicas, *shape), generator=self.generator, device=self.device))

    def randn(self, rows: int, *shape: int) -> torch.Tensor:
        return self._mine(torch.randn((rows * self.replicas, *shape), generator=self.generator, device=self.device))

    def randint(self, low: int, high: int, rows: int) -> torch.Tensor:
        return self._mine(torch.randint(low, high, (rows * self.replicas,), generator=self.generator,
                                        device=self.device))
