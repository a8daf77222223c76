"""People: find, create on consent, language, pause, erase."""

from __future__ import annotations

import re
import secrets

from sqlmodel import Session, select

from storage.db import utcnow
from storage.models import Consent, Person


def new_person_id() -> str:
    """A random pseudonym; it is not derived from the Telegram id, so it reveals nothing."""
    return secrets.token_hex(12)


_PSEUDONYM = re.compile(r"[0-9a-f]{24}")


def is_pseudonym(value: str) -> bool:
    """Whether ``value`` has the form of a pseudonym (and so is not a chat id or a name)."""
    return _PSEUDONYM.fullmatch(value) is not None


def find_person(*, session: Session, channel: str, external_id: str) -> Person | None:
    return session.exec(
        select(Person).where(Person.channel == channel, Person.external_id == external_id)
    ).first()


def get_person(*, session: Session, person_id: str) -> Person | None:
    return session.get(Person, person_id)


def find_and_touch(*, session: Session, channel: str, external_id: str) -> Person | None:
    """The person behind a chat; a person who consented is marked as seen now."""
    person = find_person(session=session, channel=channel, external_id=external_id)
    if person is not None and person.consent == Consent.GIVEN:
        touch(session=session, person=person)
    return person


def language_of(*, session: Session, person_id: str) -> str | None:
    """The person's chosen language (None: unknown person or no choice yet)."""
    person = session.get(Person, person_id)
    return person.language if person else None


def set_language_of(*, session: Session, person_id: str, language: str) -> None:
    person = session.get(Person, person_id)
    if person is not None:
        set_language(session=session, person=person, language=language)


def record_consent(
    *,
    session: Session,
    channel: str,
    external_id: str,
    given: bool,
    version: str,
    language: str | None = None,
) -> Person:
    """Store the consent decision (the only thing stored before consent is given)."""
    person = find_person(session=session, channel=channel, external_id=external_id)
    if person is None:
        person = Person(
            id=new_person_id(),
            channel=channel,
            external_id=external_id,
            consent=Consent.GIVEN if given else Consent.DECLINED,
            consent_version=version,
        )
    person.consent = Consent.GIVEN if given else Consent.DECLINED
    person.consent_version = version
    person.consent_at = utcnow()
    # A person who declined keeps only the decision: no language, no municipality.
    person.language = language if given else None
    if not given:
        person.municipality = None
    session.add(person)
    session.flush()
    return person


def set_language(*, session: Session, person: Person, language: str) -> None:
    person.language = language
    session.add(person)


def set_paused(*, session: Session, person_id: str, paused: bool) -> None:
    person = session.get(Person, person_id)
    if person is not None:
        person.paused = paused
        session.add(person)


def touch(*, session: Session, person: Person) -> None:
    person.last_seen_at = utcnow()
    session.add(person)


def erase_person(*, session: Session, person_id: str) -> bool:
    """Delete a person; foreign keys cascade to messages, hand-offs and appointments."""
    person = session.get(Person, person_id)
    if person is None:
        return False
    session.delete(person)
    return True


def set_municipality(*, session: Session, person_id: str, municipality: str) -> None:
    person = session.get(Person, person_id)
    if person is not None and person.consent == Consent.GIVEN:
        person.municipality = municipality
        session.add(person)
