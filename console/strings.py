"""Every text of the staff console, in one place (German: the staff are German public servants).

Templates call ``t("key", name=value)``; another interface language is one more dictionary in
``STRINGS`` and a setting. Labels for stored codes (reasons, outcomes, delivery states, roles, audit
actions, languages) are here too, so no template spells a code out.
"""

from __future__ import annotations

from typing import Any

DE: dict[str, str] = {
    # layout
    "app_name": "KIM Lotse – Mitarbeitende",
    "skip_to_content": "Zum Inhalt springen",
    "nav_label": "Hauptnavigation",
    "nav_inbox": "Übergaben",
    "nav_content": "Inhalte",
    "nav_accounts": "Konten",
    "nav_audit": "Protokoll",
    "nav_escalations": "Überfällig",
    "nav_reminders": "Erinnerungen",
    "nav_erasures": "Löschungen",
    "nav_password": "Mein Passwort",
    "logout": "Abmelden",
    "signed_in_as": "Angemeldet als {name}",
    # login
    "login_title": "Anmelden",
    "login_intro": "Anmeldung für Mitarbeitende des Kommunalen Integrationsmanagements.",
    "username": "Benutzername",
    "password": "Passwort",
    "login_button": "Anmelden",
    "login_failed": "Benutzername oder Passwort ist falsch.",
    "login_throttled": (
        "Zu viele fehlgeschlagene Anmeldungen. Bitte warten Sie 15 Minuten und versuchen Sie es dann "
        "erneut."
    ),
    "logged_out": "Sie sind abgemeldet.",
    "session_expired": "Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an.",
    # errors
    "error_title": "Nicht möglich",
    "forbidden": "Für diese Seite fehlt Ihrem Konto die Berechtigung.",
    "csrf_failed": (
        "Das Formular ist abgelaufen oder kam nicht von dieser Seite. Bitte laden Sie die Seite neu."
    ),
    "not_found": "Diese Seite gibt es nicht.",
    "handoff_not_open": "Diese Übergabe ist nicht mehr offen.",
    "back_to_start": "Zur Startseite",
    "no_role": (
        "Ihrem Konto ist noch keine Aufgabe zugeordnet. Bitte wenden Sie sich an die Administration."
    ),
    # inbox
    "inbox_title": "Offene Übergaben",
    "inbox_intro": (
        "Menschen, die mit einer Fachkraft sprechen möchten. Dringende stehen oben. "
        "Antwort versprochen innerhalb von {days} Werktagen."
    ),
    "inbox_empty": "Keine offenen Übergaben.",
    "inbox_views": "Ansicht",
    "view_all": "Alle offenen",
    "view_mine": "Mir zugewiesen",
    "view_unassigned": "Nicht zugewiesen",
    "view_urgent": "Dringend oder überfällig",
    "inbox_count": "{n} offen",
    "inbox_refreshed": "Aktualisiert um {time}",
    "col_waiting": "Wartet seit",
    "col_due": "Antwort bis",
    "col_language": "Sprache",
    "col_reason": "Grund",
    "col_topic": "Thema",
    "col_assigned": "Zuständig",
    "col_channel": "Kanal",
    "col_open": "Öffnen",
    "urgent": "Dringend",
    "overdue": "Überfällig",
    "escalated": "Eskaliert",
    "replied": "Beantwortet",
    "nobody": "niemand",
    "new_messages": "{n} neue Nachrichten",
    "open_conversation": "Gespräch öffnen",
    # opening a conversation
    "open_title": "Gespräch öffnen",
    "open_intro": (
        "Das Öffnen wird mit Ihrem Namen und dem Grund protokolliert (Datenschutz, Art. 9 DSGVO)."
    ),
    "open_reason": "Grund",
    "open_button": "Öffnen und protokollieren",
    # conversation
    "conversation_title": "Übergabe {id}",
    "summary": "Zusammenfassung",
    "summary_language": "Sprache",
    "summary_channel": "Kanal",
    "summary_reason": "Grund",
    "summary_since": "Schreibt seit",
    "summary_messages": "Nachrichten",
    "summary_topics": "Gefragt nach",
    "summary_appointments": "Termine",
    "summary_none": "keine",
    "summary_due": "Antwort versprochen bis",
    "transcript": "Verlauf",
    "speaker_person": "Person",
    "speaker_bot": "Lotse (Bot)",
    "speaker_staff": "Case Management",
    "button_press": "Taste gedrückt: {payload}",
    "german_translation": "Maschinelle Übersetzung ins Deutsche",
    "no_translation": "Keine Übersetzung verfügbar",
    "flag_pivot": "über Englisch übersetzt",
    "flag_terms": "Fachbegriffe unverändert: {terms}",
    "original": "Original",
    "delivery_failed": "Nicht zugestellt: {reason}",
    # reply
    "reply_title": "Antworten",
    "reply_text": "Ihre Antwort",
    "reply_hint": "Kurze, einfache Sätze lassen sich am besten übersetzen.",
    "written_in": "Sie schreiben auf",
    "written_in_german": "Deutsch (wird übersetzt)",
    "written_in_theirs": "{language} (wird so gesendet)",
    "preview_button": "Vorschau",
    "preview_title": "Vorschau",
    "preview_sent_as": "So erhält die Person die Nachricht ({language})",
    "preview_back": "Rückübersetzung ins Deutsche (zur Kontrolle)",
    "preview_back_none": "Keine Rückübersetzung möglich (kein Modell für diese Richtung).",
    "preview_machine": "Maschinell übersetzt – die Person sieht einen Hinweis darauf.",
    "preview_staff": "Wird so gesendet, wie Sie es geschrieben haben.",
    "preview_untranslated": (
        "Für diese Sprache gibt es keine maschinelle Übersetzung. Die Nachricht wird auf Deutsch "
        "gesendet, mit einem Hinweis in der Sprache der Person."
    ),
    "preview_changed": "Die Übersetzung hat sich geändert. Bitte prüfen Sie die neue Vorschau.",
    "send_button": "So senden",
    "edit_hint": "Zum Ändern den Text oben bearbeiten und erneut „Vorschau“ wählen.",
    "reply_empty": "Bitte schreiben Sie eine Antwort.",
    "reply_queued": "Antwort gesendet.",
    "replies_title": "Ihre Antworten und ihr Zustellstatus",
    "replies_none": "Noch keine Antwort.",
    # delivery states
    "status_queued": "In Warteschlange",
    "status_sending": "Wird gesendet",
    "status_sent": "Zugestellt",
    "status_failed": "Abgelehnt",
    "status_unknown": "Unklar, ob angekommen",
    "translation_machine": "maschinell übersetzt",
    "translation_staff": "in der Sprache der Person geschrieben",
    "translation_untranslated": "auf Deutsch",
    # ready-made replies and notes
    "snippet_insert_label": "Textbaustein",
    "snippet_insert": "Einfügen",
    "snippets_manage": "Textbausteine bearbeiten",
    "snippets_title": "Textbausteine",
    "snippets_intro": (
        "Vorgefertigte Antworten auf Deutsch. Sie werden wie jede Antwort in die Sprache der Person "
        "übersetzt, mit Vorschau vor dem Senden. Kurze, einfache Sätze übersetzen sich am besten. "
        "Versprechen Sie nie, wie eine Behörde entscheidet."
    ),
    "snippet_title": "Titel",
    "snippet_text": "Text",
    "snippet_active": "Anbieten",
    "snippet_new": "Neuer Textbaustein",
    "snippet_add": "Hinzufügen",
    "snippet_incomplete": "Bitte geben Sie einen Titel und einen Text ein.",
    "save": "Speichern",
    "notes_title": "Interne Notizen",
    "notes_hint": "Nur für Mitarbeitende sichtbar; die Person bekommt sie nie. Gehört zu ihren Daten.",
    "notes_none": "Noch keine Notiz.",
    "note_text": "Notiz",
    "note_add": "Notiz speichern",
    "note_added": "Die Notiz ist gespeichert.",
    # actions
    "actions_title": "Übergabe bearbeiten",
    "assign_me": "Mir zuweisen",
    "unassign": "Zuweisung aufheben",
    "assigned_to": "Zuständig: {name}",
    "release_button": "An den Bot zurückgeben",
    "release_hint": "Der Bot antwortet wieder; die Person wird in ihrer Sprache informiert.",
    "close_title": "Abschließen",
    "close_outcome": "Ergebnis",
    "close_button": "Abschließen",
    "released": "Die Übergabe wurde an den Bot zurückgegeben.",
    "closed": "Die Übergabe wurde abgeschlossen.",
    "assigned": "Die Übergabe ist Ihnen zugewiesen.",
    "unassigned": "Die Zuweisung ist aufgehoben.",
    # accounts
    "accounts_title": "Konten",
    "accounts_intro": "Konten der Mitarbeitenden und ihre Rollen. Jede Änderung wird protokolliert.",
    "col_username": "Benutzername",
    "col_name": "Name",
    "col_roles": "Rollen",
    "col_state": "Zustand",
    "col_actions": "Aktionen",
    "state_active": "aktiv",
    "state_disabled": "gesperrt",
    "display_name": "Name",
    "roles": "Rollen",
    "new_password": "Neues Passwort (mindestens 12 Zeichen)",
    "initial_password": "Erstes Passwort (mindestens 12 Zeichen)",
    "create_account": "Konto anlegen",
    "create_button": "Anlegen",
    "disable": "Sperren",
    "enable": "Entsperren",
    "save_roles": "Rollen speichern",
    "reset_password": "Passwort setzen",
    "account_created": "Das Konto {name} wurde angelegt.",
    "account_changed": "Das Konto {name} wurde geändert.",
    "password_changed": "Das Passwort wurde geändert. Bitte melden Sie sich neu an.",
    "own_password_title": "Mein Passwort ändern",
    "current_password": "Aktuelles Passwort",
    "wrong_current_password": "Das aktuelle Passwort ist falsch.",
    "change_button": "Ändern",
    # audit
    "audit_title": "Protokoll",
    "audit_intro": (
        "Wer wann welches Gespräch geöffnet, beantwortet oder abgegeben hat, und jede Kontoänderung. "
        "Die Einträge sind verkettet; sie können hier nicht geändert oder gelöscht werden."
    ),
    "audit_filter": "Filtern",
    "audit_actor": "Wer",
    "audit_action": "Aktion",
    "audit_person": "Person (Pseudonym)",
    "audit_target": "Objekt",
    "audit_since": "Von (Tag)",
    "audit_until": "Bis (Tag)",
    "audit_any": "alle",
    "audit_empty": "Keine Einträge.",
    "col_at": "Zeit",
    "col_reason_why": "Grund",
    "col_details": "Details",
    "verify_button": "Kette jetzt prüfen",
    "verify_ok": "Die Kette ist unversehrt: {rows} Einträge geprüft (Kopf {head}).",
    "verify_broken": (
        "Die Kette ist bei Eintrag {id} unterbrochen ({problem}): {why}. Bitte melden Sie das der "
        "Datenschutzbeauftragten."
    ),
    "verify_last": "Letzte Prüfung: {at} durch {actor} – {result}",
    "verify_never": "Die Kette wurde noch nicht geprüft.",
    "verify_result_ok": "unversehrt",
    "verify_result_broken": "unterbrochen",
    # escalations
    "escalations_title": "Überfällige Übergaben",
    "escalations_intro": (
        "Übergaben, auf die niemand innerhalb der versprochenen {days} Werktage geantwortet hat. "
        "Die Person hat eine Nachricht bekommen, dass es länger dauert. Bitte sorgen Sie dafür, "
        "dass jemand antwortet."
    ),
    "escalations_empty": "Keine überfälligen Übergaben.",
    # reminders that did not reach the person
    "reminders_title": "Erinnerungen, die nicht sicher angekommen sind",
    "reminders_intro": (
        "Diese Terminerinnerungen konnte der Bot nicht (sicher) zustellen. Die Person weiß "
        "vielleicht nicht mehr von ihrem Termin. Bitte erinnern Sie sie auf anderem Weg oder "
        "behalten Sie den Termin im Blick, und markieren Sie die Erinnerung dann als erledigt."
    ),
    "reminders_empty": "Alle Erinnerungen sind angekommen.",
    "reminders_inbox_note": "{count} Terminerinnerung(en) nicht sicher angekommen",
    "reminder_done": "Erledigt",
    "reminder_done_label": "Erinnerung zu Termin {reference} als erledigt markieren",
    "reminder_checked": "Die Erinnerung ist als erledigt markiert.",
    "reminder_gone": "Diese Erinnerung braucht keine Bearbeitung (mehr).",
    "col_appointment": "Termin",
    "col_office": "Büro",
    "col_reminder": "Erinnerung",
    "col_status": "Status",
    "col_why": "Grund",
    # erasures
    "erasures_title": "Unvollständige Löschungen",
    "erasures_intro": (
        "Eine Person hat mit /delete die Löschung verlangt, aber ein Speicher hat sie noch nicht "
        "bestätigt. Die Person wurde darüber informiert. Der Löschauftrag wird alle sechs Stunden "
        "wiederholt; bleibt er offen, prüfen Sie bitte den genannten Speicher."
    ),
    "erasures_empty": "Alle Löschungen sind vollständig.",
    "col_erasure": "Auftrag",
    "col_pseudonym": "Pseudonym",
    "col_failed": "Noch nicht gelöscht in",
    "store_conversation_engine": "Gesprächsverlauf von Rasa (Tracker)",
    # form bits
    "required": "Pflichtfeld",
    "saved": "Gespeichert.",
}

REASONS = {
    "user": "Wollte einen Menschen",
    "fallback": "Bot hat wiederholt nicht verstanden",
    "sensitive": "Notfall oder heikles Thema",
}

READ_REASONS = {
    "answer_request": "Anfrage beantworten",
    "quality_check": "Qualität prüfen",
    "person_request": "Auf Wunsch der Person",
    "legal_obligation": "Rechtliche Pflicht",
    "incident": "Sicherheitsvorfall",
    "routine_check": "Routineprüfung",
}

OUTCOMES = {
    "answered": "Frage beantwortet",
    "appointment": "Termin vereinbart",
    "referred": "An andere Stelle verwiesen",
    "no_reply": "Person hat nicht mehr geantwortet",
    "other": "Sonstiges",
    "released": "An den Bot zurückgegeben",
}

ROLES = {
    "case_manager": "Case Management (Übergaben)",
    "editor": "Redaktion (Inhalte)",
    "admin": "Administration (Konten, Protokoll)",
}

CHANNELS = {"telegram": "Telegram", "web": "Web-Chat"}

ACTIONS = {
    "conversation.read": "Gespräch geöffnet",
    "handoff.reply": "Antwort gesendet",
    "handoff.release": "An den Bot zurückgegeben",
    "handoff.assign": "Zugewiesen",
    "handoff.close": "Abgeschlossen",
    "handoff.escalate": "Eskaliert (Frist verstrichen)",
    "handoff.note": "Interne Notiz",
    "reminder.check": "Erinnerung erledigt",
    "snippet.edit": "Textbaustein geändert",
    "content.approve": "Inhalt freigegeben",
    "content.edit": "Inhalt bearbeitet",
    "question.link": "Offene Fragen: beantwortet durch Eintrag",
    "question.dismiss": "Offene Fragen: nicht unsere Aufgabe",
    "question.reopen": "Offene Fragen: wieder geöffnet",
    "content.machine_translate": "Maschinell übersetzt (Entwürfe)",
    "content.export": "Inhalte exportiert",
    "content.create": "Eintrag angelegt",
    "content.deactivate": "Eintrag abgeschaltet",
    "content.reactivate": "Eintrag wieder eingeschaltet",
    "content.confirm": "Eintrag bestätigt",
    "content.schedule": "Neue Fassung vorbereitet",
    "content.activate": "Neue Fassung in Kraft",
    "privacy.export": "Datenauskunft",
    "privacy.erase": "Löschung",
    "staff.create": "Konto angelegt",
    "staff.disable": "Konto gesperrt/entsperrt",
    "staff.password_reset": "Passwort gesetzt",
    "staff.roles": "Rollen geändert",
    "staff.login": "Angemeldet",
    "staff.login_failed": "Anmeldung fehlgeschlagen",
    "audit.verify": "Kette geprüft",
}

PROBLEMS = {"changed": "verändert", "missing": "gelöscht", "reordered": "umsortiert"}

LANGUAGES = {
    "de": "Deutsch",
    "en": "Englisch",
    "ar": "Arabisch",
    "uk": "Ukrainisch",
    "ru": "Russisch",
    "tr": "Türkisch",
    "fa": "Persisch (Farsi/Dari)",
    "fr": "Französisch",
    "es": "Spanisch",
    "pl": "Polnisch",
    "ro": "Rumänisch",
    "bg": "Bulgarisch",
    "sq": "Albanisch",
    "ku": "Kurdisch (Kurmancî)",
}

REMINDER_STATES: dict[str, str] = {
    "missed": "nicht gesendet (zu spät)",
    "unknown": "unklar (Zeitüberschreitung)",
    "failed": "von Telegram abgelehnt",
}
REMINDER_KINDS: dict[str, str] = {
    "reminder": "Erinnerung vor dem Termin",
    "cancellation": "Absage durch das Büro",
}

STRINGS: dict[str, dict[str, str]] = {"de": DE}
LABELS: dict[str, dict[str, str]] = {
    "reason": REASONS,
    "read_reason": READ_REASONS,
    "outcome": OUTCOMES,
    "role": ROLES,
    "channel": CHANNELS,
    "action": ACTIONS,
    "problem": PROBLEMS,
    "language": LANGUAGES,
    "reminder_state": REMINDER_STATES,
    "reminder_kind": REMINDER_KINDS,
}


def t(key: str, /, **values: Any) -> str:
    """The console text ``key`` with ``{placeholders}`` filled (the key itself if it is missing)."""
    text = DE.get(key, key)
    return text.format(**values) if values else text


def label(kind: str, code: str | None) -> str:
    """The German label of a stored code (``label("reason", "user")``); the code if unknown."""
    if code is None:
        return "–"
    return LABELS.get(kind, {}).get(code, code)
