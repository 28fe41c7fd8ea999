"""Report figures as PNGs from plain data: convergence, Pareto fronts, bit-width profiles, accuracy vs BOPs.

Every function writes ``path`` (parent folders created) at 120 dpi and returns it. Accuracies are fractions in
[0, 1] (as in trajectories) and are drawn in %; BOPs are drawn with one SI prefix per axis (M, G, ...).
Figures are built with the object-oriented API on the Agg backend: no display, no global pyplot state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before anything imports pyplot: never open a display

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from nas.analysis.number_format import si_scale
from nas.analysis.pareto import pareto_front

DPI = 120
BASELINE_MARKERS = ("*", "D", "s", "^", "v", "P", "X")
BestSoFarCurve = tuple[Sequence[float], Sequence[float], Sequence[float], Sequence[float]]
"""``(steps, mean, low, high)``, e.g. a :class:`nas.analysis.BestSoFarBand`."""


def _figure(width: float = 7.0, height: float = 4.5) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(width, height), dpi=DPI)
    axes = figure.add_subplot()
    axes.set_axisbelow(True)
    return figure, axes


def _save(figure: Figure, path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(target, dpi=DPI, format="png")
    return target


def _color(index: int) -> str:
    return f"C{index % 10}"


def _finite(*values: float | None) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


def plot_best_so_far(curves: Mapping[str, BestSoFarCurve], path: str | Path,
                     title: str = "Best-so-far reward") -> Path:
    """Per controller: mean best-so-far reward vs evaluations, shaded between ``low`` and ``high`` over seeds."""
    figure, axes = _figure()
    for index, (name, (steps, mean, low, high)) in enumerate(curves.items()):
        axes.plot(steps, mean, color=_color(index), linewidth=1.8, label=name)
        axes.fill_between(steps, low, high, color=_color(index), alpha=0.2, linewidth=0)
    axes.set_title(title)
    axes.set_xlabel("evaluations")
    axes.set_ylabel("best reward so far (dimensionless)")
    axes.grid(True, alpha=0.3)
    if curves:
        axes.legend(title="mean; band: min-max over seeds", loc="lower right", fontsize=9, title_fontsize=9)
    return _save(figure, path)


def plot_pareto_fronts(points_by_controller: Mapping[str, Sequence[tuple[float | None, float | None]]],
                       path: str | Path, title: str = "Early-exit accuracy vs expected BOPs") -> Path:
    """All ``(accuracy, bops)`` evaluations as light dots and each controller's Pareto front as a step line."""
    figure, axes = _figure()
    valid = {name: [p for p in points if _finite(*p)] for name, points in points_by_controller.items()}
    factor, prefix = si_scale(p[1] for points in valid.values() for p in points)
    for index, (name, points) in enumerate(valid.items()):
        color = _color(index)
        axes.scatter([p[1] / factor for p in points], [100 * p[0] for p in points], s=12, color=color, alpha=0.25,
                     linewidths=0, label=f"{name}: evaluations ({len(points)})")
        front = [points[i] for i in pareto_front(points)]
        axes.step([p[1] / factor for p in front], [100 * p[0] for p in front], where="post", color=color,
                  marker="o", markersize=4, linewidth=1.6, label=f"{name}: Pareto front ({len(front)})")
    axes.set_title(title)
    axes.set_xlabel(f"expected BOPs ({prefix or 'BOPs'})")
    axes.set_ylabel("early-exit accuracy (%)")
    axes.grid(True, alpha=0.3)
    if valid:
        axes.legend(loc="lower right", fontsize=8)
    return _save(figure, path)


def _exit_positions(layer_labels: Sequence[str], exit_layers: Sequence[str]) -> list[int]:
    """Index of the layer each IC follows: the label itself, else the last label inside that block."""
    positions = []
    for exit_layer in exit_layers:
        matches = [i for i, label in enumerate(layer_labels)
                   if label == exit_layer or label.startswith(f"{exit_layer}.")]
        if not matches:
            raise ValueError(f"IC location {exit_layer!r} matches no layer label")
        exact = [i for i in matches if layer_labels[i] == exit_layer]
        positions.append(exact[0] if exact else matches[-1])
    return positions


def plot_bit_widths(layer_labels: Sequence[str], w_bits: Sequence[int], a_bits: Sequence[int],
                    exit_layers: Sequence[str], path: str | Path, title: str = "Layer-wise bit-widths") -> Path:
    """USDN supplement Figs. 1-3: weight and activation bits side by side per layer; a dashed line after each IC.

    ``exit_layers`` name a layer label or a block prefix of labels (``'layer1.1'`` marks after its last layer).
    """
    if not len(layer_labels) == len(w_bits) == len(a_bits):
        raise ValueError("layer_labels, w_bits and a_bits must have the same length")
    positions = _exit_positions(layer_labels, exit_layers)
    count = len(layer_labels)
    figure, axes = _figure(width=max(6.0, 0.42 * count + 2.5), height=4.5)
    x = list(range(count))
    for offset, bits, name, color in ((-0.2, w_bits, "weights (W)", "C0"), (0.2, a_bits, "activations (A)", "C1")):
        bars = axes.bar([i + offset for i in x], bits, width=0.4, color=color, label=name)
        axes.bar_label(bars, fontsize=7, padding=1)
    top = max([*w_bits, *a_bits, 1]) + 1.5
    for number, position in enumerate(positions):
        axes.axvline(position + 0.5, color="0.25", linestyle="--", linewidth=1.2,
                     label="IC location" if number == 0 else None)
        axes.text(position + 0.55, top - 0.3, f"IC{number}", fontsize=9, va="top", ha="left", color="0.15")
    axes.set_xticks(x, list(layer_labels), rotation=60, ha="right", fontsize=8)
    axes.set_xlim(-0.7, count - 0.3)
    axes.set_ylim(0, top)
    axes.set_yticks(range(int(top) + 1))
    axes.set_title(title)
    axes.set_xlabel("layer (network order)")
    axes.set_ylabel("bit-width (bits)")
    axes.grid(True, axis="y", alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return _save(figure, path)


def plot_accuracy_vs_bops(series: Mapping[str, Sequence[tuple[float, float, float]]],
                          baselines: Mapping[str, tuple[float, float]], path: str | Path,
                          title: str = "Accuracy vs BOPs across exit thresholds") -> Path:
    """USDN Fig. 6: each searched model a line over ``(threshold, bops, accuracy)``; baselines ``(bops, accuracy)``.

    The lowest, a middle and the highest threshold of each line are annotated.
    """
    figure, axes = _figure()
    factor, prefix = si_scale([b for points in series.values() for _, b, _ in points]
                              + [b for b, _ in baselines.values()])
    for index, (name, points) in enumerate(series.items()):
        ordered = sorted(points)
        xs, ys = [b / factor for _, b, _ in ordered], [100 * a for _, _, a in ordered]
        axes.plot(xs, ys, color=_color(index), marker="o", markersize=4, linewidth=1.6, label=name)
        for k in sorted({0, len(ordered) // 2, len(ordered) - 1} if ordered else set()):
            axes.annotate(f"th={ordered[k][0]:g}", (xs[k], ys[k]), textcoords="offset points", xytext=(4, -11),
                          fontsize=7, color=_color(index))
    for index, (name, (bops, accuracy)) in enumerate(baselines.items()):
        axes.scatter([bops / factor], [100 * accuracy], marker=BASELINE_MARKERS[index % len(BASELINE_MARKERS)],
                     s=70, color="0.2", zorder=3, label=f"{name} (baseline)")
    axes.set_title(title)
    axes.set_xlabel(f"expected BOPs ({prefix or 'BOPs'})")
    axes.set_ylabel("accuracy (%)")
    axes.grid(True, alpha=0.3)
    if series or baselines:
        axes.legend(loc="lower right", fontsize=8)
    return _save(figure, path)


def plot_exit_rates(exit_rates_by_threshold: Mapping[float, Sequence[float]], path: str | Path,
                    title: str = "Exit rates per threshold", exit_names: Sequence[str] | None = None) -> Path:
    """USDN supplement Table I as a picture: per threshold, a bar stacked by the fraction exiting at each classifier.

    ``exit_names`` default to ``exit 0 .. exit n-1`` (the last one is the final classifier); rates are fractions.
    """
    thresholds = sorted(exit_rates_by_threshold)
    exits = max((len(exit_rates_by_threshold[t]) for t in thresholds), default=0)
    names = list(exit_names) if exit_names is not None else [f"exit {i}" for i in range(exits)]
    figure, axes = _figure(width=max(5.0, 0.8 * len(thresholds) + 2.5))
    x = list(range(len(thresholds)))
    bottoms = [0.0] * len(thresholds)
    for e in range(exits):
        heights = [100 * (list(exit_rates_by_threshold[t]) + [0.0] * exits)[e] for t in thresholds]
        bars = axes.bar(x, heights, bottom=bottoms, width=0.6, color=_color(e), label=names[e])
        axes.bar_label(bars, labels=[f"{h:.0f}" if h >= 6 else "" for h in heights], label_type="center",
                       fontsize=7, color="white")
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    axes.set_xticks(x, [f"{t:g}" for t in thresholds])
    axes.set_ylim(0, 100)
    axes.set_title(title)
    axes.set_xlabel("exit threshold (confidence)")
    axes.set_ylabel("samples exiting (%)")
    axes.grid(True, axis="y", alpha=0.3)
    if exits:
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return _save(figure, path)
