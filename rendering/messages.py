"""What the bot sends: a text with buttons and meta (response name, language, translation status)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Button:
    title: str
    payload: str

    def to_dict(self) -> dict[str, str]:
        return {"title": self.title, "payload": self.payload}


@dataclass
class OutMessage:
    text: str
    buttons: list[Button] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "buttons": [b.to_dict() for b in self.buttons],
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutMessage:
        return cls(
            text=str(data.get("text") or ""),
            buttons=[Button(str(b["title"]), str(b["payload"])) for b in data.get("buttons") or []],
            meta=dict(data.get("meta") or {}),
        )
