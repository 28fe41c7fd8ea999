"""Datasets (embedded digits, synthetic, local CIFAR and ImageNet-style folders), splits and loaders."""

from __future__ import annotations

from trainers.data.cifar import cifar_dataset
from trainers.data.dataset_splits import DatasetSplits
from trainers.data.digits import digits_dataset
from trainers.data.errors import DatasetError
from trainers.data.image_folder import image_folder_dataset
from trainers.data.loaders import calibration_inputs, make_loader, materialize
from trainers.data.registry import create_dataset, list_datasets, register_dataset
from trainers.data.synthetic import synthetic_dataset
from trainers.data.transformed_dataset import TransformedDataset
from trainers.data.validation_split import carve_validation

__all__ = [
    "DatasetError",
    "DatasetSplits",
    "TransformedDataset",
    "calibration_inputs",
    "carve_validation",
    "cifar_dataset",
    "create_dataset",
    "digits_dataset",
    "image_folder_dataset",
    "list_datasets",
    "make_loader",
    "materialize",
    "register_dataset",
    "synthetic_dataset",
]
