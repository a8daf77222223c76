"""The action server: rasa_sdk's app behind a shared secret (``python -m actions.server``).

rasa_sdk 3.16 has no authentication, and the action server reads and writes the database: only Rasa may
call it. Rasa's ``action_endpoint`` sends the token as the ``token`` query parameter
(``nlu/endpoints.yml``); every request but ``/health`` without the right one gets 403. It listens on
loopback unless ``SANIC_HOST`` says otherwise (an internal network in the scale-out deployment).
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys

from rasa_sdk.endpoint import create_app as create_sdk_app
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from lotse.settings import Settings

logger = logging.getLogger(__name__)


def create_app(token: str) -> Sanic:
    """rasa_sdk's app for the ``actions`` package, refusing requests without ``token``."""
    executor = ActionExecutor()
    executor.register_package("actions")
    app = create_sdk_app(executor, cors_origins=[])

    @app.on_request
    async def check_token(request: Request) -> HTTPResponse | None:
        if request.path == "/health":
            return None
        given = str(request.args.get("token") or "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            return response.json({"error": "forbidden"}, status=403)
        return None

    return app


def main(argv: list[str] | None = None) -> int:
    """Start the action server (refuses to start without a token)."""
    parser = argparse.ArgumentParser(prog="actions.server", description=__doc__)
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()
    token = settings.rasa.internal_token
    if token is None:
        logger.error("LOTSE_RASA_INTERNAL_TOKEN is not set: the action server does not start without it")
        return 2
    app = create_app(token.get_secret_value())
    host = os.environ.get("SANIC_HOST", "127.0.0.1")
    port = args.port or settings.rasa.action_port
    logger.info("action server on %s:%s", host, port)
    app.run(host=host, port=port, legacy=True, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
