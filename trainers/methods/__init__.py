"""The torch side of each method, by the name a space file gives (``method:``): its network and evaluator."""

from __future__ import annotations

from trainers.methods.ddi import DdiEvaluation, DdiEvaluator, DdiNetworks
from trainers.methods.dfs import DfsNetworks, GatedEvaluation, GatedEvaluator
from trainers.methods.dpoq import DpoqNetworks, PrecisionEvaluation, PrecisionEvaluator
from trainers.methods.method_networks import (
    Evaluator,
    MethodNetworks,
    TrialTraining,
    method_networks,
    register_method_networks,
)
from trainers.methods.usdn import UsdnNetworks

__all__ = ["DdiEvaluation", "DdiEvaluator", "DdiNetworks", "DfsNetworks", "DpoqNetworks", "Evaluator",
           "GatedEvaluation", "GatedEvaluator", "MethodNetworks", "PrecisionEvaluation", "PrecisionEvaluator",
           "TrialTraining", "UsdnNetworks", "method_networks", "register_method_networks"]
