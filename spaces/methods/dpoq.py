"""DPOQ (paper 002): one network whose weights are onion bit-slices, so every precision of a bit list is a path of
one forward pass, read out by dynamic-precision inference (Sec. 3.3). Torch-free: the space file's sections and
knobs. A DPOQ space has no ``bits:`` or ``exits:``: its classifiers are its precisions (one per path)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spaces.dimensions.knob import INFERENCE, TRAIN
from spaces.errors import SpaceError
from spaces.methods.method_spec import FIXED, MethodSpec, register_method
from spaces.methods.section_fields import choice, integer, section

BN_KINDS = ("psbn", "per_path")
TRAINING_MODES = ("grad_scale", "joint", "separate")
STRATEGIES = ("normalized", "confidence_first")
"""The inference orderings a search scores: the normalised conf^(B_0/B_p) (Eq. 9) and the raw confidence. The
third of Fig. 3, precision-first, is not one threshold rule but a sweep over stages; the report draws it."""

_PRECISION_KEYS = {"bit_list", "activation_bits", "input_bits", "bn", "training", "classifier_bits"}
_INFERENCE_KEYS = {"strategy", "ensemble"}


@dataclass(frozen=True)
class DpoqOptions:
    """``precision:`` and ``inference:`` of a DPOQ space.

    - ``bit_list``: the cumulative weight precisions, strictly increasing (slices ``2, 2, 4, 8`` for
      ``2, 4, 8, 16``); one path and one classifier each.
    - ``a_bits``: activation bits of every path (the tables' A column); ``input_bits`` the image's (8).
    - ``bn``: ``psbn`` (Eq. 7-8) or ``per_path`` (the plain per-path BN ablation); ``training``: the gradient
      from a higher-precision loss into lower-precision parameters times ``B_s/B_p`` (``grad_scale``, Eq. 6),
      1 (``joint``) or 0 (``separate``).
    - ``classifier_bits``: weight bits of each path's FC (the paper does not say; 8, like USDN's last layer).
    - ``strategy``: the exit score, ``normalized`` conf^(B_0/B_p) (Eq. 9) or ``confidence_first`` (raw max
      softmax); ``ensemble``: answer with the mean softmax of the precisions computed so far (Sec. 3.3).
    """

    bit_list: tuple[int, ...] = (2, 4, 8, 16)
    a_bits: int = 8
    input_bits: int = 8
    bn: str = "psbn"
    training: str = "grad_scale"
    classifier_bits: int = 8
    strategy: str = "normalized"
    ensemble: bool = True

    @property
    def num_exits(self) -> int:
        return len(self.bit_list)

    @property
    def psbn(self) -> bool:
        return self.bn == "psbn"


def _int(value: Any, field: str, source: str, low: int = 1, high: int = 32) -> int:
    return integer(value, field, source, low, high)


def parse_dpoq_options(sections: Mapping[str, Any], backbone: Any, source: str) -> DpoqOptions:
    """The ``precision:`` and ``inference:`` sections (each optional; the defaults are the paper's ResNet-20
    setting: bit list 2/4/8/16, A = 8, grad-scale + PSBN, normalised ordering with the ensemble)."""
    precision = section(sections.get("precision"), "precision", _PRECISION_KEYS, source)
    inference = section(sections.get("inference"), "inference", _INFERENCE_KEYS, source)
    defaults = DpoqOptions()
    raw_list = precision.get("bit_list", list(defaults.bit_list))
    if not isinstance(raw_list, list) or not raw_list:
        raise SpaceError(f"must be a non-empty list of bit-widths, got {raw_list!r}", field="precision.bit_list",
                         source=source)
    bit_list = tuple(_int(b, "precision.bit_list", source) for b in raw_list)
    if any(b <= a for a, b in itertools.pairwise(bit_list)):
        raise SpaceError(f"must be strictly increasing, got {list(bit_list)}", field="precision.bit_list",
                         source=source)
    ensemble = inference.get("ensemble", defaults.ensemble)
    if not isinstance(ensemble, bool):
        raise SpaceError(f"must be true or false, got {ensemble!r}", field="inference.ensemble", source=source)
    return DpoqOptions(
        bit_list=bit_list,
        a_bits=_int(precision.get("activation_bits", defaults.a_bits), "precision.activation_bits", source),
        input_bits=_int(precision.get("input_bits", defaults.input_bits), "precision.input_bits", source),
        bn=choice(precision.get("bn", defaults.bn), BN_KINDS, "precision.bn", source),
        training=choice(precision.get("training", defaults.training), TRAINING_MODES, "precision.training", source),
        classifier_bits=_int(precision.get("classifier_bits", defaults.classifier_bits), "precision.classifier_bits",
                             source),
        strategy=choice(inference.get("strategy", defaults.strategy), STRATEGIES, "inference.strategy", source),
        ensemble=ensemble,
    )


def bit_list_text(bits: tuple[int, ...]) -> str:
    """The text of a bit list as a knob value: ``"2,4,8,16"``."""
    return ",".join(map(str, bits))


def check_dpoq_setting(key: str, value: Any, options: DpoqOptions) -> str:
    """A ``bit_list`` knob value (a list, or text like ``"4,5,6,8"``): strictly increasing bit-widths in 1..32, as
    many as the space's own list (its thresholds and Parquet columns are per precision)."""
    if key != "bit_list":
        raise ValueError(f"no such setting {key!r}")
    items = value.split(",") if isinstance(value, str) else value
    try:
        bits = tuple(int(b) for b in items) if isinstance(items, list | tuple) else ()
    except (TypeError, ValueError):
        bits = ()
    if not bits or any(not 1 <= b <= 32 for b in bits) or any(b <= a for a, b in itertools.pairwise(bits)):
        raise ValueError(f"every value must be a strictly increasing list of bit-widths in 1..32, got {value!r}")
    if len(bits) != len(options.bit_list):
        raise ValueError(f"every bit list needs {len(options.bit_list)} precisions, as precision.bit_list "
                         f"{list(options.bit_list)} has, got {list(bits)}")
    return bit_list_text(bits)


DPOQ = register_method(MethodSpec(
    name="dpoq",
    summary="DPOQ: onion bit-slice weights, one path per precision of a bit list, dynamic-precision inference "
            "(Eq. 2-9)",
    knobs=(("threshold", INFERENCE), ("thresholds", INFERENCE), ("tradeoff", INFERENCE)),
    metrics=("accuracy_exit{exit}", "avg_bits", "cached_forward"),
    option_knobs=(("training", "precision.training", TRAINING_MODES, TRAIN), ("bn", "precision.bn", BN_KINDS, TRAIN),
                  ("bit_list", "precision.bit_list", (), TRAIN)),
    check_setting=check_dpoq_setting,
    layout=FIXED,
    sections=("precision", "inference"),
    parse_options=parse_dpoq_options,
))
"""Its knobs: the threshold tau on the exit score (one, or one per precision but the last) and tr, all scored from
one cached forward pass of the network; and, train-phase, the training mode, the BN kind and the bit list
(``training:``, ``bn:``, ``bit_list:`` of as many precisions as the space's own; the Table 1 ablation and Table
3's bit lists as a search: a trial whose values differ from the space's own trains a network).
Its extra metrics: each precision's accuracy on every sample, the average weight bits a sample is answered at
(sum_p ER_p B_p), whether the forward pass was cached."""
