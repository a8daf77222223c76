"""Staff accounts, roles and console sessions, behind one authentication interface.

* ``Authenticator`` is the one interface the console signs people in with. ``PasswordAuthenticator``
  checks argon2 hashes and throttles failed logins (per account name and per client address); single
  sign-on (OIDC) can be another implementation producing the same ``Account`` — the sessions, roles and
  audit rows stay as they are.
* Sessions: a random token in an http-only cookie; the database keeps only its digest, a CSRF token,
  when it was last used (it ends after ``idle`` of inactivity) and when it was ended (logout).
* Roles: ``case_manager`` (hand-off inbox), ``editor`` (KI content), ``admin`` (accounts, audit). A
  person can have several. Every account change is an audit row.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.engine import Engine
from sqlmodel import Session

from services.audit import Actor, Audit
from storage import staff as rows
from storage.db import session_scope, utcnow
from storage.models_staff import StaffAccount

ROLES = ("case_manager", "editor", "admin")
MIN_PASSWORD = 12
FAILURES_PER_ACCOUNT = 5  # within FAILURE_WINDOW: the account name is locked for the rest of it
FAILURES_PER_CLIENT = 20
FAILURE_WINDOW = timedelta(minutes=15)


class StaffError(ValueError):
    """A refused account change (the message says why, in German, for the console and the CLI)."""


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    display_name: str
    roles: tuple[str, ...]

    def has(self, role: str) -> bool:
        return role in self.roles

    @classmethod
    def of(cls, row: StaffAccount) -> Account:
        assert row.id is not None
        return cls(row.id, row.username, row.display_name, tuple(row.roles))


@dataclass(frozen=True)
class LoginResult:
    account: Account | None
    throttled: bool = False


class Authenticator(Protocol):
    """Who is signing in (password today; OIDC can implement the same)."""

    def authenticate(self, username: str, password: str, client: str) -> LoginResult: ...


@dataclass(frozen=True)
class ConsoleSession:
    token_digest: str
    account: Account
    csrf_token: str
    granted: tuple[int, ...]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"Das Passwort muss mindestens {MIN_PASSWORD} Zeichen lang sein.")


def check_roles(roles: list[str]) -> list[str]:
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise StaffError(f"Unbekannte oder keine Rolle: {', '.join(unknown) or '–'}")
    return sorted(set(roles), key=ROLES.index)


class Staff:
    """Accounts and sessions (framework-free: the console and ``lotse staff`` both use it)."""

    def __init__(self, engine: Engine, audit: Audit, *, idle: timedelta = timedelta(minutes=30)) -> None:
        self.engine = engine
        self.audit = audit
        self.idle = idle
        self._hasher = PasswordHasher()
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    # --- accounts ---------------------------------------------------------------------------------

    def create(
        self, username: str, display_name: str, password: str, roles: list[str], *, actor: Actor
    ) -> Account:
        username = username.strip().lower()
        if (
            not username
            or len(username) > 64
            or not username.replace(".", "").replace("-", "").isalnum()
        ):
            raise StaffError(
                "Der Benutzername darf nur Buchstaben, Ziffern, Punkt und Bindestrich enthalten."
            )
        check_password(password)
        roles = check_roles(roles)
        with session_scope(self.engine) as s:
            if rows.by_username(session=s, username=username) is not None:
                raise StaffError(f"Den Benutzernamen {username} gibt es schon.")
            row = rows.add_account(
                session=s,
                username=username,
                display_name=display_name.strip() or username,
                password_hash=self._hasher.hash(password),
                roles=roles,
            )
            self.audit.record(
                actor, "staff.create", target=f"staff:{row.id}", details={"roles": roles}, session=s
            )
            return Account.of(row)

    def accounts(self) -> list[tuple[Account, bool]]:
        """Every account and whether it is active."""
        with session_scope(self.engine) as s:
            return [(Account.of(r), r.active) for r in rows.all_accounts(session=s)]

    def by_username(self, username: str) -> Account | None:
        with session_scope(self.engine) as s:
            row = rows.by_username(session=s, username=username.strip().lower())
            return Account.of(row) if row is not None else None

    def get(self, account_id: int) -> Account | None:
        with session_scope(self.engine) as s:
            row = rows.get_account(session=s, account_id=account_id)
            return Account.of(row) if row is not None else None

    def set_active(self, account_id: int, active: bool, *, actor: Actor) -> Account:
        with session_scope(self.engine) as s:
            row = rows.get_account(session=s, account_id=account_id)
            if row is None:
                raise StaffError("Dieses Konto gibt es nicht.")
            if not active and "admin" in row.roles and rows.active_admins(session=s) <= 1:
                raise StaffError("Das letzte aktive Administrationskonto kann nicht gesperrt werden.")
            row.active, row.updated_at = active, utcnow()
            s.add(row)
            if not active:
                rows.end_sessions(session=s, account_id=account_id)
            self.audit.record(
                actor,
                "staff.disable",
                target=f"staff:{account_id}",
                details={"active": active},
                session=s,
            )
            return Account.of(row)

    def set_roles(self, account_id: int, roles: list[str], *, actor: Actor) -> Account:
        roles = check_roles(roles)
        with session_scope(self.engine) as s:
            row = rows.get_account(session=s, account_id=account_id)
            if row is None:
                raise StaffError("Dieses Konto gibt es nicht.")
            if "admin" in row.roles and "admin" not in roles and rows.active_admins(session=s) <= 1:
                raise StaffError(
                    "Dem letzten Administrationskonto kann die Rolle nicht genommen werden."
                )
            row.roles, row.updated_at = roles, utcnow()
            s.add(row)
            self.audit.record(
                actor, "staff.roles", target=f"staff:{account_id}", details={"roles": roles}, session=s
            )
            return Account.of(row)

    def set_password(self, account_id: int, password: str, *, actor: Actor) -> Account:
        check_password(password)
        with session_scope(self.engine) as s:
            row = rows.get_account(session=s, account_id=account_id)
            if row is None:
                raise StaffError("Dieses Konto gibt es nicht.")
            row.password_hash = self._hasher.hash(password)
            row.password_changed_at = row.updated_at = utcnow()
            s.add(row)
            rows.end_sessions(session=s, account_id=account_id)  # signed in elsewhere: sign in again
            self.audit.record(
                actor,
                "staff.password_reset",
                target=f"staff:{account_id}",
                details={"own": actor.name == row.username},
                session=s,
            )
            return Account.of(row)

    # --- signing in -------------------------------------------------------------------------------

    def authenticate(self, username: str, password: str, client: str) -> LoginResult:
        """A password login, throttled: too many failures lock the name (and the client) for a while."""
        username = username.strip().lower()[:64]
        now = utcnow()
        with session_scope(self.engine) as s:
            by_name, by_client = rows.recent_failures(
                session=s, username=username, client=client, since=now - FAILURE_WINDOW
            )
            row = rows.by_username(session=s, username=username)
            if by_name >= FAILURES_PER_ACCOUNT or by_client >= FAILURES_PER_CLIENT:
                self._verify(self._dummy, password)  # the same time as a real attempt
                if row is not None:
                    self._failed(s, row, throttled=True)
                return LoginResult(None, throttled=True)
            ok = self._verify(row.password_hash if row is not None else self._dummy, password)
            if row is None or not ok or not row.active:
                rows.add_failure(session=s, username=username, client=client[:64])
                if row is not None:  # an unknown name may be a password typed in the wrong field
                    self._failed(s, row, throttled=False)
                return LoginResult(None)
            if self._hasher.check_needs_rehash(row.password_hash):
                row.password_hash = self._hasher.hash(password)
                s.add(row)
            self.audit.record(
                Actor.staff(row.username), "staff.login", target=f"staff:{row.id}", session=s
            )
            return LoginResult(Account.of(row))

    def _failed(self, session: Session, row: StaffAccount, *, throttled: bool) -> None:
        self.audit.record(
            Actor.staff(row.username),
            "staff.login_failed",
            target=f"staff:{row.id}",
            details={"throttled": throttled, "active": row.active},
            session=session,
        )

    def _verify(self, hashed: str, password: str) -> bool:
        try:
            return self._hasher.verify(hashed, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def start_session(self, account: Account, client: str) -> tuple[str, str]:
        """A new session: (cookie token, CSRF token)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with session_scope(self.engine) as s:
            rows.add_session(
                session=s, digest=_digest(token), account_id=account.id, csrf=csrf, client=client[:64]
            )
        return token, csrf

    def session(
        self, token: str | None, *, now: datetime | None = None, touch: bool = True
    ) -> ConsoleSession | None:
        """The live session of a cookie token (None: unknown, ended, idle too long, account disabled).

        ``touch=False`` (a page refreshing itself) does not count as activity.
        """
        if not token or len(token) > 200:
            return None
        now = now or utcnow()
        with session_scope(self.engine) as s:
            found = rows.live_session(session=s, digest=_digest(token), idle_since=now - self.idle)
            if found is None:
                return None
            row, account = found
            if touch:
                rows.touch_session(session=s, row=row, now=now)
            return ConsoleSession(row.id, Account.of(account), row.csrf_token, tuple(row.granted))

    def end_session(self, token_digest: str) -> None:
        with session_scope(self.engine) as s:
            rows.end_session(session=s, digest=token_digest)

    def grant(self, token_digest: str, handoff_id: int) -> None:
        """This session may read a conversation it opened with a reason (recorded by the caller)."""
        with session_scope(self.engine) as s:
            rows.grant(session=s, digest=token_digest, handoff_id=handoff_id)

    @staticmethod
    def csrf_ok(session: ConsoleSession, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(str(given).encode(), session.csrf_token.encode())
