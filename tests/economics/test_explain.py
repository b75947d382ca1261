"""What each payment model is (economics/models.yaml): one explanation per model of the simulation, the
glossary the page shows, and a file missing a model refused."""

from __future__ import annotations

import pytest
import yaml

from proxisante.economics import explain
from proxisante.economics.payments import MODELS


def test_every_model_is_explained_in_french() -> None:
    texts = explain.model_texts()
    assert set(texts.models) == set(MODELS) and texts.current == "acte"
    assert "PEPS" in texts.models["peps_all"].name and "forfait médecin traitant" in texts.models["fmt"].explanation
    assert {"result", "band", "probability", "break_even", "difference", "tornado", "example"} <= set(texts.glossary)


def test_a_model_without_explanation_is_refused(tmp_path, monkeypatch) -> None:
    data = yaml.safe_load((explain.resources_folder() / "models.yaml").read_text(encoding="utf-8"))
    del data["models"]["ipep"]
    (tmp_path / "models.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(explain, "resources_folder", lambda: tmp_path)
    explain.model_texts.cache_clear()
    try:
        with pytest.raises(ValueError, match=r"models without an explanation: \['ipep'\]"):
            explain.model_texts()
    finally:
        monkeypatch.undo()
        explain.model_texts.cache_clear()
