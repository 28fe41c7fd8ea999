"""DDI training and scoring as Ray tasks: the pretrained base, the full IADI + RADI model, the IADI-only gate
ablations (Figs. 7-8) and the smaller base ResNets (Table 2), each trained as :mod:`trainers.methods.ddi` says,
and each scored on the test split with one forward pass (:func:`score_ddi_state`)."""

from __future__ import annotations

from typing import Any

from nas.runtime.data_spec import DataSpec
from spaces import SearchSpace
from trainers.training import TrainingSchedule


def own_depth(space: SearchSpace) -> int:
    """The depth of the space's CIFAR ResNet (two convs per block, the stem and the FC)."""
    return sum(len(names) for names in space.backbone.groups.values()) * 2 + 2


def smaller_backbone(space: SearchSpace, depth: int | None) -> Any:
    """The space's CIFAR ResNet at ``depth`` (same width, input and classes): a Table 2 base; ``None`` for the
    space's own depth (its network then keeps the space's gate and branch weights, unused)."""
    from spaces.backbones import create_backbone

    if depth is None or depth == own_depth(space):
        return None
    b = space.backbone
    stem = b.block("stem").main_path[0]
    return create_backbone("resnet_cifar", depth=depth, width=stem.out_channels, input_size=stem.in_size,
                           in_channels=stem.in_channels, num_classes=b.num_classes)


def train_ddi_state(space: SearchSpace, data: DataSpec, base: TrainingSchedule, joint: TrainingSchedule,
                    seed: int = 0, num_threads: int = 1, *, gates: str | None = None, target: float | None = None,
                    branches: bool = True, base_state: dict[str, Any] | None = None, depth: int | None = None,
                    progress: str = "off", label: str = "ddi") -> dict[str, Any]:
    """Train and return CPU weights (``state``), the pretrained base's (``base_state``: the one given, or the one
    stage 1 trained here, or for a smaller base ``state`` itself), each stage's epoch logs
    (``epochs``: stage -> list) and every optimiser step's metrics (``steps``: ``{stage, step, ...}``: loss,
    alpha, batch cp, skip ratio, channel keep ratio, w_i). ``depth``: a smaller plain base network only (Table 2);
    ``base_state``: start from that pretrained base (stage 1 skipped); ``branches`` False: IADI only."""
    import torch

    from nas.runtime.training_progress import EpochProgress
    from spaces.methods.ddi import target_compute
    from trainers.data import make_loader
    from trainers.methods.ddi import build_ddi_network, ddi_schedule, train_base, train_ddi
    from trainers.training import default_device, prepare_worker_process

    prepare_worker_process(num_threads)
    torch.manual_seed(seed)
    splits = data.load()
    loader = make_loader(splits.train, joint.batch_size, shuffle=True, seed=seed)
    backbone = smaller_backbone(space, depth)
    net = build_ddi_network(space, gates=gates, backbone=backbone).to(default_device())
    steps: list[dict[str, Any]] = []
    stages = 1 if depth is not None else (0 if base_state is not None else 1) + 2 + int(branches)
    bar = EpochProgress(label, stages, progress)
    epoch_logs: dict[str, list[dict[str, float]]] = {}
    try:
        if depth is not None:
            epoch_logs["base"] = train_base(net, loader, ddi_schedule(base), on_step=lambda i, m: steps.append(
                {"stage": "base", "step": i, **m})).epochs
            bar(0, epoch_logs["base"][-1])
        else:
            if base_state is None:  # stage 1 here, so that its weights are returned as the base
                epoch_logs["base"] = train_base(net, loader, ddi_schedule(base), on_step=lambda i, m: steps.append(
                    {"stage": "base", "step": i, **m})).epochs
                base_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
            epoch_logs.update(train_ddi(net, loader, space.options, base, joint,
                                        target if target is not None else target_compute(space.budget),
                                        base_state=base_state, branches=branches,
                                        on_step=lambda stage, i, m: steps.append({"stage": stage, "step": i, **m})))
    finally:
        bar.close()
    cpu = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    base_out = base_state if base_state is not None else cpu
    return {"state": cpu, "base_state": base_out, "epochs": epoch_logs, "steps": steps}


def score_ddi_state(space: SearchSpace, data: DataSpec, state: dict[str, Any], *, gates: str | None = None,
                    depth: int | None = None, plain: bool = False, branches: bool = True,
                    num_threads: int = 1) -> dict[str, Any]:
    """One forward pass over the test split: ``correct`` (one 0/1 list per exit, branches then main), ``logits``
    and ``labels`` (to re-read any threshold and cap later), ``spent``
    (per exit, per sample: the BOPs spent answering there), ``entropy`` (per exit, per sample: H/ln C),
    ``skip_ratio``, ``channel_keep_ratio``, ``base_bops``. ``plain``/``depth``: the network without gates
    (a base ResNet: one exit, static cost)."""
    from trainers.data import materialize
    from trainers.early_exit.exit_rules import EntropyRule
    from trainers.methods.ddi import build_ddi_network, forward_split
    from trainers.training import prepare_worker_process

    prepare_worker_process(num_threads)
    backbone = smaller_backbone(space, depth)
    net = build_ddi_network(space, gates=gates, backbone=backbone)
    net.load_state_dict(state)
    net.branches_enabled = branches and depth is None and not plain
    net.gates_enabled = not (plain or depth is not None)
    inputs, labels = materialize(data.load().test)
    forward = forward_split(net, inputs)
    probs = forward.logits.softmax(dim=-1)
    correct = (probs.argmax(dim=-1) == labels).int()
    return {"correct": correct.tolist(), "spent": forward.spent.tolist(), "logits": forward.logits.tolist(),
            "labels": labels.tolist(),
            "entropy": EntropyRule().scores(probs).tolist(), "skip_ratio": forward.skip_ratio,
            "channel_keep_ratio": forward.channel_keep_ratio, "base_bops": forward.base_bops}


def train_and_score(space: SearchSpace, data: DataSpec, base: TrainingSchedule, joint: TrainingSchedule,
                    seed: int = 0, num_threads: int = 1, **options: Any) -> dict[str, Any]:
    """:func:`train_ddi_state` then :func:`score_ddi_state` of the result, in one task (IADI-only models are
    scored at their main exit, the branches off)."""
    label = options.pop("label", "ddi")
    out = train_ddi_state(space, data, base, joint, seed, num_threads, label=label, **options)
    out.update(score_ddi_state(space, data, out["state"], gates=options.get("gates"), depth=options.get("depth"),
                               branches=options.get("branches", True), num_threads=num_threads))
    return out
