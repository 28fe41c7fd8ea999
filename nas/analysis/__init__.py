"""Search analysis on plain data: best-so-far curves, Pareto fronts, hypervolume, sample efficiency, comparison."""

from __future__ import annotations

from nas.analysis.accuracy_interval import Interval, accuracy_interval, difference_interval, verdict
from nas.analysis.best_so_far import BestSoFarBand, best_so_far, best_so_far_band, is_success
from nas.analysis.bit_width_profile import BitWidthProfile, bit_width_profile
from nas.analysis.comparison_table import (
    COLUMN_HEADERS,
    comparison_table,
    hypervolume_reference,
    to_markdown,
    to_text,
)
from nas.analysis.evaluations_to_reach import evaluations_to_fraction_of_best, evaluations_to_reach
from nas.analysis.number_format import format_si, si_scale
from nas.analysis.pareto import AccuracyBops, hypervolume, pareto_front

__all__ = [
    "COLUMN_HEADERS",
    "AccuracyBops",
    "BestSoFarBand",
    "BitWidthProfile",
    "Interval",
    "accuracy_interval",
    "best_so_far",
    "best_so_far_band",
    "bit_width_profile",
    "comparison_table",
    "difference_interval",
    "evaluations_to_fraction_of_best",
    "evaluations_to_reach",
    "format_si",
    "hypervolume",
    "hypervolume_reference",
    "is_success",
    "pareto_front",
    "si_scale",
    "to_markdown",
    "to_text",
    "verdict",
]
