"""Retrain the Rasa model from the current data and swap it into the running server.

Training runs in its own process (Rasa's venv) while the running server keeps answering with the old
model; the new model is then loaded with Rasa's ``PUT /model``, which replaces the agent only once the
new one is loaded. Staff edits of FAQ content need no retraining at all (the actions search stored
content); retraining matters when NLU examples change.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)


class RetrainFailed(Exception):
    """Training or loading the new model failed; the running model is unchanged."""


def train(out_dir: Path, *, rasa: Path, nlu_dir: Path) -> Path:
    """Train a model from ``nlu/`` into ``out_dir``; returns the model file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"lotse-{time.strftime('%Y%m%d-%H%M%S')}"
    env = {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "TF_INTRA_OP_PARALLELISM_THREADS": str(os.cpu_count() or 2),
    }
    cmd = [
        str(rasa),
        "train",
        "--config",
        "config.yml",
        "--domain",
        "domain",
        "--data",
        "data",
        "--out",
        str(out_dir),
        "--fixed-model-name",
        name,
        "--quiet",
    ]
    logger.info("training a new model into %s", out_dir)
    result = subprocess.run(cmd, cwd=nlu_dir, env=env, capture_output=True, text=True, check=False)
    model = out_dir / f"{name}.tar.gz"
    if result.returncode != 0 or not model.exists():
        raise RetrainFailed(f"rasa train failed ({result.returncode}): {result.stderr[-2000:]}")
    return model


def retrain(*, model_path: Path, rasa: Path, nlu_dir: Path, swap: Callable[[Path], None]) -> Path:
    """Train from the current data, swap it in (``swap``), and make it the model the next start uses."""
    model = train(model_path.parent / "retrained", rasa=rasa, nlu_dir=nlu_dir)
    swap(model)
    link = model_path
    tmp = link.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(model.resolve())
    tmp.replace(link)
    return model
