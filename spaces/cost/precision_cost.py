"""Per-exit costs of a DPOQ network, whose exits are its precisions (DPOQ Sec. 3.3; claim P2 of METHODS.md).

Path ``p`` runs every layer at ``W B_p`` (its slices ``1..p``; slice ``s`` reads path ``s``'s activations and is
computed once, reused by every higher path: Eq. 3-4), so a sample that stops at precision ``p`` has spent
``sum_layers MACs * B_p * A_in`` on the body (the lower paths' slices included) plus the classifiers of paths
``1..p``. That is USDN's structure: ToClassifier(p) = body at ``B_p`` + head ``p`` (Eq. 9) and EEcost(p) = head
``p``, paid for nothing by a sample that goes on (Eq. 10). ``A_in`` is ``input_bits`` for the first conv (the
image) and the paths' ``a_bits`` elsewhere; each head is a FC at ``classifier_bits`` weights reading A-bit
activations (USDN's counting convention, :mod:`spaces.cost.bops`)."""

from __future__ import annotations

from collections.abc import Sequence

from spaces.backbones import Backbone
from spaces.cost.bops import ClassifierCosts, layer_bops
from spaces.cost.option_costs import onion_slice_bits
from spaces.dimensions import BitWidth


def precision_body_bops(backbone: Backbone, bits: int, a_bits: int, input_bits: int = 8) -> float:
    """BOPs of every layer but the final FC at ``W bits``: path ``bits``'s body (USDN Eq. 1 per layer)."""
    return float(sum(layer_bops(layer, BitWidth(bits, input_bits if layer.role == "first" else a_bits))
                     for layer in backbone.layers if layer.role != "last"))


def precision_head_bops(backbone: Backbone, a_bits: int, classifier_bits: int = 8) -> float:
    """BOPs of one path's classifier: the final FC at ``classifier_bits`` weights reading A-bit activations."""
    return float(sum(layer_bops(layer, BitWidth(classifier_bits, a_bits))
                     for layer in backbone.layers if layer.role == "last"))


def precision_classifier_costs(backbone: Backbone, bit_list: Sequence[int], a_bits: int, input_bits: int = 8,
                               classifier_bits: int = 8) -> ClassifierCosts:
    """:class:`ClassifierCosts` with one exit per precision of ``bit_list``, lowest first; ``static`` is the
    highest precision's path alone (its body and its classifier)."""
    onion_slice_bits(bit_list)  # validates the bit list
    head = precision_head_bops(backbone, a_bits, classifier_bits)
    to_classifier = tuple(precision_body_bops(backbone, b, a_bits, input_bits) + head for b in bit_list)
    return ClassifierCosts(tuple(f"W{b}A{a_bits}" for b in bit_list), to_classifier,
                           tuple(head for _ in bit_list[:-1]), to_classifier[-1])


def average_bits(exit_rates: Sequence[float], bit_list: Sequence[int]) -> float:
    """The mean weight precision a sample is answered at, ``sum_p ER_p B_p`` (the x axis of DPOQ Fig. 5)."""
    return float(sum(r * b for r, b in zip(exit_rates, bit_list, strict=True)))
