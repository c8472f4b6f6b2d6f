"""The harness's own tables, kept in schema `migration`, never beside the application's.

`runs` records each run with the source it read and the settings it used; `progress`
is the per-table checkpoint (last source rowid committed, loaded, finished);
`completed_steps` marks the one-transaction steps (such as building constraints) done; `quarantine`
holds every source row that was not migrated, whole, with its reason. A batch's staged
rows, its quarantine rows and its checkpoint are committed in one transaction, so a
killed run resumes exactly where its last commit left it.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

SCHEMA = "migration"

metadata = sa.MetaData(schema=SCHEMA)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("source", sa.Text, nullable=False, comment="source URL, password masked"),
    sa.Column("source_fingerprint", sa.Text, nullable=False),
    sa.Column("settings", JSONB, nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
)

progress = sa.Table(
    "progress",
    metadata,
    sa.Column("run_id", sa.BigInteger, sa.ForeignKey(runs.c.id), primary_key=True),
    sa.Column("table_name", sa.Text, primary_key=True),
    sa.Column("last_rowid", sa.BigInteger),  # NULL until a batch is loaded: rowids may be 0 or negative
    sa.Column("loaded", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("finished", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("seconds", sa.Float, nullable=False, server_default="0"),
)

completed_steps = sa.Table(
    "completed_steps",
    metadata,
    sa.Column("run_id", sa.BigInteger, sa.ForeignKey(runs.c.id), primary_key=True),
    sa.Column("step", sa.Text, primary_key=True),
    sa.Column("seconds", sa.Float, nullable=False),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("run_id", sa.BigInteger, sa.ForeignKey(runs.c.id), nullable=False),
    sa.Column("source_table", sa.Text, nullable=False),
    sa.Column("source_rowid", sa.BigInteger, nullable=False),
    sa.Column("source_key", JSONB, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("payload", JSONB, nullable=False),
    sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    # One quarantine row per source row and run, whatever the number of resumes.
    sa.UniqueConstraint("run_id", "source_table", "source_rowid"),
)

QUARANTINE_COPY_COLUMNS = ("run_id", "source_table", "source_rowid", "source_key", "reason", "payload")
