"""What can be searched: declarative search spaces, backbone topologies and the cost model.

Nothing here imports torch: a space can be loaded, counted and priced on any machine.
"""

from __future__ import annotations

from spaces.backbones import Backbone, BlockSpec, ExitHeadSpec, LayerSpec, create_backbone, list_backbones
from spaces.cost import CostModel, EarlyExitCost, early_exit_cost, early_exit_reward
from spaces.dimensions import BitWidth, BitWidthChoice, Budget, Dimension, ExitLocation
from spaces.errors import SpaceError
from spaces.loader import list_presets, load_space, parse_space
from spaces.search_space import Config, FixedBits, SearchSpace

__all__ = ["Backbone", "BitWidth", "BitWidthChoice", "BlockSpec", "Budget", "Config", "CostModel",
           "Dimension", "EarlyExitCost", "ExitHeadSpec", "ExitLocation", "FixedBits", "LayerSpec",
           "SearchSpace", "SpaceError", "create_backbone", "early_exit_cost", "early_exit_reward",
           "list_backbones", "list_presets", "load_space", "parse_space"]
