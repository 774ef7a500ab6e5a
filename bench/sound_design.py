"""Speed of the navigator's sound-design features, each against a reference measured in the same process:

- a descriptor map of a 64x64 plane of the current view (new plane, nothing cached), against one decoder
  pass over the same 4096 latents (its floor: the map is that pass plus the descriptors);
- a 30 s sound projected into the space (read, analysed, encoded), against nsgt's own numpy analysis of
  the same audio (the first step of any analysis).

    .venv/bin/python bench/sound_design.py [--repeats 5]

Ends with: sound_design: map_s=... map_ratio=... project_s=... project_ratio=... (medians)
"""
from __future__ import annotations

import argparse
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
from glissando.core.data.soundfont import SoundFontRenderer, default_soundfont_paths  # noqa: E402
from glissando.core.descriptors import DescriptorMaps, Plane  # noqa: E402
from glissando.core.session import ModelSession  # noqa: E402
from glissando.core.spectral import NSGTransform  # noqa: E402
from glissando.core.transfer import sound_path  # noqa: E402


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--model", default=None)
    args = ap.parse_args()

    session = ModelSession(args.model, device="cpu")
    maps = DescriptorMaps(session)
    base = session.label_latent(72, "mf", "flute")
    points = session.view.points
    extent = ((float(points[:, 0].min()), float(points[:, 0].max())),
              (float(points[:, 1].min()), float(points[:, 1].max())))
    depth = float(session.project_3d(base[None])[0, 2])
    map_s, floor_s = [], []
    for k in range(args.repeats + 1):
        plane = Plane((0, 1), extent, depth + 0.01 * k)  # a new plane each time: never from the cache
        latents = session.view.latents_at(base, plane.points())
        floor = timed(lambda latents=latents: session.decode_magnitudes(latents))
        spent = timed(lambda plane=plane: maps.plane_map(plane, base))
        if k:  # the first of each is a warm-up
            floor_s.append(floor)
            map_s.append(spent)

    renderer = SoundFontRenderer(default_soundfont_paths()["TimGM6mb"])
    events = melody("clarinet", 60)
    audio = renderer.render_sequence(INSTRUMENTS["clarinet"].gm_program, events)[: 30 * renderer.sample_rate]
    project_s, reference_s = [], []
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "30s.wav"
        sf.write(str(wav), audio, renderer.sample_rate)
        transform = NSGTransform.for_length(len(audio), session.spectral)
        for k in range(args.repeats + 1):
            reference = timed(lambda: transform.forward(audio.astype(np.float64)))
            spent = timed(lambda: sound_path(session, wav))
            if k:
                reference_s.append(reference)
                project_s.append(spent)
    m, f = statistics.median(map_s), statistics.median(floor_s)
    p, r = statistics.median(project_s), statistics.median(reference_s)
    print(f"descriptor map 64x64: median {m:.3f} s (decoder pass alone {f:.3f} s)")
    print(f"30 s sound projected: median {p:.3f} s (nsgt numpy analysis alone {r:.3f} s)")
    print(f"sound_design: map_s={m:.3f} map_ratio={m / f:.2f} project_s={p:.3f} project_ratio={p / r:.2f}")


if __name__ == "__main__":
    main()
