"""A partial index of the invoices with a promise to pay (the collections export reads them
whole: 2.8M invoices scanned for ~35,000 at 10M lines).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROMISED = sa.text("promise_to_pay_date IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_invoice_promised", "invoice", ["id", "promise_to_pay_date"],
                    postgresql_where=PROMISED, sqlite_where=PROMISED)


def downgrade() -> None:
    op.drop_index("ix_invoice_promised", table_name="invoice")
