"""The console's texts of the unanswered questions (``/console/content/questions``), in German.

Templates call ``tq("key", name=value)``; the pattern is ``console.strings``'s.
"""

from __future__ import annotations

from typing import Any

DE: dict[str, str] = {
    "title": "Offene Fragen",
    "intro": (
        "Fragen, die der Bot nicht beantworten konnte. Namen, E-Mail-Adressen, Links und Nummern sind "
        "entfernt. Ähnliche Fragen stehen in einer Gruppe. Wenn Sie eine Gruppe mit einem Eintrag "
        "verbinden, bekommen alle, die gefragt haben, die Antwort einmal als Nachricht in ihrer Sprache "
        "und können sagen, ob sie geholfen hat."
    ),
    "views": "Ansicht",
    "view_open": "Offen ({n})",
    "view_linked": "Beantwortet ({n})",
    "view_dismissed": "Nicht unsere Aufgabe ({n})",
    "empty_open": "Keine offenen Fragen. Der Bot konnte bisher alles beantworten.",
    "empty_linked": "Noch keine Gruppe ist mit einem Eintrag verbunden.",
    "empty_dismissed": "Keine Gruppe ist als „nicht unsere Aufgabe“ markiert.",
    "group": "Gruppe {id}",
    "count": "So oft gefragt",
    "languages": "Sprachen",
    "first_asked": "Zuerst gefragt",
    "last_asked": "Zuletzt gefragt",
    "waiting": "Personen, die noch auf eine Antwort warten",
    "samples": "So wurde gefragt",
    "closest": "Passt vielleicht schon ein Eintrag?",
    "closest_none": "Kein bestehender Eintrag ist ähnlich.",
    "answered_by_this": "Beantwortet durch diesen Eintrag",
    "other_entry": "Oder einen anderen Eintrag wählen",
    "choose_entry": "– Eintrag wählen –",
    "link": "Beantwortet durch diesen Eintrag",
    "create_entry": "Eintrag aus dieser Gruppe anlegen",
    "dismiss_reason": "Begründung (zum Beispiel: „Dafür ist das Jobcenter zuständig.“)",
    "dismiss": "Nicht unsere Aufgabe",
    "reopen": "Wieder öffnen",
    "linked_to": "Beantwortet durch den Eintrag",
    "dismissed_because": "Nicht unsere Aufgabe, weil",
    "decided": "Entschieden von {who} am {at}",
    "feedback": "Rückmeldungen",
    "feedback_sent": "Benachrichtigt",
    "feedback_helped": "Hat geholfen",
    "feedback_not_helped": "Hat nicht geholfen",
    "entry_inactive": "Dieser Eintrag ist abgeschaltet. Niemand wird benachrichtigt.",
    "done_linked": (
        "Die Gruppe ist verbunden. {n} Personen haben die Antwort jetzt als Nachricht bekommen. Wer "
        "später ähnlich fragt, bekommt sie auch."
    ),
    "done_linked_one": (
        "Die Gruppe ist verbunden. Eine Person hat die Antwort jetzt als Nachricht bekommen. Wer "
        "später ähnlich fragt, bekommt sie auch."
    ),
    "done_linked_none": (
        "Die Gruppe ist verbunden. Im Moment kann niemand benachrichtigt werden (zum Beispiel, weil "
        "gerade ein Gespräch mit dem Case Management läuft). Das geschieht später von selbst."
    ),
    "done_dismissed": "Die Gruppe ist als „nicht unsere Aufgabe“ markiert.",
    "done_reopened": "Die Gruppe ist wieder offen.",
    "question_group_unknown": "Diese Gruppe gibt es nicht mehr.",
    "question_entry_unknown": (
        "Diesen Eintrag gibt es nicht. Bitte wählen Sie einen Eintrag aus der Liste."
    ),
    "question_reason_missing": "Bitte schreiben Sie eine Begründung.",
}


def tq(key: str, /, **values: Any) -> str:
    """The text ``key`` with ``{placeholders}`` filled (the key itself if it is missing)."""
    text = DE.get(key, key)
    return text.format(**values) if values else text
