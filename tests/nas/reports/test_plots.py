from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from nas.analysis import best_so_far_band
from nas.reports import (
    plot_accuracy_vs_bops,
    plot_best_so_far,
    plot_bit_widths,
    plot_exit_rates,
    plot_pareto_fronts,
)


def _assert_png(path: Path, min_width: int = 500, min_height: int = 350) -> None:
    assert path.is_file() and path.stat().st_size > 5_000
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width >= min_width and image.height >= min_height
        assert image.width <= 4000 and image.height <= 3000


def test_best_so_far_plot(tmp_path: Path) -> None:
    curves = {"reinforce": best_so_far_band([[0.1, None, 0.5, 0.6], [0.2, 0.4]]),
              "random": best_so_far_band([[None, 0.3, 0.35], [0.1, 0.2, 0.25]])}
    path = plot_best_so_far(curves, tmp_path / "nested" / "best.png", "Best so far")
    assert path == tmp_path / "nested" / "best.png"
    _assert_png(path)


def test_pareto_plot_tolerates_failures(tmp_path: Path) -> None:
    points = {"a": [(0.6, 4e6), (0.8, 8e6), (None, None), (0.7, 9e6)], "b": [(0.5, 2e6), (0.9, 1e7)]}
    _assert_png(plot_pareto_fronts(points, tmp_path / "pareto.png", "Pareto"))


def test_bit_width_plot_marks_ics_by_layer_or_block(tmp_path: Path) -> None:
    labels = ["conv1", "layer1.0.conv1", "layer1.0.conv2", "layer2.0.conv1", "layer2.0.conv2", "fc"]
    path = plot_bit_widths(labels, [8, 4, 3, 2, 5, 8], [8, 4, 3, 2, 5, 5], ["layer1.0", "layer2.0.conv2"],
                           tmp_path / "bits.png", "Bits")
    _assert_png(path)
    with pytest.raises(ValueError, match="IC location"):
        plot_bit_widths(labels, [4] * 6, [4] * 6, ["layer9"], tmp_path / "bad.png", "Bits")
    with pytest.raises(ValueError, match="same length"):
        plot_bit_widths(labels, [4] * 5, [4] * 6, [], tmp_path / "bad.png", "Bits")


def test_accuracy_vs_bops_plot(tmp_path: Path) -> None:
    series = {"USDN-tr01": [(0.8, 2.1e10, 0.70), (0.5, 1.6e10, 0.68), (0.6, 1.8e10, 0.69)],
              "USDN-tr03": [(0.5, 1.2e10, 0.675), (0.7, 1.5e10, 0.685)]}
    baselines = {"uniform W4A4": (3.47e10, 0.70), "uniform W3A3": (2.283e10, 0.693)}
    _assert_png(plot_accuracy_vs_bops(series, baselines, tmp_path / "fig6.png", "Accuracy vs BOPs"))


def test_exit_rate_plot(tmp_path: Path) -> None:
    rates = {0.7: [0.0505, 0.2877, 0.6618], 0.5: [0.2, 0.4, 0.4]}
    _assert_png(plot_exit_rates(rates, tmp_path / "rates.png", "Exit rates", ["IC0", "IC1", "final"]),
                min_width=450)


def test_empty_inputs_still_write_a_figure(tmp_path: Path) -> None:
    _assert_png(plot_best_so_far({}, tmp_path / "empty_best.png", "Empty"), min_width=400, min_height=300)
    _assert_png(plot_pareto_fronts({}, tmp_path / "empty_pareto.png", "Empty"), min_width=400, min_height=300)
