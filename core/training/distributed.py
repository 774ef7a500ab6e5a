"""Training in several processes with torchrun and DistributedDataParallel.

``glissando train --nproc N`` starts N processes on this machine through torchrun
(torch.distributed.run); on several machines run torchrun itself::

    torchrun --nnodes M --nproc_per_node N --rdzv-backend c10d --rdzv-endpoint HOST:PORT \\
        -m glissando.core.training.train --data DIR --out OUT ...

Each process joins one process group (gloo on the CPU, NCCL on CUDA), reads its own shard of every
epoch's frames and averages gradients with the others; rank 0 alone writes checkpoints and the model.
--data and --out must be on storage every machine sees.

Stopping: SIGINT (Ctrl-C) and SIGTERM only raise a flag. Every step the ranks combine their flags, so
all of them stop at the same step boundary, where no weight is half updated; rank 0 writes a
checkpoint and every rank exits with status 130. A rank that dies makes the others' next collective
call fail: they stop the same way (rank 0 writes a checkpoint), and torchrun reports the rank that
failed first with its cause.
"""
from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Optional

import torch
import torch.distributed as dist

from ..errors import GlissandoError

WORKER_MODULE = "glissando.core.training.train"
INTERRUPTED = 130  # exit status of a stopped run, as for a shell's Ctrl-C


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (rank 0 of 1 without torchrun)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def world() -> World:
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    return World()


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


@contextmanager
def process_group(device: torch.device) -> Iterator[World]:
    """Join the process group torchrun's environment describes for the run's device, and leave it after.
    Without torchrun (or with one process) there is no group: a single process trains as it always has."""
    if not launched_by_torchrun():
        yield World()
        return
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield world()
    finally:
        dist.destroy_process_group()


def rank_device(device: torch.device, here: World) -> torch.device:
    """Each process of a CUDA run on its own GPU of the machine."""
    if device.type == "cuda" and here.distributed:
        return torch.device("cuda", here.local_rank)
    return device


class StopRequests:
    """SIGINT and SIGTERM raise a flag while training, instead of an exception wherever the process is.

    With one process, KeyboardInterrupt already stops training between steps well enough and is left
    alone; this is for several, where an exception in one rank would leave the others waiting.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict = {}

    def _handler(self, signum, frame) -> None:
        self.requested = True

    def __enter__(self) -> "StopRequests":
        if threading.current_thread() is threading.main_thread():  # handlers can only be set there
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)


def any_rank(flag: bool, device: torch.device) -> bool:
    """Whether ``flag`` is set on any rank (a collective call: every rank must make it)."""
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def mean_over_ranks(values: dict[str, float], device: torch.device) -> dict[str, float]:
    """Each value averaged over the ranks (a collective call)."""
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return dict(zip(keys, (t / dist.get_world_size()).tolist()))


def check_nproc(nproc: int, device: torch.device) -> None:
    """Refuse more processes than the machine has cores (CPU) or GPUs (CUDA)."""
    if device.type == "cuda":
        have, what = torch.cuda.device_count(), "GPU(s)"
    else:
        have, what = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, \
            "CPU core(s)"
    if nproc > have:
        raise GlissandoError(f"{nproc} training processes asked for, but this machine has {have} {what}")


def launch(nproc: int, worker_argv: list[str], log_dir: Optional[str] = None) -> int:
    """Run the training worker in ``nproc`` processes on this machine through torchrun; its exit status.

    A stopped run (Ctrl-C or SIGTERM) gives INTERRUPTED; a failed rank raises GlissandoError naming the
    rank and its exit status (torchrun has printed its error above).
    """
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    launcher = ["--standalone", "--nnodes", "1", "--nproc-per-node", str(nproc), "--max-restarts", "0"]
    if log_dir:
        launcher += ["--log-dir", log_dir]
    args = torchrun.parse_args([*launcher, "-m", WORKER_MODULE, *worker_argv])
    try:
        torchrun.run(args)
    except SignalException:
        return INTERRUPTED
    except ChildFailedError as exc:
        failures = exc.failures  # global rank -> ProcessFailure
        if all(f.exitcode in (INTERRUPTED, -signal.SIGINT, -signal.SIGTERM) for f in failures.values()):
            return INTERRUPTED
        rank, first = min(failures.items(), key=lambda item: item[1].timestamp)
        raise GlissandoError(f"training process rank {rank} failed (exit status {first.exitcode}): "
                             f"{first.message or 'see its output above'}") from None
    return 0
