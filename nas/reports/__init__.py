"""Search reports: PNG figures from plain data, a markdown report that links them and an HTML report that
embeds them."""

from __future__ import annotations

from nas.reports.html_report import render_html, write_html_report
from nas.reports.markdown_report import ReportSection, html_beside, render_report, write_report
from nas.reports.plots import (
    plot_accuracy_vs_bops,
    plot_best_so_far,
    plot_bit_widths,
    plot_exit_rates,
    plot_pareto_fronts,
)

__all__ = ["ReportSection", "html_beside", "plot_accuracy_vs_bops", "plot_best_so_far", "plot_bit_widths",
           "plot_exit_rates", "plot_pareto_fronts", "render_html", "render_report", "write_html_report",
           "write_report"]
