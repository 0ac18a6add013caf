"""Users of the application and the sales reps they may be."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.actor import Role
from core.db import Base, utcnow
from core.types import Code, Name, enum_type


class SalesRep(Base):
    """A sales rep; ``manager_id`` builds the reporting tree (a manager is a rep too)."""

    __tablename__ = "sales_rep"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[Code] = mapped_column(unique=True)
    name: Mapped[Name]
    email: Mapped[str | None] = mapped_column(String(200))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("sales_rep.id"))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"))
    is_active: Mapped[bool] = mapped_column(default=True)


class User(Base):
    """A login. One role per user; reps and sales managers link to their ``SalesRep``."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[Name]
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_type(Role))
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("sales_rep.id"))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
