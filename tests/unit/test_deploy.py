"""docker-compose.yml cannot run here (no Docker engine): check what can be checked without it."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import SecretStr

from bot.supervisor import process_specs, with_internal_token
from lotse.settings import ROOT, Settings

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_long_running_service_has_a_healthcheck_and_restarts():
    for name, svc in COMPOSE["services"].items():
        if name == "migrate":
            continue
        assert "healthcheck" in svc, name
        assert svc.get("restart") == "unless-stopped", name


def test_dependencies_wait_for_health():
    for name, svc in COMPOSE["services"].items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in COMPOSE["services"], (name, dep)
            assert cond["condition"] in ("service_healthy", "service_completed_successfully")


def test_required_secrets_fail_loudly_and_none_is_committed():
    text = (ROOT / "docker-compose.yml").read_text()
    assert "${TELEGRAM_BOT_TOKEN:?" in text and "${POSTGRES_PASSWORD:?" in text
    # No literal password or token anywhere in the compose file.
    assert not re.search(r"^\s*\w*(PASSWORD|TOKEN):[ \t]*(?!\$\{)\S", text, re.MULTILINE)


def test_compose_runs_the_same_commands_as_make_run():
    specs = {s.name: s for s in process_specs(Settings())}
    rasa_cmd = COMPOSE["services"]["rasa"]["command"]
    assert rasa_cmd[:2] == specs["rasa"].argv[1:3] == ["run", "--enable-api"]
    assert specs["actions"].argv[1:4] == COMPOSE["services"]["actions"]["command"][1:4]
    # The token is one argument (``--auth-token=…``): a token that starts with "-" is no option.
    assert any(a.startswith("--auth-token=${LOTSE_RASA_INTERNAL_TOKEN:?") for a in rasa_cmd)
    assert any(a.startswith("--auth-token=") for a in specs["rasa"].argv)
    assert COMPOSE["services"]["app"]["command"][1:] == specs["app"].argv[1:]


def test_rasa_endpoint_files_name_only_variables_that_are_set():
    for path, env in (
        (ROOT / "deploy" / "rasa-endpoints.yml", COMPOSE["services"]["rasa"]["environment"]),
        (ROOT / "nlu" / "endpoints.yml", process_specs(with_internal_token(Settings()))[0].env),
    ):
        for var in re.findall(r"\$\{(\w+)\}", path.read_text()):
            assert var in env, (path.name, var)


def test_dockerfiles_copy_what_the_commands_need():
    app = (ROOT / "deploy" / "Dockerfile.app").read_text()
    # The runtime lock alone, hash-checked: no test tools and no torch in a production image.
    assert "--require-hashes -r requirements/app.lock" in app and "torch" not in app
    assert "dev.lock" not in app
    rasa = (ROOT / "deploy" / "Dockerfile.rasa").read_text()
    assert "python:3.10" in rasa and "requirements/rasa.lock" in rasa
    for f in ("postgres-init.sql", "rasa-endpoints.yml"):
        assert (ROOT / "deploy" / f).exists()
    assert Path(ROOT / ".env.example").exists()


def test_internal_endpoints_are_never_published():
    app = COMPOSE["services"]["app"]
    assert app["ports"] == ["8080:8080"]  # the NLG listener (5056) stays on the internal network
    for name in ("rasa", "actions", "db", "redis"):
        assert "ports" not in COMPOSE["services"][name], name
    text = (ROOT / "docker-compose.yml").read_text()
    assert "${LOTSE_RASA_INTERNAL_TOKEN:?" in text


def test_the_app_erases_from_the_tracker_store_rasa_uses():
    """The app and the action server read Rasa's endpoints file, so /delete reaches the tracker."""
    from services.privacy import tracker_store_url

    app_env = {k: str(v) for k, v in COMPOSE["services"]["app"]["environment"].items()}
    endpoints = app_env["LOTSE_RASA_ENDPOINTS_FILE"]
    assert endpoints == "/app/deploy/rasa-endpoints.yml"
    env = {**app_env, "RASA_TRACKER_PASSWORD": "pw"}
    url = tracker_store_url(ROOT / endpoints.removeprefix("/app/"), env)
    assert url == "postgresql+psycopg://lotse:pw@db:5432/rasa"
    text = (ROOT / "docker-compose.yml").read_text()
    assert "${LOTSE_WEB_SECRET:?" in text and app_env["LOTSE_WEB_SECURE_COOKIES"] == "true"
    assert "COPY . ." in (ROOT / "deploy" / "Dockerfile.app").read_text()  # deploy/ included


def test_local_data_and_secrets_never_go_into_an_image():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in (".env", "var", ".venv", ".venv-rasa", ".git"):
        assert path in ignored, path


def test_an_internal_token_that_starts_with_a_dash_reaches_rasa_as_the_token():
    """Rasa's argparse read a generated token beginning with "-" as an option and refused to start
    (one start in 64 with ``token_urlsafe``); it is passed as ``--auth-token=…`` now."""
    import argparse

    settings = Settings()
    settings = settings.model_copy(
        update={"rasa": settings.rasa.model_copy(update={"internal_token": SecretStr("-abc-123")})}
    )
    argv = {s.name: s for s in process_specs(settings)}["rasa"].argv
    parser = argparse.ArgumentParser()
    parser.add_argument("--auth-token")
    known, _ = parser.parse_known_args(argv[2:])
    assert known.auth_token == "-abc-123"
    fresh = with_internal_token(Settings()).rasa.internal_token
    assert fresh is not None and not fresh.get_secret_value().startswith("-")
