"""Training throughput (frames per second) of one process on the CPU, two processes on the CPU (gloo) and,
where CUDA is present, one GPU, each against the first measured in the same run.

Each configuration trains ``glissando train`` twice on the same data, for ``--short`` and ``--long``
epochs, in processes of their own; the throughput is the extra epochs' training frames over the extra
seconds, so start-up, normalization statistics, validation passes and the model file's projection,
which do not depend on the number of epochs, cancel out of it.

    .venv/bin/python bench/train_throughput.py [--data data/banks4] [--short 1] [--long 2] [--precision 32]

Ends with one line per configuration: throughput[NAME]: frames_per_s=... ratio_to_cpu1=...
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from glissando.core.models.modelfile import read_header


def train_seconds(data: Path, out: Path, epochs: int, extra: list[str]) -> tuple[float, int]:
    """(wall seconds, training frames per epoch) of one ``glissando train`` run."""
    t0 = time.perf_counter()
    argv = [sys.executable, "-m", "glissando.core.cli", "train", "--data", str(data), "--out", str(out), "--epochs",
            str(epochs), *extra]
    run = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if run.returncode:
        sys.exit(f"glissando train {' '.join(extra)} failed:\n{run.stderr[-2000:]}")
    seconds = time.perf_counter() - t0
    return seconds, int(read_header(out / "model.safetensors")["info"]["training"]["train_frames"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("data/banks4"))
    ap.add_argument("--short", type=int, default=1)
    ap.add_argument("--long", type=int, default=2)
    ap.add_argument("--arch", default="conv")
    ap.add_argument("--precision", default="32", help="for the GPU run: 32, 16-mixed or bf16-mixed")
    args = ap.parse_args()
    import torch

    configs = [("cpu1", ["--device", "cpu", "--threads", "1"])]
    if len(os.sched_getaffinity(0)) >= 2:
        configs.append(("cpu2", ["--device", "cpu", "--threads", "1", "--nproc", "2"]))
    if torch.cuda.is_available():
        configs.append(("gpu1", ["--device", "cuda", "--precision", args.precision]))
    else:
        print("no CUDA device here: the GPU run is skipped")
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in configs:
            extra = ["--arch", args.arch, *extra]
            short, frames = train_seconds(args.data, Path(tmp) / f"{name}-short", args.short, extra)
            long, _ = train_seconds(args.data, Path(tmp) / f"{name}-long", args.long, extra)
            rates[name] = frames * (args.long - args.short) / (long - short)
            print(f"{name}: {args.short} epoch(s) {short:.1f} s, {args.long} epoch(s) {long:.1f} s, "
                  f"{frames} training frames per epoch")
    for name, rate in rates.items():
        print(f"throughput[{name}]: frames_per_s={rate:.0f} ratio_to_cpu1={rate / rates['cpu1']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
