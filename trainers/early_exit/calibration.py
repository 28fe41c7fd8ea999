"""Expected and maximum calibration error (Guo et al. 2017; USDN supplement Table II)."""

from __future__ import annotations

import math

import torch

DEFAULT_BINS = 15


def calibration_errors(
    confidences: torch.Tensor, correct: torch.Tensor, n_bins: int = DEFAULT_BINS
) -> tuple[float, float]:
    """``(ECE, MCE)`` of predictions with ``confidences`` ``(N,)`` and correctness ``correct`` ``(N,)``.

    Confidences are binned into ``n_bins`` equal-width bins ``((b-1)/n_bins, b/n_bins]`` over (0, 1]
    (a confidence of exactly 0 joins the first bin). ``ECE = sum_b |B_b|/N * |acc(B_b) - conf(B_b)|`` and
    ``MCE = max_b |acc(B_b) - conf(B_b)|`` over non-empty bins, so ``0 <= ECE <= MCE <= 1``.
    ``confidences`` may also be softmax probabilities ``(N, C)``; their max is used. Non-finite
    confidences give ``(nan, nan)``; confidences outside [0, 1] or mismatched shapes raise ValueError.
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive int, got {n_bins!r}")
    conf = confidences.amax(dim=-1) if confidences.dim() == 2 else confidences
    if conf.dim() != 1:
        raise ValueError(f"confidences must have shape (N,) or (N, C), got {tuple(confidences.shape)}")
    if correct.shape != conf.shape:
        raise ValueError(f"correct has shape {tuple(correct.shape)}, expected {tuple(conf.shape)}")
    if conf.numel() == 0:
        raise ValueError("calibration needs at least one prediction")
    conf = conf.to(torch.float64)
    hits = correct.to(device=conf.device, dtype=torch.float64)
    if not bool(torch.isfinite(conf).all()):
        return math.nan, math.nan
    low, high = float(conf.min()), float(conf.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(f"confidences must lie in [0, 1], got range [{low}, {high}]")

    bins = (torch.ceil(conf * n_bins).long() - 1).clamp_(0, n_bins - 1)
    sizes = torch.bincount(bins, minlength=n_bins).to(torch.float64)
    conf_sums = torch.zeros(n_bins, dtype=torch.float64, device=conf.device).index_add_(0, bins, conf)
    hit_sums = torch.zeros(n_bins, dtype=torch.float64, device=conf.device).index_add_(0, bins, hits)
    gaps = (hit_sums - conf_sums).abs() / sizes.clamp(min=1.0)
    ece = float((gaps * sizes).sum() / conf.numel())
    mce = float(gaps[sizes > 0].max())
    return ece, mce
