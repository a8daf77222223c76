"""Lazily built dependencies of the action server (rasa_sdk creates actions without arguments)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import Engine

from storage.db import DEFAULT_DATABASE_URL, make_engine
from storage.search import FaqIndex


class ActionSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LOTSE_", env_file=".env", extra="ignore", env_ignore_empty=True
    )
    database_url: str = DEFAULT_DATABASE_URL


@dataclass
class ActionServices:
    engine: Engine
    index: FaqIndex


def build_action_services(database_url: str) -> ActionServices:
    engine = make_engine(database_url)
    return ActionServices(engine=engine, index=FaqIndex(engine))


@cache
def get_services() -> ActionServices:
    return build_action_services(ActionSettings().database_url)
