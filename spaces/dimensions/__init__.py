"""Dimension kinds of a search space."""

from __future__ import annotations

from spaces.dimensions.bit_width import BitWidth, BitWidthChoice, as_bit_width, check_bits
from spaces.dimensions.budget import Budget
from spaces.dimensions.dimension import Dimension
from spaces.dimensions.exit_location import ExitLocation
from spaces.dimensions.knob import INFERENCE, PHASES, TRAIN, KnobChoice, OptionKnob

__all__ = ["INFERENCE", "PHASES", "TRAIN", "BitWidth", "BitWidthChoice", "Budget", "Dimension", "ExitLocation",
           "KnobChoice", "OptionKnob", "as_bit_width", "check_bits"]
