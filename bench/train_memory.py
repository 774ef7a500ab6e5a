"""Peak resident memory of importing and training on a corpus of many short notes, against the corpus's
in-memory size measured in the same run.

A synthetic corpus of ``--notes`` short tones (0.4 s, SOL-named WAVs: four instruments told apart by their
harmonics, pitches over four octaves, three dynamics) is imported with ``glissando make-dataset
--import-sol`` and trained on for ``--epochs`` with ``glissando train``, each in a process of its own whose
peak resident set size (ru_maxrss from os.wait4) is reported. The reference is the size the corpus's frames
take in memory as float32 (what training held before the store was memory-mapped), and, as the floor no
corpus size changes, the peak of a process that only imports torch and the trainer.

    .venv/bin/python bench/train_memory.py [--notes 2000] [--epochs 1] [--workdir DIR] [--interrupt-after S]

The issue's size is --notes 100000 (about 2 GB of float16 frames, and 30-60 minutes of analysis on two
cores); memory that does not grow with the corpus shows at any two sizes. --interrupt-after S stops the
import after S seconds (SIGINT) and runs it again: the second run skips the notes already written.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

INSTRUMENTS = {"Fl": [1.0, 0.2, 0.05], "Vn": [1.0, 0.7, 0.5, 0.4, 0.3], "ClBb": [1.0, 0.05, 0.6, 0.05, 0.4],
               "TpC": [0.6, 1.0, 0.8, 0.6, 0.4, 0.3]}
NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
DYNAMICS = {"pp": 0.05, "mf": 0.2, "ff": 0.6}


def write_corpus(folder: Path, notes: int, rate: int = 22050, seconds: float = 0.4) -> None:
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(int(rate * seconds)) / rate
    envelope = np.minimum(1, t / 0.02) * np.minimum(1, (seconds - t) / 0.05)
    for i in range(notes):
        inst = list(INSTRUMENTS)[i % len(INSTRUMENTS)]
        midi = 55 + (i // len(INSTRUMENTS)) % 48
        dyn = list(DYNAMICS)[(i // (4 * 48)) % 3]
        f0 = 440 * 2 ** ((midi - 69) / 12) * (1 + rng.uniform(-0.003, 0.003))
        partials = [(k + 1, a) for k, a in enumerate(INSTRUMENTS[inst]) if f0 * (k + 1) < 10000]
        tone = sum(a * np.sin(2 * np.pi * f0 * k * t) for k, a in partials)
        audio = DYNAMICS[dyn] * envelope * tone / sum(INSTRUMENTS[inst]) + rng.normal(0, 1e-4, len(t))
        name = f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"
        sf.write(str(folder / f"{inst}-ord-{name}-{dyn}-{i:06d}.wav"), audio.astype(np.float32), rate)


def peak_rss_mib(argv: list[str], env: dict, interrupt_after: float = 0) -> tuple[float, int, float]:
    """(peak resident MiB, exit status, seconds) of one child process."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as err:  # a file, not a pipe: a full pipe would stop the child's progress bar
        # SIGINT back to its default in the child: a bench started in the background (``&``) passes on an
        # ignored SIGINT, and the interruption would then never reach the import.
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        if interrupt_after:
            time.sleep(interrupt_after)
            proc.send_signal(signal.SIGINT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode not in (0, 130):
            err.seek(0)
            sys.stderr.write(err.read().decode(errors="replace")[-2000:])
    return usage.ru_maxrss / 1024, proc.returncode, time.perf_counter() - t0  # Linux: ru_maxrss in KiB


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--notes", type=int, default=2000, help="notes in the synthetic corpus (the issue's: 100000)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--workdir", type=Path,
                   help="keep the corpus, data set and model here (default: a temporary folder)")
    p.add_argument("--interrupt-after", type=float, default=0, help="interrupt the import after this many seconds, "
                   "then run it again")
    args = p.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="glissando-train-memory-"))
    corpus, data, model = work / "corpus", work / "data", work / "model"
    env = dict(os.environ, GLISSANDO_CACHE=str(work / "cache"))
    if not corpus.exists():
        t = time.perf_counter()
        write_corpus(corpus, args.notes)
        print(f"corpus: {args.notes} notes written in {time.perf_counter() - t:.1f} s ({corpus})")
    glissando = [sys.executable, "-m", "glissando.core.cli"]
    floor, _, _ = peak_rss_mib([sys.executable, "-c", "import glissando.core.training.train"], env)

    make = [*glissando, "make-dataset", "--import-sol", str(corpus), "--out", str(data)]
    if args.interrupt_after:
        rss, code, secs = peak_rss_mib(make, env, args.interrupt_after)
        shards = len(list((data / ".partial").glob("shard-*.json")))
        print(f"make-dataset interrupted after {secs:.1f} s (status {code}): {shards} shard(s) kept")
    rss_make, code, secs_make = peak_rss_mib(make, env)
    assert code == 0, "make-dataset failed"
    from glissando.core.data.store import load_dataset

    ds = load_dataset(data)
    corpus_mib = ds.frames.shape[0] * ds.frames.shape[1] * 4 / 2**20
    rss_train, code, secs_train = peak_rss_mib(
        [*glissando, "train", "--data", str(data), "--out", str(model), "--epochs", str(args.epochs), "--arch", "paper",
         "--hidden", "512", "--device", "cpu"], env)
    assert code == 0, "train failed"
    frames = ds.frames.shape[0]
    print(f"corpus: {len(ds.notes)} notes, {frames} frames; in memory as float32 {corpus_mib:.0f} MiB "
          f"(float16 on disk {corpus_mib / 2:.0f} MiB)")
    print(f"floor (python + torch + the trainer imported): peak RSS {floor:.0f} MiB")
    for what, rss, secs in (("make-dataset", rss_make, secs_make), ("train", rss_train, secs_train)):
        print(f"{what:12s}: peak RSS {rss:6.0f} MiB = {rss / corpus_mib:5.2f} x corpus, "
              f"{(rss - floor) / corpus_mib:5.2f} x corpus above the floor; {secs:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
