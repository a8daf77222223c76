"""A translation worker process, so #24 can stop machine translation at a real process boundary.

``python -m tests.reliability.mt_worker PACKAGES_DIR PORT`` serves the installed Argos packages (run
by the product's ``ArgosTranslator``) over HTTP; ``WorkerEngine`` is the engine the app's
``TranslationService`` talks to. ``kill -9`` makes the worker down, ``SIGSTOP`` makes it hang.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from translations.argos import ArgosTranslator
from translations.engine import TranslationUnavailable

Pair = tuple[str, str]


class WorkerEngine:
    """An engine whose model runs in the worker process (``pairs``, ``route`` and ``translate_batch``
    as ``ArgosTranslator`` has them; the route logic is the product's own)."""

    name = "argos-worker"

    def __init__(self, url: str, pairs: set[Pair]) -> None:
        self.url = url
        self._pairs = pairs
        self.calls = 0

    @property
    def pairs(self) -> set[Pair]:
        return set(self._pairs)

    def route(self, source: str, target: str) -> list[Pair] | None:
        if source == target:
            return []
        if (source, target) in self._pairs:
            return [(source, target)]
        if (source, "en") in self._pairs and ("en", target) in self._pairs:
            return [(source, "en"), ("en", target)]
        return None

    def supports(self, source: str, target: str) -> bool:
        return self.route(source, target) is not None

    def translate_batch(self, texts: list[str], source: str, target: str) -> list[str]:
        self.calls += 1
        try:
            resp = httpx.post(
                f"{self.url}/translate",
                json={"texts": texts, "source": source, "target": target},
                timeout=60,  # the service's own time limit is what the person waits
            )
            resp.raise_for_status()
        except httpx.HTTPError as exc:
            raise TranslationUnavailable(f"translation worker: {exc!r}") from exc
        return list(resp.json()["texts"])

    def translate(self, text: str, source: str, target: str) -> str:
        return self.translate_batch([text], source, target)[0]


def serve(packages: Path, port: int) -> None:
    argos = ArgosTranslator.from_installed([packages], threads=1)
    argos.preload()
    lock = threading.Lock()
    served = {"requests": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._send({"pairs": sorted(argos.pairs), "requests": served["requests"]})

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                served["requests"] += 1
                out = argos.translate_batch(request["texts"], request["source"], request["target"])
            self._send({"texts": out})

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    serve(Path(sys.argv[1]), int(sys.argv[2]))
