"""IC-wise knowledge distillation (USDN Eq. 11)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from trainers.training.multi_exit_loss import exit_weights


def ic_wise_distillation_loss(
    student: torch.Tensor,
    teacher: torch.Tensor,
    labels: torch.Tensor,
    temperature: float = 2.0,
    alpha: float = 0.3,
    weights: Sequence[float] | None = None,
) -> torch.Tensor:
    """Eq. 11 of USDN, as printed:

    ``L_KD = 2(1 - alpha) * ( sum_i lambda_i L(z_iq^{1/T}, y) + alpha T^2 sum_i lambda_i L(z_iq^{1/T}, z_if^{1/T}) )``

    Exit ``i`` of the full-precision teacher teaches exit ``i`` of the quantized student. ``z^{1/T}`` is
    the temperature-T softmax and ``L`` cross-entropy, so the first sum is the hard-label CE of the
    temperature-scaled student and the second the soft-target CE (KL divergence plus the teacher's
    entropy, a constant; we use the KL form, whose gradient is identical). The printed bracket puts the
    factor 2(1 - alpha) on both sums; we follow it. Defaults T = 2, alpha = 0.3 (supplement Appendix A).
    ``student`` and ``teacher`` are (E, N, C) logits; the teacher's carry no gradient.
    """
    if student.shape != teacher.shape:
        raise ValueError(f"student logits {tuple(student.shape)} != teacher logits {tuple(teacher.shape)}")
    lambdas = exit_weights(student.shape[0], weights)
    t = float(temperature)
    teacher = teacher.detach()
    hard = student.new_zeros(())
    soft = student.new_zeros(())
    for w, zq, zf in zip(lambdas, student, teacher, strict=True):
        log_q = F.log_softmax(zq / t, dim=-1)
        hard = hard + w * F.nll_loss(log_q, labels)
        soft = soft + w * F.kl_div(log_q, F.log_softmax(zf / t, dim=-1), log_target=True, reduction="batchmean")
    return 2.0 * (1.0 - alpha) * (hard + alpha * t * t * soft)
