"""cluster.yaml is a valid Ray cluster-launcher config (checked against the schema Ray ships)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import ray
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_cluster_yaml_matches_ray_schema() -> None:
    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    schema = json.loads((Path(ray.__file__).parent / "autoscaler" / "ray-schema.json").read_text())
    jsonschema.validate(config, schema)
    assert config["head_node_type"] in config["available_node_types"]
    kinds = {name.split(".")[-1] for name in config["available_node_types"]}
    assert {"cpu", "gpu"} <= kinds
    assert any("pip install" in cmd and "adaptive-quant-nas" in cmd for cmd in config["setup_commands"])
    assert all("--dashboard-host=127.0.0.1" in cmd for cmd in config["head_start_ray_commands"] if "--head" in cmd)
