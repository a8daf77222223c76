"""Every text of the studio's FAQ entry pages (German), in one place; see ``console.strings``."""

from __future__ import annotations

from typing import Any

from console import strings

DE: dict[str, str] = {
    # the start page
    "content_title": "Inhalte",
    "content_intro": (
        "Hier schreiben und pflegen Sie die Antworten des Lotsen. Änderungen gelten sofort: Der Lotse "
        "findet einen neuen oder geänderten Eintrag gleich bei der nächsten Frage."
    ),
    "counts_title": "Stand der Übersetzungen",
    "counts_line": "{language}: {parts}",
    "count_reviewed": "{n} geprüft",
    "count_draft": "{n} Entwurf",
    "count_machine": "{n} maschinell",
    "count_outdated": "{n} veraltet",
    "count_missing": "{n} fehlt",
    "due_title": "Bitte prüfen",
    "due_intro": (
        "Einträge, deren Prüfdatum vorbei ist oder in den nächsten 14 Tagen kommt, und Einträge mit "
        "abgelaufenen Angaben. Öffnen Sie den Eintrag, prüfen Sie die Fakten und klicken Sie auf "
        "„Bestätigen“."
    ),
    "due_empty": "Zurzeit muss kein Eintrag geprüft werden.",
    "reason_overdue": "Prüfdatum vorbei",
    "reason_soon": "Prüfdatum bald",
    "reason_needs_review": "als „muss geprüft werden“ markiert",
    "reason_expired": "Angaben abgelaufen („gültig bis“ vorbei)",
    "list_title": "Alle Einträge",
    "new_entry": "Neuen Eintrag schreiben",
    "search_label": "Suche in Frage, Antwort und Stichwörtern",
    "filter_topic": "Thema",
    "filter_scope": "Gilt für",
    "filter_language": "Sprache",
    "filter_status": "Stand der Übersetzung",
    "filter_due": "Prüfdatum",
    "filter_due_due": "vorbei oder in 14 Tagen",
    "filter_due_overdue": "vorbei",
    "filter_needs_review": "Nur „muss geprüft werden“",
    "filter_state": "Zustand",
    "state_active": "eingeschaltet",
    "state_inactive": "abgeschaltet",
    "any": "alle",
    "any_language": "jede Sprache",
    "filter_button": "Anzeigen",
    "filter_reset": "Filter zurücksetzen",
    "list_count": "{n} Einträge",
    "list_empty": "Kein Eintrag passt zu dieser Suche.",
    "col_question": "Frage (Deutsch)",
    "col_topic": "Thema",
    "col_scope": "Gilt für",
    "col_review_due": "Prüfen bis",
    "col_languages": "Übersetzungen",
    "col_version": "Fassung",
    "tag_inactive": "abgeschaltet",
    "tag_needs_review": "muss geprüft werden",
    # statuses
    "status_source": "Deutsch (Original)",
    "status_reviewed": "geprüft",
    "status_draft": "Entwurf",
    "status_machine": "maschinell",
    "status_outdated": "veraltet",
    "status_missing": "fehlt",
    # scopes
    "scope_kreis": "ganzer Kreis",
    "scope_groups": "Gruppe von Gemeinden",
    "scope_towns": "eine Gemeinde",
    # the form
    "new_title": "Neuer Eintrag",
    "edit_title": "Eintrag bearbeiten",
    "form_intro": (
        "Schreiben Sie in einfacher Sprache. Felder mit * müssen ausgefüllt sein. Wenn Sie die deutsche "
        "Frage oder Antwort ändern, entsteht eine neue Fassung: Alle Übersetzungen gelten dann als "
        "veraltet, bis sie neu geprüft sind."
    ),
    "from_group": (
        "Dieser Eintrag beantwortet eine Gruppe unbeantworteter Fragen. Nach dem Speichern wird die "
        "Gruppe mit dem Eintrag verknüpft."
    ),
    "field_question": "Frage (Deutsch) *",
    "field_answer": "Antwort (Deutsch) *",
    "field_topic": "Thema *",
    "field_scope": "Gilt für *",
    "field_sources": "Quellen (eine pro Zeile: Internetadresse oder Fundstelle) *",
    "hint_sources": "Mindestens eine Quelle oder eine Rechtsgrundlage.",
    "field_legal_basis": "Rechtsgrundlage",
    "field_decided_by": "Wer entscheidet (eine Stelle pro Zeile)",
    "field_checklist": "Mitbringliste",
    "no_checklist": "keine",
    "field_keywords": "Stichwörter (mit Komma getrennt)",
    "hint_keywords": "Wörter, mit denen Menschen danach fragen, auch in anderen Sprachen.",
    "field_last_verified": "Zuletzt geprüft am *",
    "hint_reviewer": "Als prüfende Person wird Ihr Konto eingetragen: {name}.",
    "field_review_due": "Wieder prüfen bis",
    "field_valid_until": "Angaben gültig bis",
    "hint_valid_until": (
        "Zum Beispiel für einen Betrag, der sich am 1. Januar ändert. Danach sagt der Lotse: „Bitte "
        "fragen Sie beim Amt nach“, bis jemand den Eintrag bestätigt."
    ),
    "english_title": "Englische Fassung (freiwillig)",
    "english_intro": (
        "Wenn Sie gut Englisch schreiben, können Sie die Übersetzung gleich mitschreiben. Sie gilt dann "
        "als von Ihnen geprüft."
    ),
    "field_en_question": "Frage (Englisch)",
    "field_en_answer": "Antwort (Englisch)",
    "save_new": "Eintrag speichern",
    "save_edit": "Änderungen speichern",
    "cancel": "Abbrechen",
    "form_has_errors": "Bitte prüfen Sie die markierten Felder. Es wurde nichts gespeichert.",
    "created": "Der Eintrag ist gespeichert und gilt ab sofort.",
    "saved": "Die Änderungen sind gespeichert und gelten ab sofort.",
    "saved_new_version": (
        "Die Änderungen sind gespeichert. Neue Fassung {version}: Die Übersetzungen sind jetzt veraltet "
        "und sollten neu geprüft werden."
    ),
    "conflict": (
        "{by} hat diesen Eintrag am {at} gespeichert, während Sie ihn bearbeitet haben. Ihre Änderungen "
        "wurden nicht gespeichert, damit nichts verloren geht. Ihr Text steht unten noch im Formular; "
        "der aktuelle Stand steht daneben. Übernehmen Sie, was fehlt, und speichern Sie erneut."
    ),
    "conflict_current": "Aktueller gespeicherter Stand",
    # errors
    "err_question_missing": "Bitte schreiben Sie die Frage.",
    "err_question_long": "Die Frage ist zu lang (höchstens 500 Zeichen).",
    "err_answer_missing": "Bitte schreiben Sie die Antwort.",
    "err_answer_long": "Der Text ist zu lang (höchstens 30.000 Zeichen).",
    "err_topic": "Bitte wählen Sie ein Thema.",
    "err_scope": "Bitte wählen Sie, für wen der Eintrag gilt.",
    "err_sources_missing": "Bitte nennen Sie mindestens eine Quelle oder die Rechtsgrundlage.",
    "err_line_long": "Eine Zeile ist zu lang (höchstens 300 Zeichen).",
    "err_checklist": "Diese Mitbringliste gibt es nicht.",
    "err_date": "Bitte geben Sie ein Datum an (TT.MM.JJJJ).",
    "err_date_missing": "Bitte geben Sie ein Datum an.",
    "err_future": "Dieses Datum liegt in der Zukunft.",
    "err_past": "Dieses Datum liegt in der Vergangenheit.",
    "err_en_both": "Bitte schreiben Sie Frage und Antwort, oder lassen Sie beide leer.",
    "err_review_too_soon": "Das nächste Prüfdatum muss mehr als 14 Tage in der Zukunft liegen.",
    "err_valid_from_future": (
        "„Gilt ab“ muss in der Zukunft liegen. Für eine Änderung ab heute bearbeiten Sie den Eintrag "
        "direkt."
    ),
    "err_language": "Diese Sprache gibt es nicht.",
    # the entry page
    "entry_meta": "Fassung {version} · Thema: {topic} · gilt für: {scope}",
    "entry_inactive": (
        "Dieser Eintrag ist abgeschaltet: Der Lotse beantwortet damit keine Fragen mehr. Er bleibt für "
        "den Verlauf erhalten."
    ),
    "translations_title": "Übersetzungen",
    "translations_intro": (
        "Stand jeder Sprache für die aktuelle Fassung {version}. „Veraltet“ heißt: Die Übersetzung "
        "gehört zu einer älteren deutschen Fassung."
    ),
    "translate_link": "Übersetzung bearbeiten",
    "preview_link": "Vorschau",
    "actions_title": "Weitere Schritte",
    "history_link": "Verlauf ansehen",
    "deactivate": "Abschalten",
    "deactivate_hint": "Der Lotse beantwortet damit keine Fragen mehr. Der Eintrag bleibt erhalten.",
    "reactivate": "Wieder einschalten",
    "deactivated": "Der Eintrag ist abgeschaltet.",
    "reactivated": "Der Eintrag ist wieder eingeschaltet und gilt ab sofort.",
    "confirm_title": "Fakten geprüft – Bestätigen",
    "confirm_intro": (
        "Sie haben die Angaben geprüft und sie stimmen? Dann bestätigen Sie den Eintrag. Er gilt dann "
        "als heute von Ihnen geprüft, und der Hinweis „Bitte fragen Sie beim Amt nach“ entfällt."
    ),
    "confirm_button": "Bestätigen",
    "confirmed": "Der Eintrag ist bestätigt: heute von Ihnen geprüft.",
    "field_next_review": "Nächstes Prüfdatum *",
    "last_verified_by": "Zuletzt geprüft am {date} von {name}",
    # versions prepared ahead
    "pending_title": "Neue Fassung vorbereiten",
    "pending_intro": (
        "Für eine Änderung, die erst später gilt (zum Beispiel ein Gesetz ab 1. Januar). Bis zu diesem "
        "Tag bekommen die Menschen die aktuelle Fassung; am Tag selbst wird die neue Fassung von allein "
        "gültig."
    ),
    "pending_exists": "Vorbereitet von {by}, gilt ab {date}.",
    "field_valid_from": "Gilt ab *",
    "field_pending_question": "Neue Frage (Deutsch) *",
    "field_pending_answer": "Neue Antwort (Deutsch) *",
    "pending_save": "Neue Fassung speichern",
    "pending_saved": "Die neue Fassung ist vorbereitet. Sie gilt ab {date}.",
    "pending_discard": "Vorbereitete Fassung verwerfen",
    "pending_discarded": "Die vorbereitete Fassung ist verworfen.",
    "pending_translations": "Übersetzungen der neuen Fassung",
    "pending_translation_of": "{language}",
    "pending_translation_current": "geprüft von {by}",
    "pending_translation_stale": (
        "gehört zu einem älteren Text der neuen Fassung – bitte neu speichern, sonst wird sie nicht "
        "übernommen"
    ),
    "field_tr_question": "Frage ({language})",
    "field_tr_answer": "Antwort ({language})",
    "pending_translation_save": "Übersetzung speichern ({language})",
    "pending_translation_saved": "Die Übersetzung der neuen Fassung ist gespeichert ({language}).",
    "pending_add_language": "Sprache",
    # history
    "history_title": "Verlauf: {question}",
    "history_intro": "Wer hat wann was geändert. Gestrichen: entfernt, unterstrichen: neu.",
    "history_empty": "Noch keine Änderungen im Studio.",
    "change_seed": "Stand aus den Inhaltsdateien",
    "change_created": "angelegt",
    "change_edited": "bearbeitet",
    "change_activated": "vorbereitete Fassung in Kraft",
    "change_deactivated": "abgeschaltet",
    "change_reactivated": "wieder eingeschaltet",
    "history_step": "Fassung {version} · {change} · {by} · {at}",
    "history_no_text_change": "Text unverändert (nur Angaben geändert).",
    "history_question": "Frage",
    "history_answer": "Antwort",
    "back_to_entry": "Zurück zum Eintrag",
    "back_to_list": "Zurück zur Übersicht",
    # preview
    "preview_title": "Vorschau: so sieht die Antwort im Chat aus",
    "preview_language": "Sprache der Person",
    "preview_show": "Zeigen",
    "preview_status": "Angezeigt wird: {language}, {status}.",
    "preview_status_outdated": (
        "Angezeigt wird: {language}, geprüft für eine ältere Fassung – die Person sieht dazu den "
        "Hinweis, dass die Übersetzung veraltet sein kann."
    ),
    "preview_status_german": (
        "Für {language} gibt es keine aktuelle Übersetzung. Die Person sieht den deutschen Text, mit "
        "einem Hinweis in ihrer Sprache."
    ),
    "preview_status_bridge": (
        "Für {language} gibt es keine aktuelle Übersetzung. Die Person sieht die Fassung auf {shown} "
        "({status}), mit einem Hinweis."
    ),
    "preview_inactive": "Der Eintrag ist abgeschaltet; der Lotse zeigt ihn niemandem.",
    "entry_not_found": "Diesen Eintrag gibt es nicht.",
}


def t(key: str, /, **values: Any) -> str:
    """A text of these pages (or of the console's common strings) with ``{placeholders}`` filled."""
    text = DE.get(key)
    if text is None:
        return strings.t(key, **values)
    return text.format(**values) if values else text
