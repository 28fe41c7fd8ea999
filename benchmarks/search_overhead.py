"""Search-runtime overhead and evaluator scaling of the real Ray runtime (``SearchLoop`` over an ``EvaluatorPool``).

Set-up: ``ray.init(num_cpus=2)``, the ``tiny-digits`` space, an untrained supernet
(``build_supernet(...).state_dict()``) and the synthetic dataset ``DataSpec("synthetic", options={num_classes: 10,
in_channels: 1, input_size: 8, samples_per_class: N})``; evaluations score the val split, N // 4 images per class,
so the default N = 1024 gives 2,560 images and about 150-250 ms per evaluation on one thread (an evaluator actor
runs torch with 1 thread). ``--samples-per-class 64`` gives 160 images, the size of the embedded digits default's
val split (144 images, about 20 ms per evaluation).

``--cheap-trials`` measures the case of issue 14, item 8: the ``space_files/thresholds-only.yaml`` space (structure
fixed, each IC's exit threshold searched), so every evaluation is an inference-phase knob scored from one cached
forward pass in 0.08-0.33 ms (by machine); 160 images, REINFORCE, budget 2,000, ``--trials-per-call 64 auto``,
5 rounds. It reports evaluations/s with 1 and 2 workers against the plain loop and the targets: >= 1,000
evaluations/s with 2 workers, and the runtime within 10 % of the plain loop's throughput (1 worker against one
plain process: like for like; 2 workers against one plain process is printed too).

Variants, interleaved round by round with the order rotated (this machine's speed drifts by tens of per cent
between minutes, so only ratios formed within a round mean anything; the median over rounds is reported, with
the best round and the spread):

* ``ray-1`` / ``ray-2``: ``SearchLoop.run()`` over a pool of 1 / 2 evaluator actors, the default ``queue_depth``;
  with several ``--trials-per-call`` values, one pair per value (``ray-2/auto``: sized from the measured evaluation
  time; with one worker ``auto`` is one trial per call, which ``--trials-per-call 1`` measures). The pool and the
  controller host are started and ready before the clock starts, as ``run_search_job`` starts them together
  before its first search. The wall time covers the controller's start, every ask/submit/wait/tell round trip,
  Parquet rows, the checkpoints (the first and the final one included) and (``--mlflow``) MLflow tracking in a
  local SQLite store, child-run creation and final artifacts included.
* ``search-1`` (with a fixed ``--trials-per-call``): the same search as a plain loop in one process, no Ray: the
  same controller, seed and ``--option`` values, asked and told in the order ``SearchLoop`` uses with one worker
  (``queue_depth`` calls of K trials out; one call's results told, then as many asked), each config scored inline.
  The controller is told the same results in the same order, so it asks the same configs as ``ray-1/K`` (checked
  and reported per round). Against it, ``ray-1`` shows what the runtime (Ray, rows, checkpoints) adds to a search,
  the controller's own work being on both sides.
* ``plain-1`` / ``plain-2``: the hardware's own ceiling. The same configurations are scored by 1 / 2 plain
  Python processes (no Ray; the same ``ConfigEvaluator``, 1 torch thread each) pulling config indices from one
  shared queue, with the clock started once every process has loaded its data and parsed the configs: only
  ``ConfigEvaluator.evaluate`` runs on the clock, so everything else a search does is its overhead. The configs are
  a random controller's draw for the round; in the thresholds-only space every config has the one structure, so
  each costs what REINFORCE's do.

Reported:

(a) Search overhead with 1 worker = 1 - sum(eval_time_s) / wall: everything but evaluation (as timed by the actor,
    parsing the config text included) as a fraction of wall time; target <= 3 % (default mode). Cross-check
    without eval_time_s bookkeeping: the throughput of ray-1 against plain-1 (one plain process scoring the same
    configs); with ``--cheap-trials`` the target is ray-1 / plain-1 >= 0.9: the search, controller and runtime
    together, within 10 % of scoring alone. ray-1 / search-1 is printed beside it: the runtime alone.
(b) Throughput (evaluations/s) with 2 evaluator actors against 1 on 2 cores; target >= 1.8x (default mode). Also the
    ceiling, plain-2 / plain-1, and the share of it the runtime reaches. With ``--cheap-trials``: >= 1,000
    evaluations/s with 2 workers.
(c) ``steady evals/s``: evaluations after the first call's results over the time from those to the last one, i.e.
    without the search's fixed costs (controller start, first call, final checkpoint).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import environment, load_average, median, raw, rotated, table, verdict

TARGET_OVERHEAD = 0.03
TARGET_SCALING = 1.8
TARGET_CHEAP_RATE = 1000.0
TARGET_CHEAP_SHARE = 0.9
CHEAP_SPACE = str(Path(__file__).resolve().parent / "space_files" / "thresholds-only.yaml")
CHEAP_DEFAULTS = {"space": CHEAP_SPACE, "samples_per_class": 64, "budget": 2000, "controller": "reinforce",
                  "trials_per_call": ["64", "auto"], "rounds": 5}


def _trials_per_call(text: str) -> str:
    if text != "auto" and not (text.isdigit() and int(text) >= 1):
        raise argparse.ArgumentTypeError(f"an integer >= 1 or 'auto', got {text!r}")
    return text


def _option(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"KEY=VALUE, got {text!r}")
    for kind in (int, float):
        try:
            return key, kind(value)
        except ValueError:
            pass
    return key, value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cheap-trials", action="store_true",
                        help="issue 14 item 8: thresholds-only space, 160 images, REINFORCE, budget 2000, "
                             "--trials-per-call 64 auto, 5 rounds (each can still be set) and its targets")
    parser.add_argument("--space", default=None, help="space preset or YAML file (default tiny-digits)")
    parser.add_argument("--samples-per-class", type=int, default=None,
                        help="synthetic samples per class N; the val split holds N // 4 per class (default 1024)")
    parser.add_argument("--budget", type=int, default=None, help="evaluations per search (default 40)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds, each one run of every variant (default 4)")
    parser.add_argument("--num-cpus", type=int, default=2, help="ray.init(num_cpus=...) (default 2)")
    parser.add_argument("--controller", default=None, help="controller name (default random)")
    parser.add_argument("--queue-depth", type=int, default=2,
                        help="trials queued per evaluator actor (SearchSettings.queue_depth; default 2)")
    parser.add_argument("--trials-per-call", type=_trials_per_call, nargs="+", default=None, metavar="K",
                        help="trials each evaluator call carries (SearchSettings.trials_per_call): integers or "
                             "'auto', one ray-1/ray-2 pair of variants per value (default 1)")
    parser.add_argument("--mlflow", action="store_true", help="track every search in a temporary SQLite MLflow store")
    parser.add_argument("--no-plain", action="store_true", help="skip the plain-process ceiling variants")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", type=_option,
                        help="a controller option (a number where it reads as one), e.g. reuse_told=0; repeatable")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    defaults = CHEAP_DEFAULTS if args.cheap_trials else {
        "space": "tiny-digits", "samples_per_class": 1024, "budget": 40, "controller": "random",
        "trials_per_call": ["1"], "rounds": 4}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def one_search(space: Any, data: Any, state: Any, workers: int, settings: Any, folder: Path,
               tracker: Any | None) -> dict[str, Any]:
    import ray

    from nas.runtime.controller_actor import controller_host
    from nas.runtime.evaluator_pool import EvaluatorPool
    from nas.runtime.search_loop import SearchLoop

    # As ``run_search_job`` does: the controller host starts with the pool, before the search.
    pool = EvaluatorPool(space, data, state, workers, cpus_per_worker=1)
    controllers = controller_host()
    try:
        pool.ready()
        ray.get(controllers.ready.remote([settings.controller]))
        parent = tracker.start_run(space.name, f"bench-{folder.name}", {}) if tracker is not None else None
        loop = SearchLoop(space, settings, pool, folder, tracker, space.name, parent, controllers=controllers)
        started = time.perf_counter()
        outcome = loop.run()
        wall = time.perf_counter() - started
        if tracker is not None and parent is not None:
            tracker.end_run(parent)
    finally:
        pool.shutdown()
        ray.kill(controllers)
    rows = outcome.trajectory.rows
    evals = [float(r["eval_time_s"]) for r in rows]
    failed = sum(r["state"] != "complete" for r in rows)
    calls = loop.call_sizer.calls if loop.call_sizer is not None else []
    # first result: wall time at the first tell minus its own evaluation (first round trip, child-run creation)
    first_extra = float(rows[0]["wall_time_s"]) - evals[0]
    steady_wall = wall - float(rows[0]["wall_time_s"])
    # steady: from the first call's rows (told together) to the last row, without the fixed costs at either end
    first_call = calls[0] if calls else 1
    span = float(rows[-1]["wall_time_s"]) - float(rows[first_call - 1]["wall_time_s"])
    steady_rate = (len(rows) - first_call) / span if span > 0 else float("nan")
    configs = [{label: row[label] for label in space.labels} for row in rows]
    return {"wall": wall, "evals": evals, "failed": failed, "first_extra": first_extra, "steady_wall": steady_wall,
            "rows": len(rows), "calls": calls, "steady_rate": steady_rate, "configs": configs}


def _plain_evaluator(space_source: str, data: Any, state: Any) -> tuple[Any, Any]:
    """The space and a ``ConfigEvaluator`` of the val split, in a process set up as an evaluator actor is
    (:func:`prepare_worker_process`, one torch thread; :func:`freeze_long_lived_objects` once it is loaded)."""
    from nas.runtime.long_lived_objects import freeze_long_lived_objects
    from spaces import load_space
    from trainers.data import materialize
    from trainers.evaluation import ConfigEvaluator
    from trainers.networks import build_supernet
    from trainers.training import prepare_worker_process

    prepare_worker_process(1)
    space = load_space(space_source)
    net = build_supernet(space)
    net.load_state_dict(state)
    inputs, labels = materialize(data.load().val)
    evaluator = ConfigEvaluator(space, net, inputs, labels)
    freeze_long_lived_objects()
    return space, evaluator


def _plain_process(space_source: str, data: Any, state: Any, configs: list[dict[str, str]], ready: Any, go: Any,
                   next_index: Any, done: Any) -> None:
    """One plain evaluator process, set up as an evaluator actor is (:func:`prepare_worker_process`): load, signal
    ready, then evaluate the configs whose indices it claims from the shared counter ``next_index``."""
    space, evaluator = _plain_evaluator(space_source, data, state)
    parsed = [space.parse(config) for config in configs]  # only scoring runs on the clock
    budget = space.budget
    ready.put(os.getpid())
    go.wait()
    start = time.monotonic()
    evals = []
    while True:
        with next_index.get_lock():
            index = next_index.value
            next_index.value += 1
        if index >= len(parsed):
            break
        t = time.perf_counter()
        evaluator.evaluate(parsed[index], budget)
        evals.append(time.perf_counter() - t)
    done.put((start, time.monotonic(), evals))


def _plain_search_process(space_source: str, data: Any, state: Any, search: dict[str, Any], ready: Any, go: Any,
                          done: Any) -> None:
    """The search itself as a plain loop in one process (``search-1``): the same controller, seed and options asked
    and told in the order ``SearchLoop`` uses with one worker (``queue_depth`` calls of ``trials_per_call`` out,
    one call's results told, then as many asked), each config scored inline by the same ``ConfigEvaluator``.
    The same results reach the controller in the same order, so it asks the same configs as ``ray-1`` (checked
    by the caller). The clock covers the controller's construction, every ask and tell, and scoring: what a
    hand-written loop over the controller does, without Ray, rows, checkpoints or tracking."""
    from collections import deque

    from nas.controllers import TrialResult, controller_class, create_controller

    space, evaluator = _plain_evaluator(space_source, data, state)
    controller_class(search["controller"]).prepare()  # as the controller host does before a search
    budget, per_call, depth = search["budget"], search["trials_per_call"], search["queue_depth"]
    space_budget = space.budget
    ready.put(os.getpid())
    go.wait()
    start = time.monotonic()
    controller = create_controller(search["controller"], space, seed=search["seed"], **search["options"])
    calls: deque[list[Any]] = deque()
    told = out = 0
    evals: list[float] = []
    configs: list[dict[str, str]] = []

    def ask(n: int) -> None:
        nonlocal out
        trials = [controller.ask() for _ in range(n)]
        for first in range(0, n, per_call):
            calls.append(trials[first:first + per_call])
        out += n

    while room := min(depth * per_call, budget) - out:
        ask(min(room, per_call))
    while calls:
        call = calls.popleft()
        results = []
        for trial in call:
            t = time.perf_counter()
            result = evaluator.evaluate(trial.config, space_budget)
            evals.append(time.perf_counter() - t)
            results.append((trial, result))
        for trial, result in results:
            controller.tell(trial.trial_id, TrialResult.complete(
                result.reward, ee_accuracy=result.ee_accuracy, expected_bops=result.expected_bops))
        told += len(call)
        out -= len(call)
        if room := max(0, min(depth * per_call, budget - told) - out):
            ask(room)
    end = time.monotonic()
    configs = [space.format(trial.config) for trial, _ in controller.history]
    done.put((start, end, evals, configs))


def plain_search_run(space_source: str, data: Any, state: Any, search: dict[str, Any]) -> dict[str, Any]:
    """:func:`_plain_search_process` in a fresh process; wall from its start signal to its last tell."""
    context = multiprocessing.get_context("spawn")
    ready, done, go = context.Queue(), context.Queue(), context.Event()
    proc = context.Process(target=_plain_search_process, args=(space_source, data, state, search, ready, go, done))
    proc.start()
    ready.get(timeout=300)
    go.set()
    start, end, evals, configs = done.get(timeout=600)
    proc.join()
    return {"wall": end - start, "evals": evals, "rows": len(evals), "configs": configs}


def plain_run(space_source: str, data: Any, state: Any, configs: list[dict[str, str]], processes: int
              ) -> dict[str, Any]:
    """``configs`` evaluated by ``processes`` plain processes; wall from the common start to the last finish
    (``time.monotonic`` is one clock for all processes of a machine)."""
    context = multiprocessing.get_context("spawn")
    ready, done, go, next_index = context.Queue(), context.Queue(), context.Event(), context.Value("i", 0)
    procs = [context.Process(target=_plain_process,
                             args=(space_source, data, state, configs, ready, go, next_index, done))
             for _ in range(processes)]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=300)
    go.set()
    outs = [done.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join()
    wall = max(o[1] for o in outs) - min(o[0] for o in outs)
    evals = [e for o in outs for e in o[2]]
    return {"wall": wall, "evals": evals, "rows": len(evals)}


def _variants(args: argparse.Namespace) -> list[tuple[str, int, str | None]]:
    """``(name, workers, trials_per_call)`` of every variant; ``trials_per_call`` ``None`` for a plain one."""
    single = len(args.trials_per_call) == 1
    out: list[tuple[str, int, str | None]] = []
    for k in args.trials_per_call:
        suffix = "" if single else f"/{'auto' if k == 'auto' else 'K' + k}"
        counts = (2,) if k == "auto" and not single else (1, 2)  # one worker's auto is 1 per call: K1 measures it
        out.extend((f"ray-{n}{suffix}", n, k) for n in counts)
    fixed = [k for k in args.trials_per_call if k != "auto"]
    if not args.no_plain:
        out.extend([("plain-1", 1, None), ("plain-2", 2, None)])
        if fixed:  # the plain search of ray-1's controller at ray-1's first fixed call size
            out.append(("search-1", 1, fixed[0]))
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    import ray
    import torch

    from nas.controllers import create_controller
    from nas.runtime.data_spec import DataSpec
    from nas.runtime.ray_session import loopback_node_ip
    from nas.runtime.search_loop import SearchSettings
    from spaces import load_space
    from trainers.networks import build_supernet

    space = load_space(args.space)
    try:  # a bad controller or option fails here, in one line, before Ray starts
        create_controller(args.controller, space, seed=args.seed, **dict(args.option))
    except (KeyError, TypeError, ValueError) as exc:
        print(f"search_overhead.py: error: controller {args.controller!r}: {exc}", file=sys.stderr)
        return 2
    torch.manual_seed(args.seed)
    state = build_supernet(space).state_dict()
    data = DataSpec("synthetic", seed=args.seed, options={"num_classes": 10, "in_channels": 1, "input_size": 8,
                                                          "samples_per_class": args.samples_per_class})
    val_images = len(data.load().val)
    variants = _variants(args)
    with loopback_node_ip():  # as nas does: every Ray listener on 127.0.0.1
        ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    tracker = None
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in variants}
    with tempfile.TemporaryDirectory(prefix="nas-bench-") as tmp:
        if args.mlflow:
            from nas.tracking.mlflow_tracker import MlflowTracker

            tracker = MlflowTracker(f"sqlite:///{Path(tmp) / 'mlflow.db'}")
        print(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}: space {space.name}, synthetic val split {val_images} images, "
              f"budget {args.budget}, controller {args.controller}, queue depth {args.queue_depth}, trials per call "
              f"{' '.join(args.trials_per_call)}, ray num_cpus {args.num_cpus}, rounds {args.rounds}, "
              f"mlflow {args.mlflow}" + (f", controller options {dict(args.option)}" if args.option else ""))
        print(environment())
        try:
            for round_index in range(args.rounds):
                # The random controller's configs do not depend on results: the plain runs get the same sequence.
                draw = create_controller("random", space, seed=args.seed + round_index)
                configs = [space.format(draw.ask().config) for _ in range(args.budget)]
                for name, workers, k in rotated(variants, round_index):
                    if name.startswith("search-"):
                        out = plain_search_run(args.space, data, state, {
                            "controller": args.controller, "seed": args.seed + round_index, "budget": args.budget,
                            "trials_per_call": int(k), "queue_depth": args.queue_depth,  # type: ignore[arg-type]
                            "options": dict(args.option)})
                    elif k is not None:
                        settings = SearchSettings(controller=args.controller, budget=args.budget,
                                                  seed=args.seed + round_index, queue_depth=args.queue_depth,
                                                  trials_per_call=k if k == "auto" else int(k),
                                                  options=dict(args.option))
                        out = one_search(space, data, state, workers, settings,
                                         Path(tmp) / f"round{round_index}-{name.replace('/', '-')}", tracker)
                    else:
                        out = plain_run(args.space, data, state, configs, workers)
                    results[name].append(out)
                    calls = f", trials per call median {median(out['calls']):g} max {max(out['calls'])}" \
                        if out.get("calls") else ""
                    print(f"  round {round_index} {name}: wall {out['wall']:.3f} s, {out['rows'] / out['wall']:.0f} "
                          f"evaluations/s, sum eval {sum(out['evals']):.2f} s, median eval "
                          f"{median(out['evals']) * 1000:.2f} ms{calls}, load average {load_average():.2f}",
                          flush=True)
        finally:
            ray.shutdown()
    _report(args, results)
    return 0


def _rate(run: dict[str, Any]) -> float:
    return run["rows"] / run["wall"]


def _spread(values: list[float], digits: int = 0) -> str:
    """``best B, median M, spread LO-HI`` of per-round values (best: the highest)."""
    return (f"best {max(values):.{digits}f}, median {median(values):.{digits}f}, "
            f"spread {min(values):.{digits}f}-{max(values):.{digits}f}")


def results_k(args: argparse.Namespace) -> str:
    """The call size ``search-1`` copies: the first fixed ``--trials-per-call``."""
    return next(k for k in args.trials_per_call if k != "auto")


def _report(args: argparse.Namespace, results: dict[str, list[dict[str, Any]]]) -> None:
    rows = []
    for variant, runs in results.items():
        workers = int(variant.split("-")[1].split("/")[0])
        rates = [_rate(r) for r in runs]
        overheads = [1 - sum(r["evals"]) / (r["wall"] * workers) for r in runs]
        per_eval_ms = [(r["wall"] * workers - sum(r["evals"])) / r["rows"] * 1000 for r in runs]
        first = median([r["first_extra"] for r in runs]) * 1000 if "first_extra" in runs[0] else float("nan")
        steady = median([r["steady_rate"] for r in runs]) if "steady_rate" in runs[0] else float("nan")
        calls = median([median(r["calls"]) for r in runs]) if runs[0].get("calls") else float("nan")
        rows.append([variant, median([r["wall"] for r in runs]), median(rates), max(rates), min(rates), steady,
                     median([statistics.median(r["evals"]) for r in runs]) * 1000, 100 * median(overheads),
                     median(per_eval_ms), first, calls])
    print()
    print(table(["variant", "wall [s]", "evals/s", "best", "worst", "steady evals/s", "median eval [ms]",
                 "overhead [%]", "overhead/eval [ms]", "first-result extra [ms]", "trials/call"], rows))
    print("(medians over rounds; best / worst: the highest / lowest round; overhead = 1 - sum(eval_time_s) / (wall x "
          "workers); overhead/eval = (wall x workers - sum eval) / evaluations; steady: without the first call and "
          "the fixed costs; plain-N: N processes without Ray scoring the same configs from one queue; search-1: the "
          "same search as a plain loop in one process, controller included)")
    print()

    def per_round(a: str, b: str) -> list[float]:
        return [_rate(x) / _rate(y) for x, y in zip(results[a], results[b], strict=True)]

    pairs = sorted({name.split("-", 1)[1].split("/", 1)[1] if "/" in name else "" for name in results
                    if name.startswith("ray-")})
    for suffix in pairs:
        tag = f"/{suffix}" if suffix else ""
        one, two = f"ray-1{tag}", f"ray-2{tag}"
        label = f" ({suffix})" if suffix else ""
        if one in results:
            single = [1 - sum(r["evals"]) / r["wall"] for r in results[one]]
            value = median(single)
            mark = "" if args.cheap_trials else \
                f"  [{verdict(100 * value, 100 * TARGET_OVERHEAD, higher_is_better=False, unit=' %')}]"
            print(f"search overhead, 1 worker{label} (1 - sum(eval_time_s) / wall; per round "
                  f"{raw([100 * v for v in single], 3)} %): {100 * value:.2f} %{mark}")
            twin = "search-1" if "search-1" in results and (not suffix or suffix == f"K{results_k(args)}") else None
            if twin:
                same = sum(a["configs"] == b["configs"] for a, b in zip(results[one], results[twin], strict=True))
                against = per_round(one, twin)
                print(f"throughput {one} / search-1, the same search as a plain loop (per round {raw(against, 3)}): "
                      f"{median(against):.3f}x, best {max(against):.3f}x; the same configs in {same} of "
                      f"{len(against)} rounds (the runtime's share: the controller's work is on both sides)")
            if "plain-1" in results:
                against = per_round(one, "plain-1")
                mark = f"  [{verdict(median(against), TARGET_CHEAP_SHARE, higher_is_better=True)}]" \
                    if args.cheap_trials else ""
                print(f"throughput {one} / plain-1, scoring alone (per round {raw(against, 3)}): {median(against):.3f}x"
                      f", best {max(against):.3f}x (the controller and the runtime together: 1 - this = "
                      f"{100 * (1 - median(against)):.1f} %){mark}")
        if two in results:
            rates = [_rate(r) for r in results[two]]
            if args.cheap_trials:
                print(f"evaluations/s, {two}: {_spread(rates)}  "
                      f"[{verdict(median(rates), TARGET_CHEAP_RATE, higher_is_better=True)}]")
            if "search-1" in results:
                against = per_round(two, "search-1")
                print(f"throughput {two} / search-1 (per round {raw(against, 3)}): {median(against):.3f}x, best "
                      f"{max(against):.3f}x")
            if "plain-1" in results:
                against = per_round(two, "plain-1")
                print(f"throughput {two} / plain-1 (per round {raw(against, 3)}): {median(against):.3f}x, best "
                      f"{max(against):.3f}x")
            if "plain-2" in results:
                against = per_round(two, "plain-2")
                print(f"throughput {two} / plain-2 (per round {raw(against, 3)}): {median(against):.3f}x, best "
                      f"{max(against):.3f}x")
        if one in results and two in results and not args.cheap_trials:
            scaling = per_round(two, one)
            value = median(scaling)
            print(f"throughput 2 workers / 1 worker{label} (per round {raw(scaling, 3)}): {value:.2f}x  "
                  f"[{verdict(value, TARGET_SCALING, higher_is_better=True)}]")
            slow = median([statistics.median(r["evals"]) for r in results[two]]) / \
                median([statistics.median(r["evals"]) for r in results[one]])
            print(f"median eval_time_s with 2 workers / with 1 worker: {slow:.2f}x (CPU contention inside evaluations)")
            if "plain-2" in results:
                ceiling = per_round("plain-2", "plain-1")
                share = [s / c for s, c in zip(scaling, ceiling, strict=True)]
                print(f"ceiling: plain-2 / plain-1 processes without Ray (per round {raw(ceiling, 3)}): "
                      f"{median(ceiling):.2f}x; runtime scaling / ceiling (per round {raw(share, 3)}): "
                      f"{median(share):.2f}")
    for name in ("search-1", "plain-1", "plain-2"):
        if name in results:
            print(f"evaluations/s, {name}: {_spread([_rate(r) for r in results[name]])}")


if __name__ == "__main__":
    sys.exit(main())
