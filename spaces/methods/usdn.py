"""USDN (papers 000/001): a bit-width supernet with early exits, searched by REINFORCE (Eq. 7-10)."""

from __future__ import annotations

from spaces.dimensions.knob import INFERENCE
from spaces.methods.method_spec import MethodSpec, register_method

USDN = register_method(MethodSpec(
    name="usdn",
    summary="USDN: per-layer bit-widths and early-exit locations of a quantized supernet (Eq. 7-10)",
    knobs=(("threshold", INFERENCE), ("thresholds", INFERENCE), ("tradeoff", INFERENCE)),
    metrics=("accuracy_exit{exit}", "cached_forward", "bn_recalibration_s"),
))
"""Its extra metrics: each classifier's accuracy on every sample (threshold-independent), whether the evaluation
reused a cached forward pass (1) or ran one (0), and the seconds its BN recalibration took.

USDN scores every knob from the cached logits of the configuration's path; it has no train-phase knob (its
supernet is trained once, before the search)."""
