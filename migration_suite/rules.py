"""MIGRATION_RULES.md sections 2 and 3 for each legacy table, as `TableMigration`s.

Value rules are column rules (`columns`), listed per table in the legacy column order (the
first failing column gives the reason); row rules follow. Both run in Python, a whole
column at a time (`VectorisedConverter`) with the per-row `RowConverter` as the reference
for the rows the columns cannot settle. Key and reference rules are set rules evaluated
in SQL on the staged rows, in the order of section 3.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import sqlalchemy as sa

from pytest_migration.engine.spec import ConvertedBatch, Loaded, Row, SetRule, TableMigration

from . import schema
from .columns import (
    Boolean,
    ColumnRule,
    Date,
    Email,
    Enum,
    Integer,
    Money,
    Participants,
    Serial,
    Text,
    Timestamp,
)
from .readers import Invalid
from .vectorised import RowRule, VectorisedConverter


class RowConverter:
    """Applies one table's value rules column by column, then its row rule, to a batch.

    The reference conversion: exact for every row, about 2 µs a value.
    """

    def __init__(self, target: sa.Table, columns: Mapping[str, ColumnRule], row_rule: RowRule | None = None) -> None:
        self.columns = tuple(columns.items())
        """(legacy column, its rule), in the legacy column order"""
        self.target_columns = tuple(column.name for column in target.columns)
        self.row_rule = row_rule

    def __call__(self, batch: Sequence[Row]) -> ConvertedBatch:
        converted = ConvertedBatch()
        for index, row in enumerate(batch):
            values: dict[str, Any] = {}
            try:
                for (column, rule), raw in zip(self.columns, row[1:]):
                    try:
                        values[column] = rule.read(raw)
                    except Invalid as invalid:
                        raise _Rejected(rule.reason(invalid.kind, column)) from None
                if self.row_rule is not None and (reason := self.row_rule(values)) is not None:
                    raise _Rejected(reason)
            except _Rejected as rejected:
                converted.rejected.append((index, rejected.reason))
                continue
            converted.rows.append((row[0], *(values.get(column) for column in self.target_columns)))
        return converted


class _Rejected(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


class ContractPeriod:
    """invalid_period: a contract that ends before it starts."""

    def __call__(self, values: dict[str, Any]) -> str | None:
        starts, ends = values["starts_on"], values["ends_on"]
        return "invalid_period" if starts is not None and ends is not None and ends < starts else None

    def vectorised(self, values: Mapping[str, pl.Expr]) -> tuple[dict[str, pl.Expr], pl.Expr]:
        """Rows pass unless both dates are set and the end comes first."""
        starts, ends = values["starts_on"], values["ends_on"]
        return {}, starts.is_null() | ends.is_null() | (ends >= starts)


class SentAtFallback:
    """missing_sent_at: sent_at falls back to created_at; with neither the row cannot migrate."""

    def __call__(self, values: dict[str, Any]) -> str | None:
        if values["sent_at"] is None:
            values["sent_at"] = values["created_at"]
        return "missing_sent_at" if values["sent_at"] is None else None

    def vectorised(self, values: Mapping[str, pl.Expr]) -> tuple[dict[str, pl.Expr], pl.Expr]:
        """sent_at becomes the first set of sent_at and created_at, which must exist."""
        sent_at = pl.coalesce(values["sent_at"], values["created_at"])
        return {"sent_at": sent_at}, sent_at.is_not_null()


def missing(column: str) -> Callable[[Loaded], sa.ColumnElement[bool]]:
    """Offends when `column` is NULL after reading (e.g. missing_serial_number)."""
    return lambda loaded: loaded.rows.c[column].is_(None)


def not_first(
    partition: Sequence[str], order: Callable[[Loaded], Sequence[sa.ColumnElement[Any]]]
) -> Callable[[Loaded], sa.ColumnElement[bool]]:
    """Offends for every row but the first of its group (key columns all set), by `order`."""

    def offends(loaded: Loaded) -> sa.ColumnElement[bool]:
        rows, rowid = loaded.rows, loaded.rows.c[loaded.rowid]
        ranked = (
            sa.select(
                rowid.label("rowid"),
                sa.func.row_number()
                .over(partition_by=[rows.c[c] for c in partition], order_by=list(order(loaded)))
                .label("rank"),
            )
            .where(*(rows.c[column].is_not(None) for column in partition), loaded.undecided)
            .subquery()
        )
        return rowid.in_(sa.select(ranked.c.rowid).where(ranked.c.rank > 1))

    return offends


def orphan(column: str, parent: sa.Table) -> SetRule:
    """orphan:<column>: NULL, or no migrated parent with that id (so quarantine cascades).

    A NULL reference matches no parent, so NOT EXISTS alone covers it; adding `IS NULL OR`
    would stop PostgreSQL from planning an anti-join and make the rule quadratic.
    """
    return SetRule(f"orphan:{column}", lambda loaded: ~sa.exists().where(parent.c.id == loaded.rows.c[column]))


def _unknown_participant(loaded: Loaded) -> sa.ColumnElement[bool]:
    """unknown_participant: some participant is not a migrated user (one anti-join for all rows)."""
    rows = loaded.rows.alias("loaded")
    member = sa.func.unnest(rows.c.participants).table_valued("user_id", name="member").render_derived()
    offenders = (
        sa.select(rows.c[loaded.rowid])
        .select_from(rows.join(member, sa.true()))
        .where(~sa.exists().where(schema.users.c.id == member.c.user_id))
    )
    return loaded.rows.c[loaded.rowid].in_(offenders)


def table_migrations(timezone: str) -> tuple[TableMigration, ...]:
    """Return the ten legacy tables' migrations for the application's time zone, parents first."""
    zone = ZoneInfo(timezone)
    text, integer, stamp, day = Text(), Integer(), Timestamp(zone), Date(zone)
    stamps = {"created_at": stamp, "updated_at": stamp}

    def migration(
        target: sa.Table,
        columns: dict[str, ColumnRule],
        *,
        key: tuple[str, ...] = ("id",),
        row_rule: RowRule | None = None,
        key_rules: tuple[SetRule, ...] = (),
        reference_rules: tuple[SetRule, ...] = (),
    ) -> TableMigration:
        return TableMigration(
            target=target,
            source_columns=tuple(columns),
            source_key=key,
            convert=VectorisedConverter(RowConverter(target, columns, row_rule)),
            key_rules=key_rules,
            reference_rules=reference_rules,
            # A legacy id is an INTEGER PRIMARY KEY, SQLite's rowid itself.
            rowid_column="id" if key == ("id",) else None,
        )

    # Column dicts list the legacy columns in legacy_schema.sql's order: that order decides
    # which reason a row with several bad values gets.
    return (
        migration(
            schema.equipment,
            {
                "id": integer,
                "serial_number": Serial(),
                "name": text,
                "brand": text,
                "model": text,
                "installed_on": day,
                "status": Enum(schema.EQUIPMENT_STATUSES, "active"),
                **stamps,
            },
            key_rules=(
                SetRule("missing_serial_number", missing("serial_number")),
                SetRule(
                    "duplicate_serial_number",
                    not_first(("serial_number",), lambda loaded: [loaded.rows.c[loaded.rowid]]),
                ),
            ),
        ),
        migration(
            schema.clients,
            {
                "id": integer,
                "name": text,
                "email": Email(empty=None),
                "phone": text,
                "address": text,
                **stamps,
            },
        ),
        migration(
            schema.users,
            {
                "id": integer,
                "name": text,
                "email": Email(empty=""),
                "role": Enum(schema.USER_ROLES, None),
                "phone": text,
                **stamps,
            },
        ),
        migration(
            schema.chat_conversations,
            {
                "id": integer,
                "subject": text,
                "participants": Participants(),
                **stamps,
            },
            reference_rules=(SetRule("unknown_participant", _unknown_participant),),
        ),
        migration(
            schema.chat_messages,
            {
                "id": integer,
                "conversation_id": integer,
                "user_id": integer,
                "body": text,
                "sent_at": stamp,
                "read_at": stamp,
                **stamps,
            },
            row_rule=SentAtFallback(),
            reference_rules=(
                orphan("conversation_id", schema.chat_conversations),
                orphan("user_id", schema.users),
            ),
        ),
        migration(
            schema.interventions,
            {
                "id": integer,
                "client_id": integer,
                "title": text,
                "description": text,
                "status": Enum(schema.INTERVENTION_STATUSES, "planned"),
                "priority": Enum(schema.PRIORITIES, "normal"),
                "scheduled_at": stamp,
                "completed_at": stamp,
                **stamps,
            },
            reference_rules=(orphan("client_id", schema.clients),),
        ),
        migration(
            schema.tasks,
            {
                "id": integer,
                "intervention_id": integer,
                "title": text,
                "is_done": Boolean(),
                "position": Integer(bits=32),  # target column `integer`
                **stamps,
            },
            reference_rules=(orphan("intervention_id", schema.interventions),),
        ),
        migration(
            schema.intervention_user,
            {
                "intervention_id": integer,
                "user_id": integer,
                "role": Enum(schema.ASSIGNMENT_ROLES, "assistant"),
                "created_at": stamp,
            },
            key=("intervention_id", "user_id"),
            key_rules=(
                SetRule(
                    "duplicate_key",
                    not_first(
                        ("intervention_id", "user_id"),
                        lambda loaded: [loaded.rows.c.created_at.asc().nulls_last(), loaded.rows.c[loaded.rowid]],
                    ),
                ),
            ),
            reference_rules=(
                orphan("intervention_id", schema.interventions),
                orphan("user_id", schema.users),
            ),
        ),
        migration(
            schema.maintenance_histories,
            {
                "id": integer,
                "equipment_id": integer,
                "performed_at": stamp,
                "description": text,
                "cost": Money(),
                **stamps,
            },
            reference_rules=(orphan("equipment_id", schema.equipment),),
        ),
        migration(
            schema.maintenance_contracts,
            {
                "id": integer,
                "equipment_id": integer,
                "reference": text,
                "starts_on": day,
                "ends_on": day,
                "amount": Money(),
                "status": Enum(schema.CONTRACT_STATUSES, "active"),
                **stamps,
            },
            row_rule=ContractPeriod(),
            reference_rules=(orphan("equipment_id", schema.equipment),),
        ),
    )
