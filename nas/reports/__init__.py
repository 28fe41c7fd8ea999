"""Search reports: PNG figures from plain data and a markdown report that links them."""

from __future__ import annotations

from nas.reports.markdown_report import ReportSection, render_report, write_report
from nas.reports.plots import (
    plot_accuracy_vs_bops,
    plot_best_so_far,
    plot_bit_widths,
    plot_exit_rates,
    plot_pareto_fronts,
)

__all__ = ["ReportSection", "plot_accuracy_vs_bops", "plot_best_so_far", "plot_bit_widths", "plot_exit_rates",
           "plot_pareto_fronts", "render_report", "write_report"]
