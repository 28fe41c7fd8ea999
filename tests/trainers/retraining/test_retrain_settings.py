"""RetrainSettings defaults follow USDN supplement Appendix A (wd 1e-4 / 5e-4, T = 2, alpha = 0.3)."""

from __future__ import annotations

import pytest

from trainers.retraining import DEFAULT_THRESHOLDS, RetrainSettings
from trainers.training import TrainingSchedule


def test_defaults_follow_the_supplement() -> None:
    settings = RetrainSettings()
    assert settings.temperature == 2.0 and settings.alpha == 0.3
    assert settings.teacher.weight_decay == 1e-4 and settings.student.weight_decay == 5e-4
    assert settings.ce_student and settings.seed == 0 and settings.rule == "max_softmax"
    assert settings.thresholds == DEFAULT_THRESHOLDS == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def test_dict_round_trip() -> None:
    settings = RetrainSettings(student=TrainingSchedule(epochs=3, lr=0.01), thresholds=(0.7, 0.9), seed=4)
    data = settings.to_dict()
    assert data["thresholds"] == [0.7, 0.9] and data["student"]["epochs"] == 3
    assert RetrainSettings.from_dict(data) == settings


@pytest.mark.parametrize("kwargs", [{"alpha": 1.5}, {"temperature": 0.0}, {"thresholds": ()},
                                    {"thresholds": (0.0,)}, {"rule": "nope"}])
def test_invalid_settings_raise(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        RetrainSettings(**kwargs)
