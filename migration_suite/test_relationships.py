"""Every reference of the target points at a row that exists."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from .schema import TABLES

FOREIGN_KEYS = [fk for table in TABLES for fk in sorted(table.foreign_keys, key=lambda fk: fk.parent.name)]


@pytest.mark.relationship
@pytest.mark.parametrize("fk", FOREIGN_KEYS, ids=[f"{fk.parent.table.name}.{fk.parent.name}" for fk in FOREIGN_KEYS])
def test_no_orphans(fk: sa.ForeignKey, target: sa.Connection) -> None:
    child, parent = fk.parent, fk.column
    orphans = target.execute(
        sa.select(child.table.c[child.name])
        .where(~sa.exists().where(parent == child))
        .limit(5)
    ).scalars().all()
    assert not orphans, f"{child.table.name}.{child.name} points at missing {parent.table.name} rows: {orphans}"
