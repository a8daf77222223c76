"""A runtime whose Rasa is not running (its port is closed): the pipeline without a dialogue engine."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from lotse.runtime import Runtime, build
from lotse.settings import RasaSettings, Settings
from tests.support.fake_telegram import free_port


def offline_runtime(database_url: str, tmp_path: Path, **sections: object) -> Runtime:
    """``lotse.runtime.build`` with Rasa unreachable and an internal token (as ``make run`` gives)."""
    settings = Settings(
        database_url=database_url,
        rasa=RasaSettings(
            url=f"http://127.0.0.1:{free_port()}",
            tracker_db=tmp_path / "tracker.db",
            timeout_seconds=2,
            internal_token=SecretStr("test-internal-token"),
        ),
        **sections,  # type: ignore[arg-type]
    )
    return build(settings)
