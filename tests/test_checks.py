"""The reusable checks find a planted defect and pass on clean data, on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from pytest_migration.checks import catalog, relations
from pytest_migration.engine.ddl import create_bare_tables

SCHEMA = sa.MetaData(schema="public")
sites = sa.Table(
    "sites",
    SCHEMA,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("region", sa.Text, primary_key=True),
    sa.Column("parent_id", sa.BigInteger, sa.ForeignKey("public.sites.id")),
)
machines = sa.Table(
    "machines",
    SCHEMA,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("site_id", sa.BigInteger),
    sa.Column("site_region", sa.Text),
    sa.Column("serial", sa.Text),
    sa.Column("hours", sa.Integer),
    sa.ForeignKeyConstraint(["site_id", "site_region"], ["public.sites.id", "public.sites.region"]),
)
SITE = next(iter(machines.foreign_key_constraints))
PARENT = next(iter(sites.foreign_key_constraints))


@pytest.fixture
def target(empty_target_url: str) -> Iterator[sa.Connection]:
    """A connection to a new database holding the tables above, without their constraints, and clean rows."""
    engine = sa.create_engine(empty_target_url)
    with engine.connect() as connection:
        # Bare tables, as the migration loads them: nothing stops the defects the tests plant.
        create_bare_tables(connection, SCHEMA)
        connection.execute(
            sa.insert(sites),
            [{"id": 1, "region": "north", "parent_id": None}, {"id": 2, "region": "south", "parent_id": 1}],
        )
        connection.execute(
            sa.insert(machines),
            [
                {"id": n, "site_id": 1 + n % 2, "site_region": ("north", "south")[n % 2], "serial": f"S{n}", "hours": n}
                for n in range(1, 21)
            ],
        )
        yield connection
    engine.dispose()


def machine(n: int, **values: object) -> dict[str, object]:
    """A machine row of clean values, changed by `values`."""
    return {"id": n, "site_id": 1, "site_region": "north", "serial": f"S{n}", "hours": 1, **values}


def test_orphans_passes_on_clean_data_and_finds_planted_orphans(target: sa.Connection) -> None:
    assert relations.orphans(target, SITE).count == 0
    target.execute(
        sa.insert(machines),
        [
            *(machine(n, site_id=9) for n in (107, 101, 106, 103, 105, 102)),
            machine(108, site_region="south"),  # a parent with this id exists, but not with this region
            machine(109, site_id=None),  # a NULL reference is not checked, as by a foreign key
        ],
    )
    found = relations.orphans(target, SITE)
    assert found.count == 7
    assert found.key_columns == ("id", "site_id", "site_region")
    assert found.sample == (
        (101, 9, "north"),
        (102, 9, "north"),
        (103, 9, "north"),
        (105, 9, "north"),
        (106, 9, "north"),
    )


def test_orphans_follows_a_table_that_references_itself(target: sa.Connection) -> None:
    assert relations.orphans(target, PARENT).count == 0
    target.execute(sa.insert(sites).values(id=3, region="east", parent_id=7))
    found = relations.orphans(target, PARENT)
    assert (found.count, found.sample) == (1, ((3, "east", 7),))


def test_duplicates_passes_on_clean_data_and_finds_planted_duplicates(target: sa.Connection) -> None:
    key = [machines.c.site_id, machines.c.serial]
    assert relations.duplicates(target, key).count == 0
    target.execute(
        sa.insert(machines),
        [
            machine(101, serial="S2"),  # S2 is on site 1 already: now three times
            machine(102, serial="S2"),
            machine(103, serial="S3"),  # S3 is on site 2: (1, S3) is another key
            machine(104, serial="X"),
            machine(105, serial="X"),
            machine(106, serial=None),  # a key with a NULL is no key
            machine(107, serial=None),
        ],
    )
    found = relations.duplicates(target, key)
    assert found.count == 2
    assert found.key_columns == ("site_id", "serial", "rows")
    assert found.sample == ((1, "S2", 3), (1, "X", 2))


def test_duplicates_refuses_a_key_across_tables(target: sa.Connection) -> None:
    with pytest.raises(ValueError, match="same table"):
        relations.duplicates(target, [machines.c.site_id, sites.c.region])


def test_violations_passes_on_clean_data_and_finds_planted_violations(target: sa.Connection) -> None:
    positive = machines.c.hours > 0
    assert relations.violations(target, machines, positive, rule="hours > 0").count == 0
    target.execute(sa.insert(machines), [machine(101, hours=0), machine(102, hours=-5), machine(103, hours=None)])
    found = relations.violations(target, machines, positive, rule="hours > 0", key=[machines.c.id, machines.c.hours])
    # NULL is not true: a rule that allows NULL says so in its predicate.
    assert (found.count, found.sample) == (3, ((101, 0), (102, -5), (103, None)))
    allowing_null = relations.violations(
        target, machines, positive | machines.c.hours.is_(None), rule="hours > 0 or unknown"
    )
    assert (allowing_null.count, allowing_null.key_columns) == (2, ("id",))


def test_a_sample_holds_at_most_the_sample_size(target: sa.Connection) -> None:
    target.execute(sa.insert(machines), [machine(100 + n, hours=0) for n in range(12)])
    found = relations.violations(target, machines, machines.c.hours > 0, rule="hours > 0", sample_size=3)
    assert (found.count, found.sample) == (12, ((100,), (101,), (102,)))


def test_a_result_says_expected_and_found_and_shows_the_keys() -> None:
    result = relations.CheckResult("machines: rows breaking hours > 0", 12, ("id", "hours"), ((100, 0), (101, None)))
    assert not result.passed
    assert str(result) == (
        "machines: rows breaking hours > 0: expected 0, found 12; first 2: (id=100, hours=0); (id=101, hours=None)"
    )
    assert relations.CheckResult("clean", 0, ("id",), ()).passed


def test_missing_triggers_finds_a_missing_and_a_disabled_trigger(target: sa.Connection) -> None:
    triggers = [(machines, "machines_touch"), (sites, "sites_touch")]
    target.execute(
        sa.text("CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$")
    )
    for table in ("machines", "sites"):
        target.execute(
            sa.text(
                f"CREATE TRIGGER {table}_touch BEFORE UPDATE ON public.{table}"
                " FOR EACH ROW EXECUTE FUNCTION public.touch()"
            )
        )
    assert catalog.missing_triggers(target, triggers) == []
    target.execute(sa.text("DROP TRIGGER machines_touch ON public.machines"))
    target.execute(sa.text("ALTER TABLE public.sites DISABLE TRIGGER sites_touch"))
    assert catalog.missing_triggers(target, triggers) == [
        "machines: trigger machines_touch is missing",
        "sites: trigger sites_touch is disabled (pg_trigger.tgenabled = 'D')",
    ]
