"""Company settings, reference data and exchange-rate lookup."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from core.access import authorize
from core.actor import SETTINGS_ROLES, Actor, Role
from core.billing.models import Invoice, Payment
from core.company.models import (
    Channel,
    CompanySettings,
    FxRate,
    PaymentTerms,
    Region,
    Segment,
    TaxCode,
)
from core.errors import DomainError, InvalidInput
from core.numbering import seed_sequences
from core.types import validate_currency

FX_ROLES = frozenset({Role.FINANCE, Role.ADMIN})
DEFAULT_TERMS = [
    ("NET15", "Net 15 days", 15, False),
    ("NET30", "Net 30 days", 30, False),
    ("NET45", "Net 45 days", 45, False),
    ("NET60", "Net 60 days", 60, False),
    ("CASH", "Cash on order", 0, True),
]
DEFAULT_TAX_CODES = [("STD", "Standard rate", "0.20"), ("RED", "Reduced rate", "0.05"),
                     ("ZERO", "Zero rated", "0")]
DEFAULT_REGIONS = [("NORTH", "North"), ("SOUTH", "South"), ("EAST", "East"), ("WEST", "West"),
                   ("CENTRAL", "Central")]
DEFAULT_CHANNELS = [("DIRECT", "Direct sales"), ("DISTRIBUTOR", "Distributor"),
                    ("ECOMMERCE", "E-commerce"), ("PARTNER", "Partner")]
DEFAULT_SEGMENTS = [("ENTERPRISE", "Enterprise"), ("MIDMARKET", "Mid-market"),
                    ("SMB", "Small business")]


def get_settings(session: Session) -> CompanySettings:
    """The company settings row; ``salesbi init-db`` creates it."""
    settings = session.get(CompanySettings, 1)
    if settings is None:
        raise DomainError("company settings missing; run `salesbi init-db` first")
    return settings


def initialise_company(
    session: Session, *, company_name: str, base_currency: str, timezone: str
) -> CompanySettings:
    """Create the settings row, number series and default reference data when missing.

    Idempotent: existing rows are left as they are (the database is the source of truth;
    the environment only seeds a new database).
    """
    validate_timezone(timezone)
    settings = session.get(CompanySettings, 1)
    if settings is None:
        settings = CompanySettings(
            id=1,
            company_name=company_name,
            base_currency=validate_currency(base_currency),
            timezone=timezone,
            financing_rate=Decimal("0.08"),
        )
        session.add(settings)
    _seed(session, PaymentTerms, "code",
          [dict(code=c, name=n, net_days=d, is_cash=cash) for c, n, d, cash in DEFAULT_TERMS])
    _seed(session, TaxCode, "code",
          [dict(code=c, name=n, rate=Decimal(r)) for c, n, r in DEFAULT_TAX_CODES])
    _seed(session, Region, "code", [dict(code=c, name=n) for c, n in DEFAULT_REGIONS])
    _seed(session, Channel, "code", [dict(code=c, name=n) for c, n in DEFAULT_CHANNELS])
    _seed(session, Segment, "code", [dict(code=c, name=n) for c, n in DEFAULT_SEGMENTS])
    seed_sequences(session)
    session.flush()
    return settings


def _seed(session: Session, model: type, key: str, rows: list[dict[str, object]]) -> None:
    existing = set(session.scalars(select(getattr(model, key))))
    session.add_all(model(**row) for row in rows if row[key] not in existing)


def validate_timezone(name: str) -> ZoneInfo:
    """The IANA time zone, or ``InvalidInput``."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"unknown time zone {name!r}", field="timezone") from exc


def company_today(session: Session) -> date:
    """Today's date in the company time zone (posting dates use it)."""
    return datetime.now(validate_timezone(get_settings(session).timezone)).date()


def end_of_day_utc(session: Session, day: date) -> datetime:
    """The end of ``day`` in the company time zone, as a naive UTC timestamp (how posting
    timestamps are stored): "as of D" includes what was posted before it."""
    zone = validate_timezone(get_settings(session).timezone)
    midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return midnight.astimezone(UTC).replace(tzinfo=None)


def has_postings(session: Session) -> bool:
    """True once any invoice has been posted or any payment recorded."""
    return bool(
        session.scalar(select(exists().where(Invoice.posted_at.is_not(None))))
        or session.scalar(select(exists().select_from(Payment)))
    )


def change_base_currency(session: Session, actor: Actor, currency: str) -> None:
    """Change the base currency (admin); refused after the first posting."""
    authorize(session, actor, SETTINGS_ROLES, "change company settings")
    settings = get_settings(session)
    currency = validate_currency(currency)
    if currency == settings.base_currency:
        return
    if has_postings(session):
        raise DomainError(
            f"the base currency {settings.base_currency} cannot change: documents are posted",
            field="base_currency",
        )
    settings.base_currency = currency


def set_aging_buckets(session: Session, actor: Actor, boundaries: list[int]) -> None:
    """Set the upper day bounds of the aging buckets, e.g. [30, 60, 90, 120] (admin)."""
    authorize(session, actor, SETTINGS_ROLES, "change company settings")
    if not boundaries or any(b <= 0 for b in boundaries) or sorted(set(boundaries)) != boundaries:
        raise InvalidInput(
            "aging buckets must be positive day counts in increasing order", field="aging_buckets"
        )
    get_settings(session).aging_buckets = ",".join(str(b) for b in boundaries)


def set_fx_rate(session: Session, actor: Actor, currency: str, rate_date: date,
                rate: Decimal) -> FxRate:
    """Record units of base currency per one unit of ``currency`` on ``rate_date``
    (finance or admin)."""
    authorize(session, actor, FX_ROLES, "maintain exchange rates")
    currency = validate_currency(currency)
    if rate <= 0:
        raise InvalidInput("an exchange rate must be positive", field="rate")
    row = session.get(FxRate, (currency, rate_date))
    if row is None:
        row = FxRate(currency=currency, rate_date=rate_date, rate=rate)
        session.add(row)
    else:
        row.rate = rate
    session.flush()
    return row


def fx_rate(session: Session, currency: str, on: date) -> Decimal:
    """Rate to the base currency valid on ``on`` (latest rate dated on or before it)."""
    if currency == get_settings(session).base_currency:
        return Decimal(1)
    rate = session.scalar(
        select(FxRate.rate)
        .where(FxRate.currency == currency, FxRate.rate_date <= on)
        .order_by(FxRate.rate_date.desc())
        .limit(1)
    )
    if rate is None:
        raise InvalidInput(f"no exchange rate for {currency} on or before {on.isoformat()}")
    return rate
