"""Company settings (one row), exchange rates, tax codes, payment terms, classifications."""

from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.types import Code, CurrencyCode, Name, Percent, Rate


class CompanySettings(Base):
    """The company's settings; exactly one row (id = 1). The database is the source of truth."""

    __tablename__ = "company_settings"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    company_name: Mapped[Name]
    base_currency: Mapped[CurrencyCode]
    fiscal_year_start_month: Mapped[int] = mapped_column(default=1)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    aging_buckets: Mapped[str] = mapped_column(String(64), default="30,60,90,120")
    financing_rate: Mapped[Percent]
    overdue_block_days: Mapped[int] = mapped_column(default=60)
    quote_validity_days: Mapped[int] = mapped_column(default=30)


class FxRate(Base):
    """Units of base currency per one unit of ``currency`` on ``rate_date``."""

    __tablename__ = "fx_rate"

    currency: Mapped[CurrencyCode] = mapped_column(primary_key=True)
    rate_date: Mapped[date] = mapped_column(primary_key=True)
    rate: Mapped[Rate]


class TaxCode(Base):
    """A sales tax code and its rate (0.2 = 20 %)."""

    __tablename__ = "tax_code"

    code: Mapped[Code] = mapped_column(primary_key=True)
    name: Mapped[Name]
    rate: Mapped[Percent]


class PaymentTerms(Base):
    """Payment terms: due date = invoice date + ``net_days``; ``is_cash`` marks cash sales."""

    __tablename__ = "payment_terms"

    code: Mapped[Code] = mapped_column(primary_key=True)
    name: Mapped[Name]
    net_days: Mapped[int]
    is_cash: Mapped[bool] = mapped_column(default=False)


class Region(Base):
    """Sales region (customer and ship-to geography)."""

    __tablename__ = "region"

    code: Mapped[Code] = mapped_column(primary_key=True)
    name: Mapped[Name]


class Channel(Base):
    """Sales channel (direct, distributor, e-commerce, …)."""

    __tablename__ = "channel"

    code: Mapped[Code] = mapped_column(primary_key=True)
    name: Mapped[Name]


class Segment(Base):
    """Customer segment (enterprise, mid-market, small business, …)."""

    __tablename__ = "segment"

    code: Mapped[Code] = mapped_column(primary_key=True)
    name: Mapped[Name]
