"""Backbone topologies as data, and their registry."""

from __future__ import annotations

from spaces.backbones import mobilenet_v1, resnet_cifar, resnet_imagenet  # noqa: F401  (registration)
from spaces.backbones.block_spec import Backbone, BlockSpec
from spaces.backbones.exit_head import ExitHeadSpec
from spaces.backbones.layer_spec import LayerSpec
from spaces.backbones.registry import create_backbone, list_backbones, register_backbone

__all__ = ["Backbone", "BlockSpec", "ExitHeadSpec", "LayerSpec", "create_backbone", "list_backbones",
           "register_backbone"]
