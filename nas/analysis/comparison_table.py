"""Controller comparison over seeds from trajectory rows, and its GitHub-markdown rendering."""

from __future__ import annotations

import math
import numbers
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from nas.analysis.best_so_far import is_success
from nas.analysis.evaluations_to_reach import evaluations_to_fraction_of_best
from nas.analysis.number_format import format_si
from nas.analysis.pareto import AccuracyBops, hypervolume

COLUMN_HEADERS: dict[str, str] = {
    "controller": "controller",
    "seeds": "seeds",
    "evaluations_per_seed": "evaluations per seed",
    "failed": "failed evaluations",
    "best_reward_mean": "best reward (mean)",
    "best_reward_std": "best reward (std)",
    "best_reward": "best reward (overall)",
    "best_ee_accuracy": "EE accuracy of best",
    "best_expected_bops": "expected BOPs of best",
    "hypervolume_mean": "hypervolume (mean)",
    "evaluations_to_target_median": "evaluations to target (median)",
    "seeds_reaching_target": "seeds reaching target",
}
"""Readable headers :func:`to_markdown` uses for the keys of :func:`comparison_table`; other keys print as is."""

BOPS_REFERENCE_MARGIN = 1.1


def hypervolume_reference(rows: Sequence[Mapping[str, Any]]) -> AccuracyBops:
    """Default common reference: accuracy 0 and 1.1 x the largest expected BOPs of any complete row (0 if none)."""
    bops = [r["expected_bops"] for r in rows if _is_complete(r) and _finite(r.get("expected_bops"))]
    return 0.0, BOPS_REFERENCE_MARGIN * max(bops, default=0.0)


def comparison_table(rows: Sequence[Mapping[str, Any]], fraction: float = 0.99,
                     reference: AccuracyBops | None = None) -> list[dict[str, Any]]:
    """One dict per controller (first-appearance order) summarising all its seeds; keys as in ``COLUMN_HEADERS``.

    ``rows`` are trajectory rows of ONE trade-off (rewards of different trade-offs are not comparable: mixed ->
    ValueError). A row is failed when ``state == 'failed'`` or its reward is None/NaN. Per seed, evaluations are
    ordered by ``eval_index``. Best-reward mean/std run over seeds with a success (std: sample std, None for one
    seed). Hypervolume: mean over seeds of each seed's (ee_accuracy, expected_bops) front against ``reference``
    (default :func:`hypervolume_reference`, shared by all controllers). Target: ``fraction`` x the best reward of
    any controller and seed; its median is over the seeds that reached it.
    """
    tradeoffs = {float(r["tradeoff"]) for r in rows if _finite(r.get("tradeoff"))}
    if len(tradeoffs) > 1:
        raise ValueError(f"rows mix trade-offs {sorted(tradeoffs)}; compare one trade-off at a time")
    reference = hypervolume_reference(rows) if reference is None else reference
    runs = _group_runs(rows)
    rewards = {name: [[_reward(r) for r in run] for run in seeds.values()] for name, seeds in runs.items()}
    reached = evaluations_to_fraction_of_best(rewards, fraction)
    return [_summarise(name, seeds, reached[name], reference) for name, seeds in runs.items()]


def _summarise(controller: str, seeds: Mapping[int, list[Mapping[str, Any]]], reached: list[int | None],
               reference: AccuracyBops) -> dict[str, Any]:
    bests = [max(ok, key=_reward) for run in seeds.values() if (ok := [r for r in run if _is_complete(r)])]
    best_rewards = [float(r["reward"]) for r in bests]
    overall = max(bests, key=_reward, default=None)
    volumes = [hypervolume([(r.get("ee_accuracy"), r.get("expected_bops")) for r in run if _is_complete(r)],
                           reference) for run in seeds.values()]
    hits = [count for count in reached if count is not None]
    return {
        "controller": controller,
        "seeds": len(seeds),
        "evaluations_per_seed": [len(run) for run in seeds.values()],
        "failed": sum(not _is_complete(r) for run in seeds.values() for r in run),
        "best_reward_mean": statistics.fmean(best_rewards) if best_rewards else None,
        "best_reward_std": statistics.stdev(best_rewards) if len(best_rewards) > 1 else None,
        "best_reward": None if overall is None else float(overall["reward"]),
        "best_ee_accuracy": None if overall is None else overall.get("ee_accuracy"),
        "best_expected_bops": None if overall is None else overall.get("expected_bops"),
        "hypervolume_mean": statistics.fmean(volumes) if volumes else None,
        "evaluations_to_target_median": statistics.median(hits) if hits else None,
        "seeds_reaching_target": len(hits),
    }


def _group_runs(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[int, list[Mapping[str, Any]]]]:
    """controller -> seed (ascending) -> rows in evaluation order."""
    runs: dict[str, dict[int, list[Mapping[str, Any]]]] = {}
    for row in rows:
        runs.setdefault(str(row["controller"]), {}).setdefault(int(row["seed"]), []).append(row)
    return {name: {seed: sorted(seeds[seed], key=lambda r: r.get("eval_index", 0)) for seed in sorted(seeds)}
            for name, seeds in runs.items()}


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _is_complete(row: Mapping[str, Any]) -> bool:
    return row.get("state") != "failed" and is_success(row.get("reward"))


def _reward(row: Mapping[str, Any]) -> float | None:
    return float(row["reward"]) if _is_complete(row) else None


def format_cell(key: str, value: Any) -> str:
    """Markdown text of one value: BOPs/hypervolume with SI prefix, other floats 4 decimals, lists joined by '/'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, list | tuple):
        return "/".join(format_cell(key, v) for v in value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        if "bops" in key or "hypervolume" in key:
            return format_si(value)
        if key.endswith("_median"):
            return f"{value:g}"
        return f"{value:.4f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def to_markdown(table_rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A GitHub-markdown table of ``table_rows`` (``columns`` default: keys of the first row); numeric columns right."""
    if not table_rows:
        return ""
    keys = list(table_rows[0]) if columns is None else list(columns)
    headers = [COLUMN_HEADERS.get(k, k) for k in keys]
    numeric = [all(_is_number(r.get(k)) for r in table_rows) for k in keys]
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---:" if n else ":---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(format_cell(k, r.get(k)) for k in keys) + " |" for r in table_rows]
    return "\n".join(lines) + "\n"


def _is_number(value: Any) -> bool:
    """Right-aligned: numbers, lists of numbers and missing values (``None``)."""
    if isinstance(value, list | tuple):
        return all(_is_number(v) for v in value)
    return value is None or (isinstance(value, numbers.Real) and not isinstance(value, bool))


TEXT_WIDTH = 100
"""Columns a terminal table of :func:`to_text` fits in."""
TEXT_LEGEND = ("best: mean ± sd over seeds of each seed's best reward; top: the best of all seeds, with its "
               "early-exit accuracy and expected BOPs; HV: hypervolume (mean over seeds); to target: median "
               "evaluations to reach 99 % of the best reward found (seeds that reached it / seeds)")


def _evaluations(value: Any) -> str:
    counts = [int(v) for v in value] if isinstance(value, list | tuple) else [int(value)]
    return str(counts[0]) if len(set(counts)) == 1 else f"{min(counts)}-{max(counts)}"


def _mean_sd(row: Mapping[str, Any]) -> str:
    mean, sd = row.get("best_reward_mean"), row.get("best_reward_std")
    if mean is None:
        return "–"
    return f"{mean:.4f}" if sd is None else f"{mean:.4f} ± {sd:.4f}"


def _percent(value: Any) -> str:
    return "–" if not _finite(value) else f"{100 * float(value):.2f} %"


def _to_target(row: Mapping[str, Any]) -> str:
    median = row.get("evaluations_to_target_median")
    text = "–" if median is None else f"{median:g}"
    return f"{text} ({row.get('seeds_reaching_target', 0)}/{row.get('seeds', 0)})"


_TEXT_COLUMNS: tuple[tuple[str, str, Any], ...] = (
    ("controller", "<", lambda r: str(r.get("controller", ""))),
    ("seeds", ">", lambda r: str(r.get("seeds", "–"))),
    ("evals", ">", lambda r: _evaluations(r.get("evaluations_per_seed", 0))),
    ("failed", ">", lambda r: str(r.get("failed", "–"))),
    ("best", ">", _mean_sd),
    ("top", ">", lambda r: format_cell("best_reward", r.get("best_reward"))),
    ("EE acc.", ">", lambda r: _percent(r.get("best_ee_accuracy"))),
    ("exp. BOPs", ">", lambda r: format_cell("best_expected_bops", r.get("best_expected_bops"))),
    ("HV", ">", lambda r: format_cell("hypervolume_mean", r.get("hypervolume_mean"))),
    ("to target", ">", _to_target),
)
"""(header, alignment, cell) of the terminal table, most important first (the last ones go when it is narrow)."""


def to_text(table_rows: Sequence[Mapping[str, Any]], width: int = TEXT_WIDTH, legend: bool = True) -> str:
    """A plain-text table of :func:`comparison_table` rows that fits ``width`` columns: short headers, one
    space-padded line per controller, a controller name too long shortened with '…', and columns dropped from
    the right when even that is not enough; then the legend, wrapped to ``width``."""
    if not table_rows:
        return ""
    columns = list(_TEXT_COLUMNS)
    cells = [[cell(r) for _, _, cell in columns] for r in table_rows]
    while True:
        widths = [max(len(header), *(len(row[i]) for row in cells)) for i, (header, _, _) in enumerate(columns)]
        excess = sum(widths) + 2 * (len(widths) - 1) - width
        if excess <= 0:
            break
        name_width = max(len("controller"), widths[0] - excess)
        if name_width < widths[0]:
            cells = [[_shorten(row[0], name_width), *row[1:]] for row in cells]
            continue
        if len(columns) <= 2:
            break
        columns.pop()
        cells = [row[:-1] for row in cells]

    def line(row: Sequence[str]) -> str:
        return "  ".join(text.ljust(w) if align == "<" else text.rjust(w)
                         for text, w, (_, align, _) in zip(row, widths, columns, strict=True)).rstrip()

    lines = [line([header for header, _, _ in columns]), "  ".join("-" * w for w in widths)]
    lines += [line(row) for row in cells]
    if legend:
        lines += ["", text_legend(width)]
    return "\n".join(lines) + "\n"


def text_legend(width: int = TEXT_WIDTH) -> str:
    """What the short headers of :func:`to_text` mean, wrapped to ``width`` columns."""
    import textwrap

    return "\n".join(textwrap.wrap(TEXT_LEGEND, width, break_on_hyphens=False))


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"
