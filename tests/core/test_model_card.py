"""The shipped model card is the card generator's output from the JSON beside it: every number reproduces."""
from pathlib import Path

from glissando.core.cli import main as cli

MODEL = Path(__file__).resolve().parents[2] / "models" / "default"


def test_the_shipped_card_is_generated_from_its_json(tmp_path):
    out = tmp_path / "MODEL_CARD.md"
    assert cli(["model-card", "--model", str(MODEL), "--evaluation", str(MODEL / "evaluation.json"),
                "--loso", str(MODEL / "loso.json"), "-o", str(out), "--command", "make default-model model-card",
                "--perceptual", str(MODEL / "perceptual.json")]) == 0
    assert out.read_text() == (MODEL / "MODEL_CARD.md").read_text()
    assert "violin G3-A7" in out.read_text()  # ranges named as the app names notes


def test_a_results_file_of_the_wrong_kind_is_named_with_what_was_expected(tmp_path, capsys):
    out = tmp_path / "MODEL_CARD.md"
    assert cli(["model-card", "--model", str(MODEL), "--evaluation", str(MODEL / "evaluation.json"),
                "--perceptual", str(MODEL / "loso.json"), "-o", str(out)]) != 0
    err = capsys.readouterr().err
    assert "loso.json" in err and "bench/perceptual.py --json" in err and not out.exists()
