"""``nas compare-methods`` (issue 18): every method's accuracy-cost front on one data set, one backbone, one cost
model and one list of budgets, with uniform QAT beside them, as Ray tasks under one MLflow parent run."""

from __future__ import annotations

from nas.comparison.front import FrontPoint, FrontRequest, MethodFront, TrainingCost

__all__ = ["FrontPoint", "FrontRequest", "MethodFront", "TrainingCost"]
