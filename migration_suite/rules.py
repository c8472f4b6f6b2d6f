"""MIGRATION_RULES.md sections 2 and 3 for each legacy table, as `TableMigration`s.

Value rules run per row in Python, in the legacy column order (the first failing column
gives the reason), then the row rules; key and reference rules are set rules evaluated
in SQL on the staged rows, in the order of section 3.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from pytest_migration.engine.ddl import STAGE_REASON, STAGE_ROWID
from pytest_migration.engine.spec import ConvertedBatch, Row, SetRule, TableMigration

from . import readers, schema
from .readers import Invalid

Reader = Callable[[Any], Any]
RowRule = Callable[[dict[str, Any]], str | None]

# The readers whose reason stands alone, without ":<column>".
_REASONS_WITHOUT_COLUMN = {"empty_participants", "invalid_participants"}


class RowConverter:
    """Applies one table's value rules column by column, then its row rule, to a batch."""

    def __init__(
        self,
        source_columns: Sequence[str],
        target: sa.Table,
        column_readers: dict[str, Reader],
        row_rule: RowRule | None = None,
    ) -> None:
        missing = set(source_columns) - set(column_readers)
        if missing:
            raise ValueError(f"{target.name}: no reader for legacy columns {sorted(missing)}")
        self._readers = [(column, column_readers[column]) for column in source_columns]
        self._target_columns = [column.name for column in target.columns]
        self._row_rule = row_rule

    def __call__(self, batch: Sequence[Row]) -> ConvertedBatch:
        converted = ConvertedBatch()
        for index, row in enumerate(batch):
            values: dict[str, Any] = {}
            try:
                for (column, read), raw in zip(self._readers, row[1:]):
                    try:
                        values[column] = read(raw)
                    except Invalid as invalid:
                        raise _Rejected(
                            invalid.kind if invalid.kind in _REASONS_WITHOUT_COLUMN else f"{invalid.kind}:{column}"
                        ) from None
                if self._row_rule is not None and (reason := self._row_rule(values)) is not None:
                    raise _Rejected(reason)
            except _Rejected as rejected:
                converted.rejected.append((index, rejected.reason))
                continue
            converted.rows.append((row[0], *(values.get(column) for column in self._target_columns)))
        return converted


class _Rejected(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def _contract_period(values: dict[str, Any]) -> str | None:
    """invalid_period: a contract that ends before it starts."""
    starts, ends = values["starts_on"], values["ends_on"]
    return "invalid_period" if starts is not None and ends is not None and ends < starts else None


def _sent_at_fallback(values: dict[str, Any]) -> str | None:
    """missing_sent_at: sent_at falls back to created_at; with neither the row cannot migrate."""
    if values["sent_at"] is None:
        values["sent_at"] = values["created_at"]
    return "missing_sent_at" if values["sent_at"] is None else None


def missing(column: str) -> Callable[[sa.Table], sa.ColumnElement[bool]]:
    """Offends when `column` is NULL after reading (e.g. missing_serial_number)."""
    return lambda stage: stage.c[column].is_(None)


def not_first(
    partition: Sequence[str], order: Callable[[sa.Table], Sequence[sa.ColumnElement[Any]]]
) -> Callable[[sa.Table], sa.ColumnElement[bool]]:
    """Offends for every row but the first of its group (key columns all set), by `order`."""

    def offends(stage: sa.Table) -> sa.ColumnElement[bool]:
        ranked = (
            sa.select(
                stage.c[STAGE_ROWID].label("rowid"),
                sa.func.row_number()
                .over(partition_by=[stage.c[c] for c in partition], order_by=list(order(stage)))
                .label("rank"),
            )
            .where(*(stage.c[column].is_not(None) for column in partition), stage.c[STAGE_REASON].is_(None))
            .subquery()
        )
        return stage.c[STAGE_ROWID].in_(sa.select(ranked.c.rowid).where(ranked.c.rank > 1))

    return offends


def orphan(column: str, parent: sa.Table) -> SetRule:
    """orphan:<column>: NULL, or no migrated parent with that id (so quarantine cascades).

    A NULL reference matches no parent, so NOT EXISTS alone covers it; adding `IS NULL OR`
    would stop PostgreSQL from planning an anti-join and make the rule quadratic.
    """
    return SetRule(f"orphan:{column}", lambda stage: ~sa.exists().where(parent.c.id == stage.c[column]))


def _unknown_participant(stage: sa.Table) -> sa.ColumnElement[bool]:
    """unknown_participant: some participant is not a migrated user (one anti-join for all rows)."""
    staged = stage.alias("staged")
    member = sa.func.unnest(staged.c.participants).table_valued("user_id", name="member").render_derived()
    offenders = (
        sa.select(staged.c[STAGE_ROWID])
        .select_from(staged.join(member, sa.true()))
        .where(~sa.exists().where(schema.users.c.id == member.c.user_id))
    )
    return stage.c[STAGE_ROWID].in_(offenders)


def table_migrations(timezone: str) -> tuple[TableMigration, ...]:
    """Return the ten legacy tables' migrations for the application's time zone, parents first."""
    zone = ZoneInfo(timezone)
    text, integer = readers.read_text, readers.read_integer
    stamp = partial(readers.read_timestamp, tz=zone)
    day = partial(readers.read_date, tz=zone)

    def enum(values: tuple[str, ...], default: str | None) -> Reader:
        return partial(readers.read_enum, allowed=frozenset(values), default=default)

    stamps = {"created_at": stamp, "updated_at": stamp}

    def migration(
        target: sa.Table,
        column_readers: dict[str, Reader],
        *,
        key: tuple[str, ...] = ("id",),
        row_rule: RowRule | None = None,
        key_rules: tuple[SetRule, ...] = (),
        reference_rules: tuple[SetRule, ...] = (),
    ) -> TableMigration:
        columns = tuple(column_readers)
        return TableMigration(
            target=target,
            source_columns=columns,
            source_key=key,
            convert=RowConverter(columns, target, column_readers, row_rule),
            key_rules=key_rules,
            reference_rules=reference_rules,
        )

    # Reader dicts list the legacy columns in legacy_schema.sql's order: that order decides
    # which reason a row with several bad values gets.
    return (
        migration(
            schema.equipment,
            {
                "id": integer,
                "serial_number": readers.read_serial,
                "name": text,
                "brand": text,
                "model": text,
                "installed_on": day,
                "status": enum(schema.EQUIPMENT_STATUSES, "active"),
                **stamps,
            },
            key_rules=(
                SetRule("missing_serial_number", missing("serial_number")),
                SetRule(
                    "duplicate_serial_number",
                    not_first(("serial_number",), lambda stage: [stage.c.id]),
                ),
            ),
        ),
        migration(
            schema.clients,
            {
                "id": integer,
                "name": text,
                "email": partial(readers.read_email, empty=None),
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
                "email": partial(readers.read_email, empty=""),
                "role": enum(schema.USER_ROLES, None),
                "phone": text,
                **stamps,
            },
        ),
        migration(
            schema.maintenance_contracts,
            {
                "id": integer,
                "equipment_id": integer,
                "reference": text,
                "starts_on": day,
                "ends_on": day,
                "amount": readers.read_money,
                "status": enum(schema.CONTRACT_STATUSES, "active"),
                **stamps,
            },
            row_rule=_contract_period,
            reference_rules=(orphan("equipment_id", schema.equipment),),
        ),
        migration(
            schema.maintenance_histories,
            {
                "id": integer,
                "equipment_id": integer,
                "performed_at": stamp,
                "description": text,
                "cost": readers.read_money,
                **stamps,
            },
            reference_rules=(orphan("equipment_id", schema.equipment),),
        ),
        migration(
            schema.interventions,
            {
                "id": integer,
                "client_id": integer,
                "title": text,
                "description": text,
                "status": enum(schema.INTERVENTION_STATUSES, "planned"),
                "priority": enum(schema.PRIORITIES, "normal"),
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
                "is_done": readers.read_boolean,
                "position": integer,
                **stamps,
            },
            reference_rules=(orphan("intervention_id", schema.interventions),),
        ),
        migration(
            schema.intervention_user,
            {
                "intervention_id": integer,
                "user_id": integer,
                "role": enum(schema.ASSIGNMENT_ROLES, "assistant"),
                "created_at": stamp,
            },
            key=("intervention_id", "user_id"),
            key_rules=(
                SetRule(
                    "duplicate_key",
                    not_first(
                        ("intervention_id", "user_id"),
                        lambda stage: [stage.c.created_at.asc().nulls_last(), stage.c[STAGE_ROWID]],
                    ),
                ),
            ),
            reference_rules=(
                orphan("intervention_id", schema.interventions),
                orphan("user_id", schema.users),
            ),
        ),
        migration(
            schema.chat_conversations,
            {
                "id": integer,
                "subject": text,
                "participants": readers.read_participants,
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
            row_rule=_sent_at_fallback,
            reference_rules=(
                orphan("conversation_id", schema.chat_conversations),
                orphan("user_id", schema.users),
            ),
        ),
    )
