"""DFS training as Ray tasks (DFS Sec. 4): the base A and step 1 (the search model, shared by every trial), and a
step 2 from a step 1 (one per target cp, option list, |alpha| and rule) scored on the test split."""

from __future__ import annotations

from typing import Any

from nas.runtime.data_spec import DataSpec
from spaces import SearchSpace
from trainers.training import TrainingSchedule


def _cpu_state(net: Any) -> dict[str, Any]:
    return {k: v.detach().cpu() for k, v in net.state_dict().items()}


def train_step1_state(space: SearchSpace, data: DataSpec, base: TrainingSchedule, step1: TrainingSchedule,
                      seed: int = 0, num_threads: int = 1, *, options: tuple[str, ...] | None = None,
                      base_state: dict[str, Any] | None = None, progress: str = "off", label: str = "dfs"
                      ) -> dict[str, Any]:
    """The base A (full precision, gates off, ``base`` in DFS's schedule shape) unless ``base_state`` gives it,
    then step 1 (gates only, base frozen, towards cp 100 %). Returns CPU weights ``state``, the base's ``base_state``,
    epoch logs (``base_epochs``, ``step1_epochs``) and step 1's per-step batch cp and alpha (``step1_steps``)."""
    import torch

    from nas.runtime.training_progress import EpochProgress
    from trainers.data import make_loader
    from trainers.methods.dfs import build_fractional_network, paper_schedule, train_base, train_step1
    from trainers.training import default_device, prepare_worker_process

    prepare_worker_process(num_threads)
    torch.manual_seed(seed)
    splits = data.load()
    net = build_fractional_network(space, options).to(default_device())
    base_epochs: list[dict[str, float]] = []
    if base_state is None:
        schedule = paper_schedule(base)
        bar = EpochProgress(f"{label} base", schedule.epochs, progress)
        try:
            base_epochs = train_base(net, make_loader(splits.train, schedule.batch_size, shuffle=True, seed=seed),
                                     schedule, on_epoch=bar).epochs
        finally:
            bar.close()
    else:
        net.load_base_state(base_state)
    trained_base = {k: v for k, v in _cpu_state(net).items() if not k.startswith("gate.")}
    steps: list[dict[str, float]] = []
    bar = EpochProgress(f"{label} step 1", step1.epochs, progress)
    try:
        log = train_step1(net, make_loader(splits.train, step1.batch_size, shuffle=True, seed=seed), step1,
                          space.options, on_epoch=bar, on_step=lambda step, m: steps.append(dict(m)))
    finally:
        bar.close()
    return {"state": _cpu_state(net), "base_state": trained_base, "base_epochs": base_epochs,
            "step1_epochs": log.epochs, "step1_steps": steps}


def train_and_test_step2(space: SearchSpace, data: DataSpec, step1_state: dict[str, Any], schedule: TrainingSchedule,
                         settings: tuple[float, str, str, str], seed: int = 0, num_threads: int = 1, *,
                         step1: TrainingSchedule | None = None, label: str = "dfs") -> dict[str, Any]:
    """Step 2 of ``settings`` (target cp, option list text, |alpha| text, rule) from ``step1_state``; an option list
    other than the state's first trains its own step 1 (``step1``, default ``schedule``) from the state's base. Then
    the test split with hard decisions: accuracy, actual cp, BOPs, per-block decision counts, per-sample correctness;
    the per-step batch cp and alpha (``steps``) and the epochs (``epochs``)."""
    import torch

    from spaces.methods.dfs import parse_option_list
    from trainers.data import make_loader, materialize
    from trainers.methods.dfs import build_fractional_network, summarize, train_step1, train_step2
    from trainers.training import default_device, prepare_worker_process

    prepare_worker_process(num_threads)
    torch.manual_seed(seed)
    splits = data.load()
    device = default_device()
    options = parse_option_list(settings[1])
    net = build_fractional_network(space, options).to(device)
    own = build_fractional_network(space)
    if tuple(own.options) == options:
        net.load_state_dict(step1_state)
    else:
        net.load_base_state(step1_state)
        train_step1(net, make_loader(splits.train, (step1 or schedule).batch_size, shuffle=True, seed=seed),
                    step1 or schedule, space.options)
    steps: list[dict[str, float]] = []
    log = train_step2(net, make_loader(splits.train, schedule.batch_size, shuffle=True, seed=seed + 1), schedule,
                      space.options, settings, on_step=lambda step, m: steps.append(dict(m)))
    inputs, labels = materialize(splits.test)
    summary = summarize(net, inputs.to(device), labels.to(device))
    return {"state": _cpu_state(net), "epochs": log.epochs, "steps": steps, "accuracy": summary.accuracy,
            "cp": summary.cp, "cp_network": summary.cp_network, "expected_bops": summary.expected_bops,
            "skip_share": summary.skip_share, "gate_bops": summary.gate_bops, "base_bops": summary.base_bops,
            "counts": summary.counts, "options": list(summary.options), "blocks": list(summary.blocks),
            "correct": [int(c) for c in summary.correct], "label": label}


def test_base(space: SearchSpace, data: DataSpec, base_state: dict[str, Any], num_threads: int = 1
              ) -> dict[str, Any]:
    """The full-precision base A on the test split (gates off): ``accuracy``, per-sample ``correct``, ``bops``."""
    import torch

    from trainers.data import materialize
    from trainers.methods.dfs import build_fractional_network
    from trainers.training import prepare_worker_process

    prepare_worker_process(num_threads)
    net = build_fractional_network(space)
    net.load_base_state(base_state)
    net.gates_enabled = False
    net.eval()
    inputs, labels = materialize(data.load().test)
    with torch.inference_mode():
        hits = torch.cat([net(inputs[i:i + 1024]).logits[-1].argmax(-1) == labels[i:i + 1024]
                          for i in range(0, len(inputs), 1024)])
    return {"accuracy": float(hits.double().mean()), "correct": [int(c) for c in hits.tolist()],
            "bops": net.base_bops()}
