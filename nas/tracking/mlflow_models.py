"""Retrained networks as MLflow models: ``mlflow.pytorch.load_model("runs:/<retrain run id>/models/kd_student")``
gives back the evaluated ``nn.Module`` (eval mode, CPU), whose forward maps a float batch ``(N, C, H, W)`` to the
logits of every exit, ``(E, N, classes)``, shallow to deep; ``mlflow.pyfunc.load_model`` predicts the same array.

Format: MLflow's ``pickle`` serialization (cloudpickle). Its ``pt2`` format (``torch.export``) cannot trace these
networks: the PACT quantizer reads its clipping level with ``alpha.item()``, a data-dependent value that
``torch.export`` refuses. Pickle stores the network's classes by reference (``trainers.networks...``), so a
model loads where this project is installed (``pip install -e .`` of the same checkout); ``requirements.txt``
names torch and mlflow only, since the project is not on a package index. The model's metadata carries the
space, the configuration and the kind, and the signature the input and output shapes.

Logged with ``save_model`` into a temporary folder and then ``log_artifacts`` to the run by id, as every other
artifact here (no global active run). One model per model file of a retrain (``teacher``, ``kd_student``,
``ce_student``, ``baseline``), a few tens of milliseconds each; a failure is one line on stderr, never fatal.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nas.tracking.run_artifacts import warn_not_logged
from spaces import SearchSpace

MODELS = "models"
"""Artifact folder of the MLflow models in a retrain run: ``models/<kind>``."""
MODEL_FILES = ("teacher", "kd_student", "ce_student", "baseline")
"""Stems of the model files a retrain writes (``trainers.retraining.save_model``)."""


@contextlib.contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """MLflow warns on every pickled model (the format's usual caveat); keep the terminal for what matters."""
    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)


def save_mlflow_model(net: Any, space: SearchSpace, destination: Path, metadata: dict[str, Any] | None = None
                      ) -> Path:
    """Write ``net`` (a :class:`trainers.networks.MultiExitNetwork`) as an MLflow pytorch model folder."""
    import mlflow.pytorch
    import numpy as np
    import torch
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    backbone = space.backbone
    net = net.eval()
    shape = (backbone.in_channels, backbone.input_size, backbone.input_size)
    with torch.no_grad():
        out = net(torch.zeros((2, *shape)))
    signature = ModelSignature(Schema([TensorSpec(np.dtype("float32"), (-1, *shape))]),
                               Schema([TensorSpec(np.dtype("float32"), (out.shape[0], -1, out.shape[2]))]))
    torch_version = torch.__version__.split("+")[0]
    with _quiet_mlflow():
        mlflow.pytorch.save_model(net, str(destination), serialization_format="pickle", signature=signature,
                                  pip_requirements=[f"torch=={torch_version}"], metadata=metadata)
    return destination


def log_retrained_models(tracker: Any, run_id: str, space: SearchSpace, model_dir: Path) -> list[str]:
    """An MLflow model ``models/<kind>`` in run ``run_id`` for every model file of ``model_dir`` (a retrain's
    folder); returns the artifact paths logged."""
    from trainers.retraining import load_model

    logged = []
    for stem in MODEL_FILES:
        path = model_dir / f"{stem}.pt"
        if not path.is_file():
            continue
        artifact = f"{MODELS}/{stem}"
        try:
            loaded = load_model(path, space)
            metadata = {"nas.space": space.name, "nas.kind": loaded.kind, "nas.config": space.format(loaded.config)}
            with tempfile.TemporaryDirectory() as tmp:
                folder = save_mlflow_model(loaded.net, space, Path(tmp) / stem, metadata)
                tracker.client.log_artifacts(run_id, str(folder), artifact)
        except Exception as exc:  # never fatal: the model file is in the run folder and the run's artifacts
            warn_not_logged(run_id, artifact, exc)
            continue
        logged.append(artifact)
    return logged
