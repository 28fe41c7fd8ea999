"""Settings of the post-search retraining: FP teacher, IC-wise KD student and CE-only student.

USDN supplement Appendix A: SGD with cosine annealing, weight decay 1e-4 for the teacher and 5e-4 for the
KD student, T = 2, alpha = 0.3. The defaults are sized for CPU runs on the embedded 8x8 digits (15
epochs instead of 300); quantized students train stably at lr 0.02 with the default gradient clipping,
the full-precision teacher at 0.05.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from trainers.early_exit import resolve_exit_rule
from trainers.training import TrainingSchedule

DEFAULT_THRESHOLDS: tuple[float, ...] = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))
"""Exit thresholds 0.5, 0.55, ..., 0.95 of the test-set sweep (USDN reports th = 0.6 to 0.9)."""


def default_teacher_schedule() -> TrainingSchedule:
    """Full-precision teacher: weight decay 1e-4 (Appendix A)."""
    return TrainingSchedule(epochs=15, lr=0.05, weight_decay=1e-4)


def default_student_schedule() -> TrainingSchedule:
    """Quantized students (KD and CE-only): weight decay 5e-4 (Appendix A)."""
    return TrainingSchedule(epochs=15, lr=0.02, weight_decay=5e-4)


@dataclass(frozen=True)
class RetrainSettings:
    """How a searched configuration is retrained and tested (USDN Sec. 5 and 7.1).

    ``temperature`` / ``alpha`` are T and alpha of Eq. 11; ``thresholds`` the exit thresholds of the test
    sweep under ``rule``; ``seed`` fixes initialisation and data order; ``ce_student`` adds the CE-only
    student of the Sec. 7.1 / supplement Table II comparison (same initialisation and schedule as the
    KD student).
    """

    teacher: TrainingSchedule = field(default_factory=default_teacher_schedule)
    student: TrainingSchedule = field(default_factory=default_student_schedule)
    temperature: float = 2.0
    alpha: float = 0.3
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    seed: int = 0
    ce_student: bool = True
    rule: str = "max_softmax"

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {self.alpha}")
        if not self.thresholds:
            raise ValueError("thresholds must not be empty")
        object.__setattr__(self, "thresholds", tuple(float(t) for t in self.thresholds))
        rule = resolve_exit_rule(self.rule)
        for threshold in self.thresholds:
            rule.validate_threshold(threshold)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-able form; :meth:`from_dict` inverts it."""
        data = asdict(self)
        data["thresholds"] = list(self.thresholds)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RetrainSettings:
        values = dict(data)
        for stage in ("teacher", "student"):
            if isinstance(values.get(stage), dict):
                values[stage] = TrainingSchedule(**values[stage])
        if "thresholds" in values:
            values["thresholds"] = tuple(values["thresholds"])
        return cls(**values)
