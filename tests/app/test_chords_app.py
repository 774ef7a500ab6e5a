"""Chords and duets in the app: the Labels panel holds several notes, plays them together and places the
navigator's cursor on the mixture's latent; the transcription panel shows overlapping notes per instrument
and a mixture model's posteriors per voice slot.

The panel and the navigation controller are wired here with the lines the window uses, without a window:
what is tested is what the user sees in the panel and hears from Play."""
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QPoint, Qt

from glissando.app.controllers.live_audio import LiveAudioController
from glissando.app.controllers.navigation import NavigationController
from glissando.app.settings import Settings
from glissando.app.widgets.label_picker import LabelPicker
from glissando.app.widgets.transcription_panel import TranscriptionPanel
from glissando.app.workers import JobRunner
from glissando.core.cli import MAX_CHORD_NOTES
from glissando.core.midi import Note
from glissando.core.render import SAMPLE_RATE
from glissando.core.session import ModelSession

from ..conftest import semitone_levels
from .conftest import FakeStream


@pytest.fixture(scope="module")
def session():
    s = ModelSession()
    yield s
    s.close()


@pytest.fixture(scope="module")
def mixture_session(tmp_path_factory):
    """A model with three voice slots: the default model's signal side, and an untrained symbol side of three
    label sets (what `train --voices 3` builds), saved and loaded as any model file is. Its sounds mean
    little; the slots, the refusals and the cursor's place are what it is for."""
    import torch

    from glissando.core.models.modelfile import load_model, save_model
    from glissando.core.models.vae import CrossModalVAE, ModelConfig

    torch.manual_seed(0)
    default = load_model()
    config = ModelConfig.from_dict({**default.config.to_dict(), "voices": 3, "symbol_hidden": 32})
    model = CrossModalVAE(config)
    own = model.state_dict()
    model.load_state_dict({k: v for k, v in default.model.state_dict().items() if own[k].shape == v.shape},
                          strict=False)
    path = save_model(tmp_path_factory.mktemp("mixture") / "mixture" / "model.safetensors", model,
                      default.spectral, default.info, default.projection)
    s = ModelSession(path)
    assert s.voices == 3
    yield s
    s.close()


@pytest.fixture
def chords(qtbot, app_env):
    """(picker, navigation controller, runner, decoder): the panel and its controller, wired as in the window."""
    runner, decoder = JobRunner(), JobRunner(max_threads=1)
    settings = Settings()
    nav = NavigationController(runner, decoder, LiveAudioController(settings, FakeStream), settings)
    picker = LabelPicker()
    qtbot.addWidget(picker)
    # The window's wiring (main_window._connect_widgets / _use_session):
    picker.chordAddRequested.connect(nav.add_to_chord)
    picker.chordRemoveRequested.connect(nav.remove_from_chord)
    picker.chordClearRequested.connect(nav.clear_chord)
    picker.chordPlayRequested.connect(nav.play_chord)
    nav.chordChanged.connect(picker.show_chord)
    picker.show()
    yield picker, nav
    for r in (runner, decoder):
        assert r.shutdown(10000)


def use(picker, nav, qtbot, session):
    ranges = {i: session.instrument_range(i) for i in session.instruments}
    picker.set_model(session.instruments, session.dynamics, ranges)
    nav.set_session(session)
    qtbot.waitUntil(lambda: nav.cursor_latent is not None, timeout=10000)  # the cursor starts on silence


def shift_click(qtbot, picker, midi: int, dynamics: str, instrument: str) -> None:
    """What a user does: choose the octave, dynamics and instrument, then Shift-click the key."""
    picker.octave.setValue(midi // 12 - 1)
    next(b for b in picker.dynamics_group.buttons() if b.text() == dynamics).setChecked(True)
    picker.instrument.setCurrentText(instrument)
    centre = picker.keys.key_rect(midi % 12).center()
    qtbot.mouseClick(picker.keys, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier,
                     QPoint(centre.x(), centre.y() + picker.keys.height() // 4))


def held_rows(picker) -> list[str]:
    """The held notes as the panel lists them."""
    from PySide6.QtWidgets import QLabel

    return [row.findChild(QLabel).text() for row in picker.chord_row_widgets]


# Each note with its own instrument and dynamics (a pp violin under an ff trumpet sounds 20 dB down: real, but
# not "among the strongest partials").
CHORD = [(60, "mf", "flute"), (64, "mf", "violin"), (67, "ff", "trumpet")]


def test_shift_clicks_hold_a_chord_and_a_held_note_can_be_let_go(qtbot, chords, session):
    picker, nav = chords
    use(picker, nav, qtbot, session)
    assert not picker.chord_list.isVisible() and "Shift-click" in picker.chord_caption.text()
    for note in CHORD:
        shift_click(qtbot, picker, *note)
    assert nav.chord == CHORD
    assert held_rows(picker) == ["<b>C4</b> mf flute", "<b>E4</b> mf violin", "<b>G4</b> ff trumpet"]
    assert picker.chord_list.isVisible() and picker.chord_play_button.text() == "Play chord (3)"
    assert picker.keys.held == {0, 4, 7}  # the held keys are marked on the keyboard
    # A single-note model: the panel says plainly where the navigator's cursor goes.
    assert "one note at a time" in picker.chord_caption.text() and "lowest note, C4" in picker.chord_caption.text()

    from PySide6.QtWidgets import QToolButton

    remove = picker.chord_row_widgets[1].findChild(QToolButton)
    qtbot.mouseClick(remove, Qt.MouseButton.LeftButton)  # let go of E4
    assert nav.chord == [CHORD[0], CHORD[2]]
    assert held_rows(picker) == ["<b>C4</b> mf flute", "<b>G4</b> ff trumpet"] and picker.keys.held == {0, 7}
    qtbot.mouseClick(picker.chord_clear_button, Qt.MouseButton.LeftButton)
    assert nav.chord == [] and held_rows(picker) == [] and not picker.chord_play_button.isEnabled()


def test_play_sounds_every_note_of_the_chord_and_the_cursor_goes_to_the_lowest(qtbot, chords, session):
    picker, nav = chords
    use(picker, nav, qtbot, session)
    for note in CHORD:
        nav.add_to_chord(*note)
    with qtbot.waitSignal(nav.noteRendered, timeout=30000) as rendered:
        qtbot.mouseClick(picker.chord_play_button, Qt.MouseButton.LeftButton)
    audio = np.asarray(rendered.args[0])
    levels = semitone_levels(audio, SAMPLE_RATE, 0.15, 0.7)
    # Each fundamental among the strongest partials ... The mf flute's C4 under the ff trumpet: -9 to 0 dB in
    # the four training banks, -12 in the shipped model's render, -8.6 in the one before level variation.
    for midi, _, _ in CHORD:
        assert levels[midi] > -15, (midi, levels[midi])
    # ... and not a neighbouring semitone instead
    assert max(levels[m + d] for m, _, _ in CHORD for d in (-1, 1) if m + d not in (60, 64, 67)) < -20
    lowest, _ = session.label_distribution(*CHORD[0])
    qtbot.waitUntil(lambda: np.allclose(nav.cursor_latent, lowest, atol=1e-5), timeout=10000)


def test_chords_beyond_the_limits_and_notes_out_of_range_are_refused_by_name(qtbot, chords, session):
    picker, nav = chords
    use(picker, nav, qtbot, session)
    notices = []
    nav.notice.connect(lambda text, error: notices.append(text))
    for k in range(MAX_CHORD_NOTES):
        assert nav.add_to_chord(60 + k, "mf", "piano")
    shift_click(qtbot, picker, 72, "mf", "flute")  # one more than `synth --notes` renders at once
    assert len(nav.chord) == MAX_CHORD_NOTES and len(held_rows(picker)) == MAX_CHORD_NOTES
    caption = picker.chord_caption.text()
    assert f"at most {MAX_CHORD_NOTES} notes" in caption and "C5 flute was not added" in caption and "#e55" in caption
    assert notices and f"at most {MAX_CHORD_NOTES}" in notices[-1]

    qtbot.mouseClick(picker.chord_clear_button, Qt.MouseButton.LeftButton)
    shift_click(qtbot, picker, 36, "mf", "flute")  # far below a flute
    assert nav.chord == [] and "C2" in picker.chord_caption.text() and "flute" in picker.chord_caption.text()


def test_a_mixture_model_places_the_chord_and_refuses_more_notes_than_its_voices(qtbot, chords, mixture_session):
    picker, nav = chords
    use(picker, nav, qtbot, mixture_session)
    for note in reversed(CHORD):  # added top down: held (and encoded) lowest first all the same
        shift_click(qtbot, picker, *note)
    assert nav.chord == CHORD and "chord's own latent" in picker.chord_caption.text()
    with qtbot.waitSignal(nav.noteRendered, timeout=30000):
        nav.play_chord()
    mixture, _ = mixture_session.chord_distribution(CHORD)
    qtbot.waitUntil(lambda: np.allclose(nav.cursor_latent, mixture, atol=1e-5), timeout=10000)
    lowest, _ = mixture_session.label_distribution(*CHORD[0])
    assert not np.allclose(mixture, lowest, atol=1e-3)  # the mixture's latent, not one of its notes'

    shift_click(qtbot, picker, 72, "mf", "oboe")  # a fourth note: held and played, but not placed
    assert len(nav.chord) == 4 and "beyond this model's 3 voices" in picker.chord_caption.text()
    before = nav.cursor_latent.copy()
    with qtbot.waitSignal(nav.noteRendered, timeout=30000):
        qtbot.mouseClick(picker.chord_play_button, Qt.MouseButton.LeftButton)
    caption = picker.chord_caption.text()
    assert "4 notes is beyond this model's 3 voices" in caption and "#e55" in caption
    qtbot.wait(200)
    assert np.array_equal(nav.cursor_latent, before)
    with pytest.raises(Exception, match="at most 3 notes"):
        mixture_session.chord_distribution(nav.chord)


def fake_mixture_transcription(tmp_path, session):
    """A duet and a chord as a 3-voice model's transcription gives them: overlapping notes of three instruments,
    and frame posteriors per voice slot (the lowest under the families' names, voice k's under "family@k")."""
    from glissando.core.spectral.overview import audio_overview
    from glissando.core.transcribe import Posteriors

    t = np.arange(0, 2.0, 1 / SAMPLE_RATE)
    wav = tmp_path / "duet.wav"
    sf.write(str(wav), 0.2 * np.sin(2 * np.pi * 261.6 * t) + 0.2 * np.sin(2 * np.pi * 329.6 * t), SAMPLE_RATE)
    overview = audio_overview(wav, session.spectral)
    notes = [Note(0.0, 1.0, 60, "mf", "piano"), Note(0.0, 1.0, 64, "mf", "piano"),  # a chord of one instrument
             Note(0.5, 1.5, 72, "ff", "flute"), Note(1.0, 2.0, 67, "pp", "violin")]  # and voices over it
    times = np.linspace(0, 2.0, 150)
    rng = np.random.default_rng(1)
    probs = {}
    for k in range(3):
        for family, names in session.vocabulary.items():
            p = rng.random((len(times), len(names))).astype(np.float32)
            probs[family if k == 0 else f"{family}@{k}"] = p / p.sum(1, keepdims=True)
    post = Posteriors(times=times, probs=probs, level=np.zeros(len(times)))
    return wav, overview, notes, post


def test_the_transcription_panel_shows_overlapping_notes_per_instrument_and_each_voice(qtbot, tmp_path, session):
    panel = TranscriptionPanel()
    qtbot.addWidget(panel)
    panel.show()
    wav, overview, notes, post = fake_mixture_transcription(tmp_path, session)
    panel.show_result(wav, overview, notes, post, session.vocabulary)
    assert panel.table.rowCount() == 4  # one row per note, the overlapping ones too
    boxes = {i: sorted(zip(item.opts["x0"], item.opts["y0"] + 0.45)) for i, item in panel.note_items.items()}
    assert boxes == {"piano": [(0.0, 60), (0.0, 64)], "flute": [(0.5, 72)], "violin": [(1.0, 67)]}
    colours = {i: item.opts["brush"].color().getRgb()[:3] for i, item in panel.note_items.items()}
    assert len(set(colours.values())) == 3  # one colour per instrument
    legend = [label.text for _, label in panel.spectrogram.plotItem.legend.items]
    assert sorted(legend) == ["flute", "piano", "violin"]

    assert panel.voice.isVisible() and panel.voice.count() == 3  # a mixture model: the posteriors per voice
    panel.family.setCurrentText("instrument")
    assert np.allclose(panel.posterior_image.image, post.probs["instrument"].T)
    panel.voice.setCurrentIndex(2)
    assert np.allclose(panel.posterior_image.image, post.probs["instrument@2"].T)
    assert "voice 3 of 3" in panel.posteriors.plotItem.titleLabel.text

    # A single-note model's transcription looks as it always did: no voice selector.
    single = SimpleNamespace(times=post.times, probs={f: post.probs[f] for f in session.vocabulary},
                             level=post.level)
    panel.show_result(wav, overview, notes[:1], single, session.vocabulary)
    assert not panel.voice.isVisible() and panel.table.rowCount() == 1
    assert np.allclose(panel.posterior_image.image, post.probs["instrument"].T)
