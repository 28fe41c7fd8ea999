"""DPOQ's torch side: the onion network of a DPOQ space (paper 002, Sec. 3), its Eq. 5 training, and the
evaluator that reads every precision's logits from one forward pass and scores a threshold of dynamic-precision
inference (Sec. 3.3) from them."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from spaces import Budget, SearchSpace
from spaces.cost import average_bits, precision_classifier_costs
from spaces.methods import DpoqOptions
from trainers.early_exit import EarlyExitEvaluation, NormalizedConfidenceRule
from trainers.evaluation import ConfigEvaluation
from trainers.evaluation.config_evaluator import _reward_of
from trainers.methods.method_networks import MethodNetworks, register_method_networks


def dpoq_options(space: SearchSpace) -> DpoqOptions:
    if not isinstance(space.options, DpoqOptions):
        raise ValueError(f"space {space.name!r} is not a DPOQ space (method {space.method!r})")
    return space.options


def build_onion_network(space: SearchSpace, *, bit_list: tuple[int, ...] | None = None, bn: str | None = None,
                        training: str | None = None) -> nn.Module:
    """The :class:`~trainers.networks.onion_network.OnionNetwork` of ``space``'s ``precision:`` section, with
    ``bit_list`` / ``bn`` / ``training`` overriding it (the Table 1 ablations; one precision: individual QAT)."""
    from trainers.networks.onion_network import OnionNetwork

    options = dpoq_options(space)
    return OnionNetwork(space.backbone, bit_list or options.bit_list, options.a_bits,
                        psbn=(bn or options.bn) == "psbn", mode=training or options.training,  # type: ignore[arg-type]
                        input_bits=options.input_bits, classifier="per_path",
                        classifier_w_bits=options.classifier_bits)


def exit_rule(options: DpoqOptions) -> Any:
    """The exit score of ``options.strategy``: conf^(B_0/B_p) (Eq. 9) or the raw max softmax."""
    return NormalizedConfidenceRule.from_bits(options.bit_list) if options.strategy == "normalized" \
        else "max_softmax"


Settings = tuple[str, str, str]
"""``(training mode, BN kind, bit list text)`` of a network: what its train-phase knobs set."""


@dataclass(frozen=True)
class PrecisionEvaluation(ConfigEvaluation):
    """A DPOQ evaluation: USDN's canonical fields (exits are precisions) plus ``avg_bits``, the mean weight
    precision a sample is answered at."""

    avg_bits: float = math.nan


class PrecisionEvaluator:
    """Scores thresholds of dynamic-precision inference on one split: the network runs once (every precision
    in one pass, :meth:`early_exit`), then every configuration (its thresholds and trade-off: inference knobs)
    is read from the stored logits, priced per exit by :func:`~spaces.cost.precision_classifier_costs`.

    Train-phase knobs (``precision.training``, ``precision.bn``, ``precision.bit_list``): a configuration with the
    space's own values is scored on ``net``; one with other values on a network of those settings trained here
    from scratch with ``trial_training`` (seeded, so the same values give the same network), kept for the next
    configurations with the same values (the last ``cache_size`` settings), each with its one forward pass and,
    for another bit list, its own per-precision costs and exit score (Eq. 9's exponents ``B_0/B_p``)."""

    def __init__(self, space: SearchSpace, net: nn.Module, inputs: torch.Tensor, labels: torch.Tensor,
                 batch_size: int = 1024, device: torch.device | None = None, trial_training: Any = None,
                 cache_size: int = 4) -> None:
        self.space = space
        self.options = dpoq_options(space)
        self.device = device or torch.device("cpu")
        self.net = net.to(self.device).eval()
        self.inputs, self.labels = inputs.to(self.device), labels.to(self.device)
        self.batch_size = batch_size
        self.costs = precision_classifier_costs(space.backbone, self.options.bit_list, self.options.a_bits,
                                                self.options.input_bits, self.options.classifier_bits)
        self.rule = exit_rule(self.options)
        self.trial_training = trial_training
        self.cache_size = cache_size
        self._own = (self.options.training, self.options.bn, ",".join(map(str, self.options.bit_list)))
        self._nets: OrderedDict[Settings, nn.Module] = OrderedDict()
        self._evaluations: dict[Settings, EarlyExitEvaluation] = {}
        self.trained_for_trials = 0
        """Networks this evaluator trained for train-phase values other than the space's own."""

    def settings(self, config: Mapping[str, Any] | None = None) -> Settings:
        """``(training, bn, bit list text)`` of ``config`` (its train-phase knobs; the space's own values for the
        others)."""
        values = dict(zip(("training", "bn", "bit_list"), self._own, strict=True))
        for label in self.space.train_labels if config is not None else ():
            values[label.split(".", 1)[1]] = str(config[label])
        return values["training"], values["bn"], values["bit_list"]

    @staticmethod
    def bit_list(settings: Settings) -> tuple[int, ...]:
        return tuple(int(b) for b in settings[2].split(","))

    def costs_for(self, settings: Settings) -> Any:
        """Per-exit costs of the settings' bit list (the space's own: :attr:`costs`)."""
        if settings[2] == self._own[2]:
            return self.costs
        o = self.options
        return precision_classifier_costs(self.space.backbone, self.bit_list(settings), o.a_bits, o.input_bits,
                                          o.classifier_bits)

    def rule_for(self, settings: Settings) -> Any:
        """The exit score of the settings' bit list (the space's own: :attr:`rule`)."""
        if settings[2] == self._own[2] or self.options.strategy != "normalized":
            return self.rule
        return NormalizedConfidenceRule.from_bits(self.bit_list(settings))

    def network(self, settings: Settings | None = None) -> nn.Module:
        """The network of ``settings`` (the space's own: the loaded one), trained here when it is new."""
        settings = settings or self._own
        if settings == self._own:
            return self.net
        if settings in self._nets:
            self._nets.move_to_end(settings)
            return self._nets[settings]
        if self.trial_training is None:
            raise ValueError(f"training={settings[0]}, bn={settings[1]}, bit list {settings[2]} needs a network "
                             "trained for it, and this evaluator has no trial training inputs")
        from trainers.data import make_loader

        training = self.trial_training
        torch.manual_seed(training.seed)
        net = build_onion_network(self.space, training=settings[0], bn=settings[1],
                                  bit_list=self.bit_list(settings)).to(self.device)
        schedule = paper_schedule(training.schedule)
        train_precisions(net, make_loader(training.train_data, schedule.batch_size, shuffle=True, seed=training.seed),
                         schedule, device=self.device)
        self.trained_for_trials += 1
        self._nets[settings] = net.eval()
        while len(self._nets) > self.cache_size:
            dropped, _ = self._nets.popitem(last=False)
            self._evaluations.pop(dropped, None)
        return self._nets[settings]

    def logits(self, settings: Settings | None = None) -> torch.Tensor:
        """``(P, N, C)``: every precision's logits on the split, lowest first (the network trained first, outside
        inference mode, where the settings are new)."""
        net = self.network(settings)
        with torch.inference_mode():
            parts = [net(self.inputs[i:i + self.batch_size]) for i in range(0, len(self.inputs), self.batch_size)]
            return torch.cat(parts, dim=1).float()

    def early_exit(self, ensemble: bool | None = None, settings: Settings | None = None
                   ) -> EarlyExitEvaluation:
        """The split's early-exit evaluation (cached for the space's own ``ensemble`` setting)."""
        use = self.options.ensemble if ensemble is None else ensemble
        settings = settings or self._own
        if use == self.options.ensemble and settings in self._evaluations:
            return self._evaluations[settings]
        costs = self.costs_for(settings)
        evaluation = EarlyExitEvaluation(self.logits(settings), self.labels, costs.to_classifier, costs.ic_costs,
                                         ensemble=use)
        if use == self.options.ensemble:
            self._evaluations[settings] = evaluation
        return evaluation

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        self.net.load_state_dict(state)
        self._evaluations.pop(self._own, None)

    def forget_cached(self) -> None:
        self._evaluations.clear()

    def evaluate(self, config: Mapping[str, Any], budget: Budget | None = None) -> PrecisionEvaluation:
        """Eq. 8-10 with exits = precisions at the config's thresholds, rewarded by the budget's reward."""
        config = self.space.validate(config)
        budget = self.space.budget_for(config, budget or self.space.budget)
        thresholds = self.space.exit_thresholds(config, budget)
        settings = self.settings(config)
        cached = settings in self._evaluations
        metrics = self.early_exit(settings=settings).metrics(thresholds, rule=self.rule_for(settings))
        reward = _reward_of(budget)(metrics.early_exit_accuracy, metrics.expected_bops) \
            if math.isfinite(metrics.early_exit_accuracy) else math.nan
        return PrecisionEvaluation(
            reward=reward, ee_accuracy=metrics.early_exit_accuracy, expected_bops=metrics.expected_bops,
            inference_bops=metrics.inference_bops, failure_bops=metrics.failure_bops,
            static_bops=self.costs_for(settings).static,
            exit_rates=tuple(metrics.exit_rates), per_exit_accuracy=tuple(metrics.per_exit_accuracy),
            threshold=None if isinstance(thresholds, tuple) else float(thresholds),
            exit_thresholds=thresholds if isinstance(thresholds, tuple) else (), cached_forward=cached,
            avg_bits=average_bits(metrics.exit_rates, self.bit_list(settings)))


PAPER_MILESTONES = (0.5, 0.75, 0.9)
"""DPOQ Sec. 4 (CIFAR): the rate /10 at epochs 100, 150 and 180 of 200, as fractions of training."""


def paper_schedule(schedule: Any) -> Any:
    """``schedule`` (its epochs, rate and batch) in the shape DPOQ trains with: SGD with momentum 0.9, weight decay
    5e-4, the rate times 0.1 at :data:`PAPER_MILESTONES` of the steps (the paper: 200 epochs from 0.1)."""
    import dataclasses

    return dataclasses.replace(schedule, momentum=0.9, weight_decay=5e-4, scheduler="multistep",
                               milestones=PAPER_MILESTONES, gamma=0.1)


def train_precisions(net: nn.Module, batches: Any, schedule: Any, *, device: torch.device | None = None,
                     on_epoch: Callable[[int, dict[str, float]], None] | None = None,
                     on_step: Callable[[int, dict[str, float]], None] | None = None,
                     alphas: tuple[float, ...] | None = None) -> Any:
    """Joint training of every precision with DPOQ Eq. 5, ``sum_k alpha_k CE(y_k, y)`` (alpha_k = 1 by default);
    the gradient between paths is scaled by the network's training mode (Eq. 6)."""
    from trainers.training.loops import train_loop
    from trainers.training.onion_loss import onion_loss

    device = device or next(net.parameters()).device
    net.to(device)

    def step(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = net(x)
        return onion_loss(logits, y, alphas), logits

    return train_loop(net, batches, schedule, step, device, on_epoch=on_epoch, on_step=on_step)


class DpoqNetworks(MethodNetworks):
    name = "dpoq"

    def build(self, space: SearchSpace) -> nn.Module:
        return build_onion_network(space)

    def evaluator(self, space: SearchSpace, network: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, *,
                  batch_size: int = 1024, device: torch.device | None = None,
                  calibration_inputs: torch.Tensor | None = None, trial_training: Any = None) -> PrecisionEvaluator:
        """``calibration_inputs`` are not used: every path's BN statistics were trained with the network."""
        return PrecisionEvaluator(space, network, inputs, labels, batch_size, device, trial_training)


DPOQ_NETWORKS = register_method_networks(DpoqNetworks())
