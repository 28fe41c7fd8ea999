"""DPOQ's ensemble prediction (Sec. 3.3: "the accuracy is calculated from the ensemble prediction results")."""

from __future__ import annotations

import torch


def ensemble_probs(probs: torch.Tensor) -> torch.Tensor:
    """Cumulative mean over exits: ``out[i] = mean_{j <= i} probs[j]`` for ``probs`` ``(E, ..., C)``.

    A sample that answers at exit ``i`` has computed exits ``0..i``, so its ensemble is the mean of their
    softmax probabilities. The mean is over *probabilities*, not logits (METHODS.md 2.8: "Mean of softmax over
    the precisions computed so far"): it is a proper mixture, stays in the simplex, and a confident shallow
    exit cannot be outvoted by logit scale alone. Exit 0 is unchanged; a non-finite exit makes every later
    ensemble non-finite, since it is part of each of them.
    """
    if probs.dim() < 2 or probs.shape[0] < 1:
        raise ValueError(f"probs must have shape (exits, ..., classes), got {tuple(probs.shape)}")
    counts = torch.arange(1, probs.shape[0] + 1, dtype=probs.dtype, device=probs.device)
    return probs.cumsum(dim=0) / counts.view((-1,) + (1,) * (probs.dim() - 1))
