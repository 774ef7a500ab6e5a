"""The shipped model card is the card generator's output from the JSON beside it: every number reproduces."""
from pathlib import Path

from glissando.core.cli import main as cli

MODEL = Path(__file__).resolve().parents[2] / "models" / "default"


def test_the_shipped_card_is_generated_from_its_json(tmp_path):
    out = tmp_path / "MODEL_CARD.md"
    assert cli(["model-card", "--model", str(MODEL), "--evaluation", str(MODEL / "evaluation.json"),
                "--loso", str(MODEL / "loso.json"), "-o", str(out), "--command", "make default-model model-card"]) == 0
    assert out.read_text() == (MODEL / "MODEL_CARD.md").read_text()
    assert "violin G3-A7" in out.read_text()  # ranges named as the app names notes
