"""Options of the supernet stage shared by ``nas search``, ``nas compare`` and ``nas run``: how the candidates
start (full-precision pre-training, supplement App. A) and how sampled paths are scored (BN recalibration)."""

from __future__ import annotations

import argparse
from typing import Any

from nas.cli.common_options import non_negative_int, positive_float, positive_int

INIT_MODES = ("pretrained", "shared", "independent")
"""``trainers.networks.INIT_MODES``, spelled out so that ``nas --help`` does not import torch (a test keeps
the two equal)."""


def add_supernet_options(parser: argparse.ArgumentParser, pretrain_epochs: int = 10) -> None:
    group = parser.add_argument_group("supernet stage (USDN supplement App. A)")
    group.add_argument("--supernet-init", choices=INIT_MODES, default="pretrained",
                       help="pretrained (default): train the full-precision multi-exit network first, then start "
                            "every bit-width candidate from it, PACT clipping fitted to its activations; shared: "
                            "one random start for all candidates; independent: K random starts (ablation)")
    group.add_argument("--pretrain-epochs", type=positive_int, default=pretrain_epochs, metavar="E",
                       help=f"full-precision pre-training epochs (default: {pretrain_epochs})")
    group.add_argument("--pretrain-lr", type=positive_float, default=0.05, metavar="LR",
                       help="full-precision pre-training SGD learning rate (default: 0.05)")
    group.add_argument("--bn-recalibration", type=non_negative_int, default=256, metavar="N",
                       help="before scoring a configuration, recompute the BN statistics of its path from N "
                            "training images (default: 256; 0: off, use the supernet's shared statistics)")


def supernet_job_fields(args: argparse.Namespace) -> dict[str, Any]:
    """``SearchJob`` keyword arguments from :func:`add_supernet_options`' flags."""
    from trainers.training import TrainingSchedule

    return {"init": args.supernet_init,
            "pretrain": TrainingSchedule(epochs=args.pretrain_epochs, lr=args.pretrain_lr),
            "bn_recalibration": args.bn_recalibration}
