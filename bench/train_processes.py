"""Held-out accuracy of a model trained in two processes (gloo, DistributedDataParallel) against the same
recipe trained in one, with the same seed and global batch, for several seeds.

The two runs take the same steps on the same frames with the same augmentation and dropout draws (step
noise is drawn for the global batch), so they differ only by floating-point rounding in the gradient
average; over many steps that rounding grows into a different model, as another seed would. The figure
that matters is how far apart their held-out accuracies are, against how far apart two seeds are (a seed
also draws the split, so that spread holds both).

    .venv/bin/python bench/train_processes.py [--data data/banks4] [--epochs 4] [--seeds 0 1 2]

Ends with: processes: mean_abs_diff=... max_mean_diff=... seed_spread=... (points of accuracy)
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

FAMILIES = ("pitch_class", "octave", "dynamics", "instrument")


def held_out(data: Path, out: Path, seed: int, nproc: int, epochs: int, extra: list[str]) -> dict[str, float]:
    """Signal-to-symbol accuracy (percent) on the test groups of a model trained with ``nproc`` processes."""
    cli = [sys.executable, "-m", "glissando.core.cli"]
    subprocess.run([*cli, "train", "--data", str(data), "--out", str(out), "--epochs", str(epochs), "--seed", str(seed),
                    "--nproc", str(nproc), "--threads", "1", "--device", "cpu", *extra], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run([*cli, "evaluate", "--model", str(out), "--data", str(data), "--no-baseline", "--json",
                    str(out / "evaluation.json")], check=True, stdout=subprocess.DEVNULL)
    scores = json.loads((out / "evaluation.json").read_text())["signal_to_symbol"]
    return {f: 100 * scores[f] for f in FAMILIES}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("data/banks4"))
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--arch", default="paper")
    ap.add_argument("--hidden", default="512")
    args = ap.parse_args()
    extra = ["--arch", args.arch, "--hidden", args.hidden]
    runs: dict[int, dict[int, dict[str, float]]] = {1: {}, 2: {}}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for nproc in (1, 2):
                out = Path(tmp) / f"s{seed}-p{nproc}"
                runs[nproc][seed] = held_out(args.data, out, seed, nproc, args.epochs, extra)
                print(f"seed {seed}, {nproc} process(es): "
                      + ", ".join(f"{f} {v:.2f}%" for f, v in runs[nproc][seed].items()), flush=True)
    diffs = [abs(runs[1][s][f] - runs[2][s][f]) for s in args.seeds for f in FAMILIES]
    mean_diffs = {f: statistics.mean(runs[2][s][f] for s in args.seeds) - statistics.mean(runs[1][s][f]
                                                                                         for s in args.seeds)
                  for f in FAMILIES}
    spread = statistics.mean(max(runs[1][s][f] for s in args.seeds) - min(runs[1][s][f] for s in args.seeds)
                             for f in FAMILIES)
    print("mean over seeds, 2 processes minus 1: " + ", ".join(f"{f} {d:+.2f}" for f, d in mean_diffs.items()))
    print(f"processes: mean_abs_diff={statistics.mean(diffs):.2f} "
          f"max_mean_diff={max(abs(d) for d in mean_diffs.values()):.2f} seed_spread={spread:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
