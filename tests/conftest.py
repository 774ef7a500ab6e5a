import os
from pathlib import Path

import numpy as np
import pytest

# Tests never touch the user's frame cache.
os.environ.setdefault("GLISSANDO_CACHE", str(Path(__file__).resolve().parent / ".cache"))


@pytest.fixture(scope="session")
def timgm6mb() -> Path:
    from glissando.core.data.soundfont import default_soundfont_paths

    path = default_soundfont_paths()["TimGM6mb"]
    assert path is not None, "TimGM6mb.sf2 ships with pretty-midi, a test dependency"
    return path


@pytest.fixture(scope="session")
def fluidr3() -> Path:
    from glissando.core.data.soundfont import default_soundfont_paths

    path = default_soundfont_paths()["FluidR3_GM"]
    if path is None:
        pytest.skip("fluid-soundfont-gm is not installed (apt-get install fluid-soundfont-gm)")
    return path


@pytest.fixture(scope="session")
def renderer(timgm6mb):
    from glissando.core.data.soundfont import SoundFontRenderer

    return SoundFontRenderer(timgm6mb)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory, timgm6mb):
    """Flute and trumpet from TimGM6mb, every second semitone, three dynamics."""
    from glissando.core.data import importers

    out = tmp_path_factory.mktemp("tiny") / "data"
    return importers.build_dataset(out, soundfont=timgm6mb, instruments=["flute", "trumpet"], silent_notes=6)


def semitone_levels(audio, rate, start, end):
    """dB of the strongest spectrum peak within a quarter tone of each MIDI note 36-96, against the loudest."""
    seg = audio[int(start * rate): int(end * rate)]
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    freqs = np.fft.rfftfreq(len(seg), 1 / rate)
    levels = {}
    for m in range(36, 97):
        hz = 440 * 2 ** ((m - 69) / 12)
        band = (freqs > hz * 2 ** (-1 / 24)) & (freqs < hz * 2 ** (1 / 24))
        levels[m] = 20 * np.log10(spectrum[band].max() / spectrum.max())
    return levels


def write_wav(path: Path, audio: np.ndarray, rate: int = 22050) -> Path:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, rate)
    return path
