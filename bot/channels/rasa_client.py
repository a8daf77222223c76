"""The one adapter between the app and the Rasa server (REST channel and HTTP API)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx

from services.conversation.dialogue import DialogueUnavailable
from services.nlu_model import RetrainFailed

logger = logging.getLogger(__name__)


class RasaUnavailable(DialogueUnavailable):
    """Rasa could not be reached, timed out, or answered with an error."""


class RasaClient:
    """Rasa's REST channel and HTTP API; API calls carry the auth token (``rasa run --auth-token``)."""

    def __init__(self, base_url: str, timeout: float = 15.0, token: str | None = None) -> None:
        params = {"token": token} if token else None
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout, params=params)

    async def close(self) -> None:
        await self._http.aclose()

    async def send(
        self, sender: str, message: str, metadata: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """One user turn through the REST channel; returns the bot's messages."""
        try:
            resp = await self._http.post(
                "/webhooks/rest/webhook",
                json={"sender": sender, "message": message, "metadata": metadata or {}},
            )
            resp.raise_for_status()
            data = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RasaUnavailable(str(exc) or type(exc).__name__) from exc
        return data if isinstance(data, list) else []

    async def start_new_session(self, sender: str, metadata: dict[str, Any] | None = None) -> bool:
        """A new Rasa session for ``sender`` (``/session_start``; the domain carries slots over), so
        the tracker Rasa loads, and sends to the actions and the NLG endpoint, on every turn stays
        short. Not while a form is active (a new session would end it). True when one was started."""
        try:
            resp = await self._http.get(
                f"/conversations/{sender}/tracker", params={"include_events": "NONE"}
            )
            resp.raise_for_status()
            if (resp.json().get("active_loop") or {}).get("name"):
                return False
            resp = await self._http.post(
                "/webhooks/rest/webhook",
                json={"sender": sender, "message": "/session_start", "metadata": metadata or {}},
            )
            resp.raise_for_status()
        except (httpx.HTTPError, ValueError) as exc:
            raise RasaUnavailable(str(exc) or type(exc).__name__) from exc
        return True

    async def model_loaded(self, timeout: float = 5.0) -> bool:  # noqa: ASYNC109 (a probe's own limit)
        try:
            resp = await self._http.get("/status", timeout=timeout)
            return resp.status_code == 200 and bool(resp.json().get("model_file"))
        except (httpx.HTTPError, ValueError):
            return False

    async def parse(self, text: str) -> dict[str, Any]:
        try:
            resp = await self._http.post("/model/parse", json={"text": text})
            resp.raise_for_status()
            result: dict[str, Any] = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RasaUnavailable(str(exc)) from exc
        return result

    async def delete_tracker(self, sender: str) -> None:
        """Forget a conversation in Rasa (erasure): replace its events with nothing."""
        try:
            resp = await self._http.put(f"/conversations/{sender}/tracker/events", json=[])
            resp.raise_for_status()
        except httpx.HTTPError as exc:
            raise RasaUnavailable(str(exc)) from exc


def swap_model(rasa_url: str, model: Path, timeout: float = 300.0, token: str | None = None) -> None:
    """Load ``model`` into the running Rasa server (the old one serves until the new one is ready)."""
    params = {"token": token} if token else {}
    try:
        resp = httpx.put(
            f"{rasa_url}/model",
            json={"model_file": str(model.resolve())},
            params=params,
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        raise RetrainFailed(f"Rasa did not load the model: {exc}") from exc
    if resp.status_code != 204:
        raise RetrainFailed(f"Rasa refused the model ({resp.status_code}): {resp.text[:500]}")
    status = httpx.get(f"{rasa_url}/status", params=params, timeout=10).json()
    if Path(status.get("model_file", "")).name != model.name:
        raise RetrainFailed(f"Rasa reports {status.get('model_file')!r} after the swap")
    logger.info("Rasa now serves %s", model.name)
