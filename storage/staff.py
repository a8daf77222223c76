"""Staff accounts, console sessions and failed logins (all the SQL of ``services.staff``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from storage.db import utcnow
from storage.models_staff import LoginFailure, StaffAccount, StaffSession


def by_username(*, session: Session, username: str) -> StaffAccount | None:
    return session.exec(select(StaffAccount).where(StaffAccount.username == username)).first()


def get_account(*, session: Session, account_id: int) -> StaffAccount | None:
    return session.get(StaffAccount, account_id)


def all_accounts(*, session: Session) -> Sequence[StaffAccount]:
    return session.exec(select(StaffAccount).order_by(col(StaffAccount.username))).all()


def add_account(
    *, session: Session, username: str, display_name: str, password_hash: str, roles: list[str]
) -> StaffAccount:
    row = StaffAccount(
        username=username, display_name=display_name, password_hash=password_hash, roles=roles
    )
    session.add(row)
    session.flush()
    return row


def active_admins(*, session: Session) -> int:
    return sum(
        1
        for a in session.exec(select(StaffAccount).where(col(StaffAccount.active))).all()
        if "admin" in a.roles
    )


def recent_failures(*, session: Session, username: str, client: str, since: datetime) -> tuple[int, int]:
    by_name = session.exec(
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.username == username, col(LoginFailure.at) >= since)
    ).one()
    by_client = session.exec(
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.client == client, col(LoginFailure.at) >= since)
    ).one()
    return int(by_name), int(by_client)


def add_failure(*, session: Session, username: str, client: str) -> None:
    session.add(LoginFailure(username=username, client=client))


def add_session(*, session: Session, digest: str, account_id: int, csrf: str, client: str) -> None:
    session.add(StaffSession(id=digest, account_id=account_id, csrf_token=csrf, client=client))


def live_session(
    *, session: Session, digest: str, idle_since: datetime
) -> tuple[StaffSession, StaffAccount] | None:
    row = session.get(StaffSession, digest)
    if row is None or row.ended_at is not None:
        return None
    if row.last_seen_at < idle_since:  # idle too long: ended for good, signing in again is needed
        row.ended_at = utcnow()
        session.add(row)
        return None
    account = session.get(StaffAccount, row.account_id)
    if account is None or not account.active:
        return None
    return row, account


def touch_session(*, session: Session, row: StaffSession, now: datetime) -> None:
    row.last_seen_at = now
    session.add(row)


def end_session(*, session: Session, digest: str) -> None:
    row = session.get(StaffSession, digest)
    if row is not None and row.ended_at is None:
        row.ended_at = utcnow()
        session.add(row)


def end_sessions(*, session: Session, account_id: int) -> None:
    session.exec(
        update(StaffSession)
        .where(col(StaffSession.account_id) == account_id, col(StaffSession.ended_at).is_(None))
        .values(ended_at=utcnow())
    )


def grant(*, session: Session, digest: str, handoff_id: int) -> None:
    row = session.get(StaffSession, digest)
    if row is not None and handoff_id not in row.granted:
        row.granted = [*row.granted, handoff_id]
        session.add(row)
