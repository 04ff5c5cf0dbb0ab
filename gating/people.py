"""People who log in to the web pages: the user and password policy, and what each change to a
user refuses. The store (adapters/db/users.py) keeps the rows, hashes the passwords, ends the
sessions and audits every change; gating/logins.py throttles wrong passwords.

| change | does | refuses |
| --- | --- | --- |
| create | a user with a role and a password | a role for machines, a short password, an empty or long name |
| disable | marks the user disabled, ends their sessions | a user disabled already |
| enable | lifts the disabled mark and a lock on the name | a forged user |
| unlock | lifts a lock on the name, forgets its failures | a forged user |
| reset password | sets it, ends the sessions, lifts a lock | a short password, a forged user |
| end sessions | ends every session ("log out everywhere") | a forged user |

Every change refuses a name no user has. A forged user is a row inserted or changed with SQL
(its MAC does not hold): it cannot log in, and disabling is the only change that acts on it
(re-signing it after any other change would make the forgery genuine).
"""  # noqa: E501

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gating.roles import PEOPLE_ROLES

MIN_PASSWORD = 12
"""Characters a password must have at least."""

MAX_USERNAME = 100


@dataclass(frozen=True)
class Account:
    """A stored user as the policy sees it. `genuine`: creditgate wrote the row as it stands."""

    username: str
    disabled_at: datetime | None
    genuine: bool


def check_new_user(username: str, role: str, password: str) -> None:
    """:raises ValueError: an unknown role, a short password, or a name that is blank or over
    MAX_USERNAME characters (the first of these that applies)."""
    if role not in PEOPLE_ROLES:
        raise ValueError(f"role must be one of {', '.join(PEOPLE_ROLES)}, not {role!r}")
    check_password(password)
    if not username.strip() or len(username) > MAX_USERNAME:
        raise ValueError(f"the user name must be 1 to {MAX_USERNAME} characters")


def check_password(password: str) -> None:
    """:raises ValueError: a password shorter than MIN_PASSWORD (exactly MIN_PASSWORD passes)."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password must have at least {MIN_PASSWORD} characters")


def no_such_user(username: str) -> ValueError:
    """The refusal of a change to a name no user has."""
    return ValueError(f"no user named {username!r}")


def check_change(account: Account) -> None:
    """Any change but disabling: enable, unlock, reset the password, end the sessions.

    :raises ValueError: for a forged user, saying what to do instead.
    """
    if not account.genuine:
        raise ValueError(
            f"user {account.username!r} was written or changed outside creditgate (no valid "
            "MAC): it cannot log in, and only `user disable` acts on it; see `creditgate audit "
            "verify`"
        )


def check_disable(account: Account) -> None:
    """Disabling acts on a forged user too (it stays refused, and disabled).

    :raises ValueError: for a user disabled already, saying since when.
    """
    if account.disabled_at is not None:
        raise ValueError(
            f"{account.username} is disabled already (since {account.disabled_at:%Y-%m-%d})"
        )
