"""Every German text of the studio's translation pages (review queue, side by side, bot messages,
glossary, checklists, export), in one place, as ``console/strings.py`` does for the rest."""

from __future__ import annotations

from typing import Any

DE: dict[str, str] = {
    # navigation inside the studio
    "studio_nav": "Inhalte-Bereiche",
    "nav_entries": "FAQ-Einträge",
    "nav_queue": "Zu prüfen",
    "nav_messages": "Bot-Nachrichten",
    "nav_glossary": "Glossar",
    "nav_checklists": "Mitbringlisten",
    "nav_export": "Export",
    # the language choice
    "language": "Sprache",
    "show": "Anzeigen",
    "other_languages": "Andere Sprachen",
    # review queue
    "queue_title": "Übersetzungen prüfen: {language}",
    "queue_intro": (
        "Hier steht, was in dieser Sprache noch geprüft werden muss. Zuerst veraltete Übersetzungen "
        "(der deutsche Text wurde geändert), dann maschinelle Übersetzungen, dann Entwürfe."
    ),
    "queue_counts": "{outdated} veraltet, {machine} maschinell, {draft} Entwurf, {missing} fehlen",
    "queue_empty": "In dieser Sprache ist alles geprüft.",
    "overview_title": "Alle Sprachen",
    "overview_row": "{outdated} veraltet, {machine} maschinell, {draft} Entwurf",
    "col_kind": "Art",
    "col_content": "Inhalt",
    "col_reason": "Warum",
    "col_fields": "Felder",
    "col_state": "Stand",
    "col_open": "Bearbeiten",
    "open_pair": "Übersetzung bearbeiten",
    "open_master": "Deutschen Text bearbeiten",
    "machine_all": "Alles Fehlende und Veraltete maschinell übersetzen ({language})",
    "machine_all_hint": (
        "Erstellt maschinelle Entwürfe für FAQ-Einträge, Bot-Nachrichten und Mitbringlisten. "
        "Menschliche Übersetzungen werden nie ersetzt. Maschinelle Entwürfe müssen Sie danach prüfen."
    ),
    "machine_none": (
        "Für {language} ist kein Übersetzungsmodell installiert: bitte von Hand übersetzen."
    ),
    "machine_done": (
        "{n} Texte maschinell übersetzt (als „maschinell“ zur Prüfung markiert). "
        "{kept} menschliche Übersetzungen wurden nicht ersetzt."
    ),
    "machine_failed": (
        "Bei {n} Teilen ist die maschinelle Übersetzung fehlgeschlagen; bitte später erneut versuchen."
    ),
    # side by side
    "pair_title": "{kind} übersetzen: {title}",
    "pair_meta": "Sprache: {language} · Stand: {state}",
    "master_heading": "Deutsch (Original, Version {version})",
    "translation_heading": "{language}",
    "translates_version": "übersetzt Version {version}",
    "reviewed_by": "geprüft von {name}",
    "no_text_yet": "Noch keine Übersetzung.",
    "save_draft": "Als Entwurf speichern",
    "approve": "Als geprüft freigeben",
    "approve_hint": (
        "„Als geprüft freigeben“ heißt: Sie haben die Übersetzung mit dem deutschen Text "
        "(Version {version}) verglichen. Dann bekommen Menschen sie ohne Hinweis."
    ),
    "machine_one": "Maschinell übersetzen (fehlende und veraltete)",
    "saved_draft": (
        "Als Entwurf gespeichert. Menschen sehen ihn mit dem Hinweis, dass er noch nicht geprüft ist."
    ),
    "saved_reviewed": "Als geprüft freigegeben (Version {version}).",
    "placeholders_hint": (
        "Platzhalter in geschweiften Klammern setzt der Bot selbst ein. Sie müssen genau so in der "
        "Übersetzung stehen: {names}"
    ),
    "outdated_hint": (
        "Der deutsche Text wurde geändert, seit diese Übersetzung geschrieben wurde. Bitte passen Sie "
        "sie an den neuen deutschen Text an."
    ),
    "back_to_queue": "Zurück zur Liste „Zu prüfen“",
    # fields
    "field_question": "Frage",
    "field_answer": "Antwort",
    "field_text": "Text",
    "field_title": "Titel",
    "field_item": "Punkt {n}",
    "field_explanation": "Erklärung",
    "field_gloss": "Kurzerklärung (steht in Klammern hinter dem Begriff)",
    # lists
    "messages_title": "Bot-Nachrichten",
    "messages_intro": (
        "Alle Texte, die der Bot selbst schreibt (Begrüßung, Hinweise, Knöpfe). Der deutsche Text ist "
        "das Original; wenn Sie ihn ändern, werden alle Übersetzungen als veraltet markiert."
    ),
    "glossary_title": "Glossar",
    "glossary_intro": (
        "Deutsche Behördenwörter, die nie übersetzt werden (Menschen brauchen das deutsche Wort beim "
        "Amt). Hinter dem Begriff steht eine kurze Erklärung in der Sprache der Person."
    ),
    "checklists_title": "Mitbringlisten",
    "checklists_intro": "Unterlagen, die Menschen zu einem Termin mitbringen sollen.",
    "col_key": "Name",
    "col_description": "Wofür",
    "list_empty": "Noch nichts angelegt.",
    # German master edit
    "master_title": "{kind} bearbeiten (Deutsch): {title}",
    "master_intro": (
        "Das ist das deutsche Original (Version {version}). Wenn Sie es ändern, entsteht Version "
        "{next}; alle Übersetzungen gelten dann als veraltet, bis sie angepasst und geprüft sind."
    ),
    "save_master": "Deutschen Text speichern",
    "master_saved": (
        "Gespeichert als Version {version}. Die Übersetzungen sind jetzt als veraltet markiert."
    ),
    "master_unchanged": "Nichts geändert.",
    "translations_of": "Übersetzungen",
    "new_term": "Neuen Begriff anlegen",
    "term": "Begriff (Deutsch, wie er im Text steht)",
    "term_note": "Erklärung für die Redaktion (Deutsch)",
    "term_gloss": "Kurzerklärung auf Deutsch (optional)",
    "add_term": "Begriff anlegen",
    "term_added": "Der Begriff „{term}“ ist angelegt und wird ab sofort nie maschinell übersetzt.",
    # export
    "export_title": "Inhalte exportieren",
    "export_intro": (
        "Lädt alle aktuellen Inhalte (FAQ-Einträge, Bot-Nachrichten, Mitbringlisten, Glossar, "
        "Gemeinde-Gruppen) als ZIP-Datei im Format der Seed-Dateien herunter. So kann ein anderer Kreis "
        "Ihre Inhalte übernehmen: Dateien nach storage/seed/ kopieren und „lotse seed“ ausführen. "
        "Status (geprüft, Entwurf, maschinell, veraltet) bleiben erhalten. Es sind keine Daten von "
        "Personen enthalten."
    ),
    "export_button": "ZIP-Datei herunterladen",
    "export_files": "Enthaltene Dateien",
}

KINDS = {
    "faq": "FAQ-Eintrag",
    "message": "Bot-Nachricht",
    "checklist": "Mitbringliste",
    "glossary": "Glossar-Begriff",
}

STATES = {
    "missing": "fehlt",
    "outdated": "veraltet",
    "machine": "maschinell",
    "draft": "Entwurf",
    "reviewed": "geprüft",
    "source": "Original",
}


def t(key: str, /, **values: Any) -> str:
    """The studio text ``key`` with ``{placeholders}`` filled (the key itself if it is missing)."""
    text = DE.get(key, key)
    return text.format(**values) if values else text


def field_label(name: str, index: int = 0) -> str:
    """The German label of a text field (``item:<key>`` is "Punkt n")."""
    if name.startswith("item:"):
        return t("field_item", n=index)
    return DE.get(f"field_{name}", name)
