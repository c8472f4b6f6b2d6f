"""Target values spelled by PostgreSQL in the checks' canonical encoding.

The checks compare target rows with expectations encoded as canonical JSON: timestamptz as
`datetime.isoformat()` of the UTC value (microseconds only when non-zero), dates as
YYYY-MM-DD, numerics as their text with two decimals. Spelling them in SQL spares building a
Python datetime or Decimal for every value of a million-row table.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def spelled(column: sa.Column[Any]) -> sa.ColumnElement[Any]:
    """Select `column` spelled in the canonical encoding (other types as they are)."""
    if isinstance(column.type, sa.DateTime):
        utc = sa.func.timezone("UTC", column, type_=sa.DateTime)
        seconds = sa.func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS', type_=sa.Text)
        fraction = sa.case((sa.func.date_trunc("second", utc) == utc, ""), else_=sa.func.to_char(utc, ".US"))
        return (seconds + fraction + "+00:00").label(column.name)
    if isinstance(column.type, sa.Date):
        return sa.func.to_char(column, "YYYY-MM-DD", type_=sa.Text).label(column.name)
    if isinstance(column.type, sa.Numeric):
        return sa.cast(column, sa.Text).label(column.name)
    return column
