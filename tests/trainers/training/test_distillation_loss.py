"""IC-wise KD loss (USDN Eq. 11) against a hand computation of its documented form:

``2(1 - alpha) * ( sum_i lambda_i CE(softmax(z_iq / T), y) + alpha T^2 sum_i lambda_i KL(p_if || p_iq) )``.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from trainers.training import ic_wise_distillation_loss, multi_exit_loss

torch.manual_seed(0)
STUDENT = torch.randn(3, 5, 4, dtype=torch.float64)
TEACHER = torch.randn(3, 5, 4, dtype=torch.float64) * 2
LABELS = torch.tensor([0, 3, 1, 1, 2])


def softmax(z: torch.Tensor) -> torch.Tensor:
    e = torch.exp(z - z.max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)


def hand_eq11(student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor, t: float, alpha: float,
              lambdas: tuple[float, ...]) -> float:
    hard = soft = 0.0
    for w, zq, zf in zip(lambdas, student, teacher, strict=True):
        pq, pf = softmax(zq / t), softmax(zf / t)
        hard += w * float(-torch.log(pq[torch.arange(len(labels)), labels]).mean())
        soft += w * float((pf * (torch.log(pf) - torch.log(pq))).sum(dim=-1).mean())
    return 2 * (1 - alpha) * (hard + alpha * t * t * soft)


@pytest.mark.parametrize(("t", "alpha", "lambdas"), [(2.0, 0.3, (1.0, 1.0, 1.0)), (4.0, 0.7, (0.2, 0.5, 1.0)),
                                                     (1.0, 1.0, (1.0, 2.0, 3.0))])
def test_matches_hand_computation_of_eq_11(t: float, alpha: float, lambdas: tuple[float, ...]) -> None:
    loss = ic_wise_distillation_loss(STUDENT, TEACHER, LABELS, t, alpha, lambdas)
    assert float(loss) == pytest.approx(hand_eq11(STUDENT, TEACHER, LABELS, t, alpha, lambdas), rel=1e-10)


def test_defaults_are_t2_alpha03() -> None:
    expected = hand_eq11(STUDENT, TEACHER, LABELS, 2.0, 0.3, (1.0, 1.0, 1.0))
    assert float(ic_wise_distillation_loss(STUDENT, TEACHER, LABELS)) == pytest.approx(expected, rel=1e-10)


def test_alpha_zero_is_twice_the_multi_exit_ce_of_scaled_logits() -> None:
    t = 3.0
    loss = ic_wise_distillation_loss(STUDENT, TEACHER, LABELS, temperature=t, alpha=0.0)
    by_exit = sum(F.cross_entropy(z / t, LABELS) for z in STUDENT)
    assert float(loss) == pytest.approx(2 * float(by_exit), rel=1e-12)
    assert float(loss) == pytest.approx(2 * float(multi_exit_loss(STUDENT / t, LABELS)), rel=1e-12)


def test_identical_teacher_leaves_only_the_scaled_hard_term() -> None:
    loss = ic_wise_distillation_loss(STUDENT, STUDENT.clone(), LABELS, 2.0, 0.3)
    assert float(loss) == pytest.approx(2 * 0.7 * float(multi_exit_loss(STUDENT / 2.0, LABELS)), rel=1e-10)


def test_gradient_reaches_the_student_only() -> None:
    student = STUDENT.clone().requires_grad_(True)
    teacher = TEACHER.clone().requires_grad_(True)
    ic_wise_distillation_loss(student, teacher, LABELS).backward()
    assert teacher.grad is None
    assert student.grad is not None and bool(student.grad.abs().sum() > 0)


def test_kl_form_has_the_gradient_of_the_soft_target_ce() -> None:
    t, alpha = 2.0, 0.3
    kl_student = STUDENT.clone().requires_grad_(True)
    ic_wise_distillation_loss(kl_student, TEACHER, LABELS, t, alpha).backward()
    ce_student = STUDENT.clone().requires_grad_(True)
    hard = sum(F.cross_entropy(z / t, LABELS) for z in ce_student)
    soft = sum(-(softmax(zf / t) * F.log_softmax(zq / t, dim=-1)).sum(-1).mean()
               for zq, zf in zip(ce_student, TEACHER, strict=True))
    (2 * (1 - alpha) * (hard + alpha * t * t * soft)).backward()  # type: ignore[operator]
    torch.testing.assert_close(kl_student.grad, ce_student.grad)


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="student logits"):
        ic_wise_distillation_loss(STUDENT, TEACHER[:2], LABELS)
