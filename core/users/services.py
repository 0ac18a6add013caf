"""Users, sales reps and the reporting tree."""

from __future__ import annotations

from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.actor import Actor, Role
from core.company.models import Region
from core.errors import InvalidInput, NotFound, PermissionDenied
from core.users.models import SalesRep, User
from core.users.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password

SALES_ROLES = frozenset({Role.REP, Role.SALES_MANAGER})


def create_user(
    session: Session,
    *,
    username: str,
    full_name: str,
    role: Role,
    password: str,
    rep_id: int | None = None,
) -> User:
    """Add a login. Reps and sales managers must be linked to their sales rep record."""
    username = username.strip().lower()
    if not username or len(username) > 80:
        raise InvalidInput("a username of 1-80 characters is required", field="username")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise InvalidInput(f"username {username!r} is taken", field="username")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"the password needs at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    role = Role(role)
    if role in SALES_ROLES and (rep_id is None or session.get(SalesRep, rep_id) is None):
        raise InvalidInput(f"role {role} needs an existing sales rep", field="rep_id")
    user = User(
        username=username,
        full_name=full_name,
        role=role,
        password_hash=hash_password(password),
        rep_id=rep_id,
    )
    session.add(user)
    session.flush()
    return user


def create_rep(session: Session, actor: Actor, *, code: str, name: str,
               manager_id: int | None = None, region_code: str | None = None,
               email: str | None = None) -> SalesRep:
    """Add a sales rep (admin); ``manager_id`` places them in the reporting tree."""
    if actor.role != Role.ADMIN:
        raise PermissionDenied(f"role {actor.role} may not add sales reps")
    code = code.strip().upper()
    if not code or not name.strip():
        raise InvalidInput("a rep needs a code and a name", field="code")
    if session.scalar(select(SalesRep.id).where(SalesRep.code == code)) is not None:
        raise InvalidInput(f"rep code {code} is taken", field="code")
    if manager_id is not None and session.get(SalesRep, manager_id) is None:
        raise InvalidInput(f"unknown manager #{manager_id}", field="manager_id")
    if region_code is not None and session.get(Region, region_code) is None:
        raise InvalidInput(f"unknown region {region_code!r}", field="region_code")
    rep = SalesRep(code=code, name=name, manager_id=manager_id, region_code=region_code,
                   email=email)
    session.add(rep)
    session.flush()
    return rep


def reporting_tree(session: Session, rep_id: int) -> set[int]:
    """``rep_id`` and every rep reporting to it, directly or indirectly."""
    managers = {rep: manager
                for rep, manager in session.execute(select(SalesRep.id, SalesRep.manager_id))}
    tree = {rep_id}
    changed = True
    while changed:
        changed = False
        for rep, manager in managers.items():
            if manager in tree and rep not in tree:
                tree.add(rep)
                changed = True
    return tree


def actor_for(session: Session, user_id: int) -> Actor:
    """The ``Actor`` of an active user."""
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise NotFound(f"no active user #{user_id}")
    if user.role in (Role.REP, Role.SALES_MANAGER) and user.rep_id is None:
        raise InvalidInput(f"user {user.username} has role {user.role} but no sales rep")
    return Actor(user_id=user.id, role=user.role, rep_id=user.rep_id, name=user.username)


def authenticate(session: Session, username: str, password: str) -> Actor | None:
    """The ``Actor`` of an active user whose password matches; None otherwise.

    A missing user costs the same hash check as a wrong password, so response times do not
    tell which usernames exist.
    """
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        verify_password(_dummy_hash(), password)
        return None
    if not verify_password(user.password_hash, password) or not user.is_active:
        return None
    return actor_for(session, user.id)


@cache
def _dummy_hash() -> str:
    return hash_password("not-a-real-password")
