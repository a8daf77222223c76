"""Start the three processes of the embedded default together; Ctrl-C stops all three.

The same commands run in docker-compose.yml (one container each); ``process_specs`` is the one place
that defines them, and the tests start the stack through it too.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from lotse.settings import ROOT, Settings, to_env

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path


def process_specs(settings: Settings, model: Path | None = None) -> list[ProcessSpec]:
    """Rasa server, action server and app, wired to each other through the environment."""
    model = model or settings.rasa.model_path
    rasa = settings.rasa
    token = rasa.internal_token.get_secret_value() if rasa.internal_token else ""
    base_env = {
        **os.environ,
        **to_env(settings),
        "PYTHONPATH": str(ROOT),
        "LOTSE_RASA_URL": f"http://127.0.0.1:{rasa.port}",
        # Read by Rasa's endpoints file (nlu/endpoints.yml).
        "LOTSE_ACTION_URL": f"http://127.0.0.1:{rasa.action_port}/webhook",
        "LOTSE_NLG_URL": f"http://127.0.0.1:{settings.web.internal_port}/nlg",
        "RASA_TRACKER_DB": str(rasa.tracker_db),
        # The action server reads the database and has no authentication: loopback only.
        "SANIC_HOST": "127.0.0.1",
        # Rasa and TensorFlow: no telemetry, quiet, and no surprise downloads.
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    }
    nlu = rasa.project_dir
    return [
        ProcessSpec(
            "rasa",
            [
                str(rasa.executable),
                "run",
                "--enable-api",
                "--model",
                str(model),
                "--endpoints",
                "endpoints.yml",
                "--credentials",
                "credentials.yml",
                "--port",
                str(rasa.port),
                "--interface",
                "127.0.0.1",
                # One argument: a token that starts with "-" would otherwise read as an option.
                f"--auth-token={token}",
            ],
            base_env,
            nlu,
        ),
        ProcessSpec(
            "actions",
            [sys.executable, "-m", "actions.server", "--port", str(rasa.action_port)],
            base_env,
            ROOT,
        ),
        ProcessSpec("app", [sys.executable, "-m", "cli", "serve"], base_env, ROOT),
    ]


def start(spec: ProcessSpec, log_dir: Path | None = None) -> subprocess.Popen[bytes]:
    """Start one process in its own session (so it can be stopped with its children)."""
    if log_dir is None:
        return subprocess.Popen(spec.argv, cwd=spec.cwd, env=spec.env, start_new_session=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"{spec.name}.log").open("ab") as log:  # the child keeps its own handle
        return subprocess.Popen(
            spec.argv,
            cwd=spec.cwd,
            env=spec.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(procs: dict[str, subprocess.Popen[bytes]], timeout: float = 15.0) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs.values():
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def with_internal_token(settings: Settings) -> Settings:
    """The settings with a fresh internal token when none is configured (the embedded default)."""
    if settings.rasa.internal_token is not None:
        return settings
    rasa = settings.rasa.model_copy(update={"internal_token": SecretStr(secrets.token_hex(32))})
    return settings.model_copy(update={"rasa": rasa})


def run_all(settings: Settings, model: str | None = None) -> int:
    settings = with_internal_token(settings)
    model_path = Path(model) if model else settings.rasa.model_path
    if not model_path.exists():
        logger.error("no trained model at %s: run 'make setup' first", model_path)
        return 1
    if not settings.rasa.executable.exists():
        logger.error("the Rasa environment is missing: run 'make setup' first")
        return 1
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def on_signal(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    for spec in process_specs(settings, model_path):
        procs[spec.name] = start(spec)
        logger.info("started %s (pid %s)", spec.name, procs[spec.name].pid)
    logger.info(
        "Rasa needs about a minute to load its model. Then chat at http://%s:%s/",
        settings.web.host,
        settings.web.port,
    )
    code = 0
    try:
        while not stopping:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    logger.error("%s exited with code %s; stopping the others", name, proc.returncode)
                    stopping, code = True, 1
            time.sleep(0.5)
    finally:
        logger.info("stopping Rasa, the action server and the app")
        stop(procs)
    return code
