"""Timbre transfer, scored as seed paper 002 scores it, on melodies rendered from one sample set (for an
honest figure: one the model never trained on, with a leave-one-source-out model):

- pitch kept: pYIN (librosa) on the source and on the transfer; of the frames voiced in both inside a note
  of the melody, the share where the transfer is within 50 cents of the note played. The score, not the
  source's pYIN contour, is the reference: pYIN puts some banks' oboe an octave up (GeneralUser GS's E5
  and F5 at 1326 and 1397 Hz), which scored a transfer at the right pitch as off. How often pYIN agrees
  with the score on the source is printed beside it (source_tracked), and the same share over the notes the
  target can play (pitch_playable: the others are moved by octaves into its range, with a warning);
- target named: by the model's own transcription of the transfer (share of notes named the target), and
  by an independent judge, MFCC statistics + logistic regression (scikit-learn) trained on the notes of
  melodies of every instrument rendered from each of the four sample sets (other melodies than the
  scored ones, cut at their onsets as the scored notes are);
- descriptors in range: spectral centroid, bandwidth, flatness and rolloff (librosa) of each transferred
  note within the range the target instrument's own notes (all four sets) span within 3 semitones of its
  pitch;
- the same three on the target instrument playing the melody itself, from the same sample set: the most a
  transfer can be asked for;
- speed: seconds of audio per second of transfer (median over the pairs), against a reference run in the
  same process: transcribing the same sources, the first step of any transfer.

    .venv/bin/python bench/transfer.py [--model runs/loso/GeneralUserGS] [--bank GeneralUserGS]

Ends with one line per method: transfer[METHOD]: pitch=... pitch_playable=... named_model=... named_judge=...
descriptors=... speed_x=... ratio_to_transcription=..., and the same scores on the target instrument playing
the melody itself from the same sample set (target[played by itself]: what the judges accept of the real
instrument, the most a transfer can be asked for).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import melody  # noqa: E402

from glissando.core.data.labels import INSTRUMENTS  # noqa: E402
from glissando.core.data.soundfont import SoundFontRenderer, training_soundfonts  # noqa: E402
from glissando.core.session import ModelSession  # noqa: E402
from glissando.core.transcribe import transcribe  # noqa: E402
from glissando.core.transfer import EXPRESSION, TRANSFER_METHODS, octaves_into_range, transfer  # noqa: E402
from glissando.core.units import midi_to_hz  # noqa: E402

SR = 22050
PAIRS = [("flute", "violin"), ("violin", "trumpet"), ("clarinet", "cello"), ("trumpet", "flute"),
         ("oboe", "clarinet"), ("cello", "bassoon"), ("alto_sax", "french_horn"), ("viola", "oboe")]
DESCRIPTORS = ("centroid", "bandwidth", "flatness", "rolloff")
LIBRARY_SEEDS = (11, 12, 13)  # the judge's melodies; the scored ones are seed 1


HOP = 256


def pitch_track(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import librosa

    f0, voiced, _ = librosa.pyin(audio.astype(float), fmin=55, fmax=2500, sr=SR, frame_length=2048, hop_length=HOP)
    return f0, voiced


def score_contour(events: list, n_frames: int) -> np.ndarray:
    """The melody's pitch (Hz) at each pitch-tracking frame; NaN between its notes."""
    t = np.arange(n_frames) * HOP / SR
    f = np.full(n_frames, np.nan)
    for start, end, midi, _ in events:
        f[(t >= start) & (t < end)] = midi_to_hz(midi)
    return f


def in_tune(f0: np.ndarray, reference: np.ndarray) -> np.ndarray:
    return np.abs(1200 * np.log2(f0 / reference)) < 50


def descriptors(audio: np.ndarray) -> np.ndarray:
    import librosa

    s = np.abs(librosa.stft(audio.astype(float), n_fft=2048, hop_length=512))
    loud = s.sum(0) > 0.1 * s.sum(0).max()  # the sounding frames, not the silence around a note
    s = s[:, loud] if loud.any() else s
    return np.array([np.median(librosa.feature.spectral_centroid(S=s, sr=SR)),
                     np.median(librosa.feature.spectral_bandwidth(S=s, sr=SR)),
                     np.median(np.log10(librosa.feature.spectral_flatness(S=s) + 1e-12)),
                     np.median(librosa.feature.spectral_rolloff(S=s, sr=SR))])


def mfcc_stats(audio: np.ndarray) -> np.ndarray:
    import librosa

    m = librosa.feature.mfcc(y=audio.astype(float), sr=SR, n_mfcc=20)
    loud = librosa.feature.rms(y=audio.astype(float))[0]
    m = m[:, : len(loud)][:, loud > 0.1 * loud.max()] if loud.max() > 0 else m
    return np.concatenate([m.mean(1), m.std(1)])


def note_library(renderers: list[SoundFontRenderer], instruments: list[str]) -> dict:
    """The notes of melodies (seeds other than the scored ones) of every instrument from every sample set,
    cut at their onsets as the scored notes are: the judge's training set, and each instrument's descriptor
    range (what that instrument sounds like across the sets, which is what "sounds like a violin" can mean
    to a model that learned several). Isolated 1 s notes were the first library: the judge trained on them
    named the real instrument in a melody from a set it knew 46% of the time, and 39% of those notes fell
    in their own instrument's descriptor range (their attack and release weigh more in a short note)."""
    lib: dict = {}
    for renderer in renderers:
        for inst in instruments:
            spec = INSTRUMENTS[inst]
            if not renderer.has_program(spec.gm_program):
                continue
            for seed in LIBRARY_SEEDS:
                events = melody(inst, 16, seed=seed)
                audio = renderer.render_sequence(spec.gm_program, events)
                for start, end, midi, _ in events:
                    piece = audio[int(start * SR): int(end * SR)]
                    lib.setdefault(inst, []).append((midi, mfcc_stats(piece), descriptors(piece)))
    return lib


def judge_notes(judge, lib: dict, audio: np.ndarray, events: list, instrument: str) -> tuple[list, list]:
    """Per note of ``events`` in ``audio``: whether the MFCC judge names ``instrument``, and whether all
    four descriptors lie within the range of that instrument's library notes within 3 semitones."""
    judged, in_range = [], []
    for start, end, midi, _ in events:
        piece = audio[int(start * SR): int(end * SR)]
        judged.append(judge.predict(mfcc_stats(piece)[None])[0] == instrument)
        near = np.stack([d for m, _, d in lib[instrument] if abs(m - midi) <= 3] or [d for _, _, d in lib[instrument]])
        d = descriptors(piece)
        in_range.append(bool(np.all((d >= near.min(0)) & (d <= near.max(0)))))
    return judged, in_range


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="model file or folder (default: the shipped model)")
    ap.add_argument("--bank", default="TimGM6mb", help="sample set the melodies are rendered from")
    ap.add_argument("--notes", type=int, default=12, help="notes per melody")
    ap.add_argument("--pairs", type=int, default=len(PAIRS), help="how many (source, target) pairs")
    ap.add_argument("--json", type=Path, help="also write each method's scores here")
    ap.add_argument("--methods", nargs="+", choices=TRANSFER_METHODS, default=list(TRANSFER_METHODS),
                    help="transfer methods to score (default: all)")
    ap.add_argument("--expression", type=float, default=EXPRESSION,
                    help=f"shift's share of each frame's own detail kept (0-1, default {EXPRESSION})")
    args = ap.parse_args()

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    session = ModelSession(args.model, device="cpu")
    renderer = SoundFontRenderer(training_soundfonts()[args.bank])
    pairs = [(s, t) for s, t in PAIRS[: args.pairs] if s in session.instruments and t in session.instruments]
    banks = [SoundFontRenderer(p) for p in training_soundfonts().values() if p is not None]
    lib = note_library(banks, sorted(session.instruments))
    names = sorted(lib)
    judge = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    judge.fit(np.stack([m for inst in names for _, m, _ in lib[inst]]),
              [inst for inst in names for _ in lib[inst]])

    scores: dict = {m: {"pitch": [], "pitch_playable": [], "model": [], "judge": [], "desc": [], "speed": []}
                    for m in args.methods}
    reference_speed, source_tracked = [], []
    # The same scores on the target itself playing the melody, rendered from the same sample set: how often
    # the judge and the descriptor ranges accept the real instrument. A transfer cannot be asked to pass
    # them more often than the instrument it imitates does.
    real: dict = {"model": [], "judge": [], "desc": []}
    with tempfile.TemporaryDirectory() as tmp:
        for src, dst in pairs:
            events = melody(src, args.notes)
            audio = renderer.render_sequence(INSTRUMENTS[src].gm_program, events)
            wav = Path(tmp) / f"{src}.wav"
            sf.write(str(wav), audio, renderer.sample_rate)
            seconds = len(audio) / renderer.sample_rate
            t0 = time.perf_counter()
            transcribe(session, wav)
            reference_speed.append(seconds / (time.perf_counter() - t0))
            f_in, v_in = pitch_track(audio)
            played = score_contour(events, len(f_in))
            low, high = session.instrument_range(dst)
            playable = ~np.isnan(played) & (played >= midi_to_hz(low) * 0.99) & (played <= midi_to_hz(high) * 1.01)
            v_in = v_in & ~np.isnan(played)
            source_tracked.append(float(np.mean(in_tune(f_in[v_in], played[v_in]))) if v_in.any() else 0.0)
            # The target's own rendition: the melody moved by octaves into its range as transfer moves it.
            moved = [(a, b, octaves_into_range(m, low, high), v) for a, b, m, v in events]
            own = renderer.render_sequence(INSTRUMENTS[dst].gm_program, moved)
            own_wav = Path(tmp) / f"{dst}_own.wav"
            sf.write(str(own_wav), own, renderer.sample_rate)
            own_notes, _ = transcribe(session, own_wav)
            real["model"].append(float(np.mean([x.instrument == dst for x in own_notes])) if own_notes else 0.0)
            judged, in_range = judge_notes(judge, lib, own, moved, dst)
            real["judge"].append(float(np.mean(judged)))
            real["desc"].append(float(np.mean(in_range)))
            for method in args.methods:
                t0 = time.perf_counter()
                result = transfer(session, wav, dst, method=method, expression=args.expression)
                scores[method]["speed"].append(seconds / (time.perf_counter() - t0))
                out = result.audio[: len(audio)]
                f_out, v_out = pitch_track(out)
                n = min(len(f_in), len(f_out))
                both = v_in[:n] & v_out[:n]
                scores[method]["pitch"].append(float(np.mean(in_tune(f_out[:n][both], played[:n][both])))
                                               if both.any() else 0.0)
                # The transfer moves a note the target cannot play by octaves into its range (with a warning):
                # the same share over the notes it can play tells that choice from a pitch the model got wrong.
                mine = both & playable[:n]
                scores[method]["pitch_playable"].append(float(np.mean(in_tune(f_out[:n][mine], played[:n][mine])))
                                                        if mine.any() else 0.0)
                out_wav = Path(tmp) / f"{src}_{dst}_{method}.wav"
                sf.write(str(out_wav), out, SR)
                notes, _ = transcribe(session, out_wav)
                scores[method]["model"].append(float(np.mean([x.instrument == dst for x in notes])) if notes else 0.0)
                judged, in_range = judge_notes(judge, lib, out, events, dst)
                scores[method]["judge"].append(float(np.mean(judged)))
                scores[method]["desc"].append(float(np.mean(in_range)))
                print(f"{src} -> {dst} [{method}]: pitch {scores[method]['pitch'][-1]:.3f}, model names target "
                      f"{scores[method]['model'][-1]:.2f}, judge {scores[method]['judge'][-1]:.2f}, descriptors in "
                      f"range {scores[method]['desc'][-1]:.2f}, {scores[method]['speed'][-1]:.1f}x real time",
                      flush=True)
    ref = statistics.median(reference_speed)
    print(f"pYIN on the sources agrees with the score in {np.mean(source_tracked):.3f} of their voiced frames "
          f"(source_tracked; worst melody {min(source_tracked):.3f})")
    summary = {}
    for method, s in scores.items():
        speed = statistics.median(s["speed"])
        summary[method] = {"pitch": float(np.mean(s["pitch"])), "pitch_playable": float(np.mean(s["pitch_playable"])),
                           "named_model": float(np.mean(s["model"])),
                           "named_judge": float(np.mean(s["judge"])), "descriptors": float(np.mean(s["desc"])),
                           "speed_x": speed}
        m = summary[method]
        print(f"transfer[{method}]: pitch={m['pitch']:.3f} pitch_playable={m['pitch_playable']:.3f} "
              f"named_model={m['named_model']:.3f} "
              f"named_judge={m['named_judge']:.3f} descriptors={m['descriptors']:.3f} speed_x={speed:.1f} "
              f"ratio_to_transcription={speed / ref:.3f}")
    target = {k: float(np.mean(v)) for k, v in real.items()}
    print(f"target[played by itself]: named_model={target['model']:.3f} named_judge={target['judge']:.3f} "
          f"descriptors={target['desc']:.3f}")
    if args.json:
        args.json.write_text(json.dumps({"model": str(session.path), "bank": args.bank, "methods": summary,
                                         "source_tracked": float(np.mean(source_tracked)),
                                         "target_itself": target}, indent=1))


if __name__ == "__main__":
    main()
