"""The torch side of each method, by the name a space file gives (``method:``): its network and evaluator."""

from __future__ import annotations

from trainers.methods.dpoq import DpoqNetworks, PrecisionEvaluation, PrecisionEvaluator
from trainers.methods.method_networks import (
    Evaluator,
    MethodNetworks,
    TrialTraining,
    method_networks,
    register_method_networks,
)
from trainers.methods.usdn import UsdnNetworks

__all__ = ["DpoqNetworks", "Evaluator", "MethodNetworks", "PrecisionEvaluation", "PrecisionEvaluator",
           "TrialTraining", "UsdnNetworks", "method_networks", "register_method_networks"]
