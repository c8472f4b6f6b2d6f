"""Per-table accounting of a run: source rows = migrated rows + quarantined rows."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from . import store
from .context import MigrationContext


@dataclass(frozen=True)
class TableAccount:
    """Where the rows of one legacy table went."""

    source_rows: int
    migrated_rows: int
    quarantined_rows: int
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def balances(self) -> bool:
        """Whether every source row is accounted for, once."""
        return self.source_rows == self.migrated_rows + self.quarantined_rows

    def to_dict(self) -> dict[str, object]:
        """Return the account as the report's JSON shape."""
        return {
            "source_rows": self.source_rows,
            "migrated_rows": self.migrated_rows,
            "quarantined_rows": self.quarantined_rows,
            "quarantine_reasons": dict(sorted(self.quarantine_reasons.items())),
            "seconds": round(self.seconds, 3),
            "balances": self.balances,
        }


def account_tables(context: MigrationContext, run_id: int) -> dict[str, TableAccount]:
    """Count, for each table of the migration, its source, migrated and quarantined rows."""
    quarantine, progress = store.quarantine, store.progress
    accounts: dict[str, TableAccount] = {}
    with context.target.connect() as connection:
        reasons: dict[str, dict[str, int]] = {}
        for table_name, reason, count in connection.execute(
            sa.select(quarantine.c.source_table, quarantine.c.reason, sa.func.count())
            .where(quarantine.c.run_id == run_id)
            .group_by(quarantine.c.source_table, quarantine.c.reason)
        ):
            reasons.setdefault(table_name, {})[reason] = count
        seconds = dict(
            connection.execute(
                sa.select(progress.c.table_name, progress.c.seconds).where(progress.c.run_id == run_id)
            ).all()
        )
        for table in context.tables:
            migrated = connection.execute(sa.select(sa.func.count()).select_from(table.target)).scalar_one()
            table_reasons = reasons.get(table.name, {})
            accounts[table.name] = TableAccount(
                source_rows=context.source.count(table.name),
                migrated_rows=migrated,
                quarantined_rows=sum(table_reasons.values()),
                quarantine_reasons=table_reasons,
                seconds=seconds.get(table.name, 0.0),
            )
    return accounts


def account_failures(accounts: dict[str, TableAccount], *, fail_on_quarantine: bool) -> dict[str, str]:
    """Return the verdicts that fail a run, by name, each with its message; empty when it passes.

    Both front ends decide pass or fail here: `accounting` when a table does not balance,
    `quarantine` when rows were quarantined and the user asked for none.
    """
    failures: dict[str, str] = {}
    unbalanced = [
        f"{name} ({account.source_rows} source rows, {account.migrated_rows} migrated, "
        f"{account.quarantined_rows} quarantined)"
        for name, account in accounts.items()
        if not account.balances
    ]
    if unbalanced:
        failures["accounting"] = "accounting does not balance for " + ", ".join(unbalanced)
    quarantined = {name: account.quarantined_rows for name, account in accounts.items() if account.quarantined_rows}
    if fail_on_quarantine and quarantined:
        shown = ", ".join(f"{name} {count}" for name, count in quarantined.items())
        failures["quarantine"] = f"rows were quarantined ({shown}) and --fail-on-quarantine is set"
    return failures
