"""Several notes at once from labels: chords and duets in --notes, rendered as separate voices."""
import pytest
import soundfile as sf

from glissando.core.cli import main as cli
from glissando.core.cli import parse_note_list
from glissando.core.errors import GlissandoError

from ..conftest import semitone_levels


def test_chords_and_duets_parse_into_simultaneous_notes():
    notes = parse_note_list("C4+E4+G4:ff:1.0 R:0.5 flute:C5+violin:E4:pp:2 D4", default_instrument="piano")
    assert [(n.start, n.end, n.midi, n.dynamics, n.instrument) for n in notes] == [
        (0.0, 1.0, 60, "ff", "piano"), (0.0, 1.0, 64, "ff", "piano"), (0.0, 1.0, 67, "ff", "piano"),
        (1.5, 3.5, 72, "pp", "flute"), (1.5, 3.5, 64, "pp", "violin"), (3.5, 4.0, 62, "mf", "piano")]


@pytest.mark.parametrize("text, reason", [
    ("C4+D4+E4+F4+G4+A4+B4+C5+D5", "a chord has at most 8"),
    ("banjo:C4+E4", "unknown instrument 'banjo'"),
    ("C4:mf:1+E4", "cannot read"),
    ("C4+", "cannot read"),
])
def test_unreadable_chords_are_refused_with_the_reason(text, reason):
    with pytest.raises(GlissandoError, match=reason):
        parse_note_list(text)


def test_a_rendered_duet_sounds_both_notes(tmp_path):
    out = tmp_path / "duet.wav"
    assert cli(["synth", "--notes", "flute:C5+violin:E4:mf:1.5 C4+G4:ff:1.5:piano", "-o", str(out)]) == 0
    audio, rate = sf.read(str(out))
    duet = semitone_levels(audio, rate, 0.3, 1.2)
    assert duet[72] > -12 and duet[64] > -12  # both fundamentals among the loudest partials
    assert max(duet[m] for m in (62, 66, 70, 74)) < -15  # and no neighbouring semitone instead
    chord = semitone_levels(audio, rate, 1.8, 2.7)
    assert chord[60] > -12 and chord[67] > -15
