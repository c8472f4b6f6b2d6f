"""Triggers that guard chat participants, which no foreign key can reach inside an array.

`chat_conversations_participants_guard` (BEFORE INSERT OR UPDATE OF participants) refuses
an array with a NULL element, a duplicate, elements out of ascending order, more than one
dimension, or an id that is not in `users`. It leaves a NULL or empty array to the NOT NULL
and `chat_conversations_participants_not_empty_check` constraints, which PostgreSQL checks
right after BEFORE triggers, so that each rejection names exactly one guard.
`users_participants_guard` (BEFORE DELETE OR UPDATE OF id) refuses to delete or renumber a
user who is still a participant, as a foreign key without ON DELETE would.

Like PostgreSQL's own foreign keys, the participants guard locks the users it finds
(FOR KEY SHARE), so a user deleted at the same time cannot slip in between; the functions
run as their owner (SECURITY DEFINER, fixed search_path) so that writers need no UPDATE
privilege on `users` for that lock. The GIN index on participants lets the users guard find
a user's conversations without reading them all.
"""

from __future__ import annotations

import sqlalchemy as sa

from pytest_migration.engine.identifiers import quote_pg

from .schema import chat_conversations, users

PARTICIPANTS_GUARD = "chat_conversations_participants_guard"
USERS_GUARD = "users_participants_guard"
PARTICIPANTS_INDEX = "chat_conversations_participants_idx"
TRIGGERS = ((chat_conversations, PARTICIPANTS_GUARD), (users, USERS_GUARD))
"""Each guard trigger with its table; each trigger's function has the trigger's name."""

CONVERSATIONS = quote_pg(chat_conversations.schema, chat_conversations.name)
USERS = quote_pg(users.schema, users.name)
PARTICIPANTS = quote_pg(chat_conversations.c.participants.name)
ID = quote_pg(users.c.id.name)

PARTICIPANTS_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {quote_pg(chat_conversations.schema, PARTICIPANTS_GUARD)}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $guard$
DECLARE
    given bigint[] := NEW.{PARTICIPANTS};
    problem text;
    locked bigint;
BEGIN
    IF given IS NULL OR cardinality(given) = 0 THEN
        RETURN NEW;  -- left to NOT NULL and the not-empty check, which come next and name themselves
    END IF;
    IF array_ndims(given) > 1 THEN
        problem := 'must be a one-dimensional array';
    ELSIF EXISTS (SELECT FROM unnest(given) AS element WHERE element IS NULL) THEN
        problem := 'hold a NULL element';
    ELSIF (SELECT count(DISTINCT element) FROM unnest(given) AS element) < cardinality(given) THEN
        problem := 'hold duplicates';
    ELSIF (SELECT array_agg(element ORDER BY element) <> array_agg(element ORDER BY position)
           FROM unnest(given) WITH ORDINALITY AS listed(element, position)) THEN
        problem := 'are not sorted ascending';
    ELSE
        -- Lock the users found, as a foreign key does, so that none is deleted before we commit.
        SELECT count(*) INTO locked
        FROM (SELECT FROM {USERS} AS u WHERE u.{ID} = ANY (given) FOR KEY SHARE OF u) AS existing;
        IF locked < cardinality(given) THEN
            problem := format('name users that do not exist: %s', ARRAY(
                SELECT element FROM unnest(given) AS element
                WHERE NOT EXISTS (SELECT FROM {USERS} AS u WHERE u.{ID} = element)
                ORDER BY element
            ));
        END IF;
    END IF;
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION USING
            MESSAGE = format('%s %s: participants %s %s', TG_TABLE_NAME, NEW.{ID}, given, problem),
            HINT = 'participants are distinct ids of existing users, sorted ascending, e.g. {{3,8,15}}',
            CONSTRAINT = TG_NAME, SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME, COLUMN = 'participants';
    END IF;
    RETURN NEW;
END
$guard$"""

USERS_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {quote_pg(users.schema, USERS_GUARD)}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $guard$
DECLARE
    holding bigint[];
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.{ID} = OLD.{ID} THEN
        RETURN NEW;
    END IF;
    holding := ARRAY(
        SELECT c.{ID} FROM {CONVERSATIONS} AS c
        WHERE c.{PARTICIPANTS} @> ARRAY[OLD.{ID}] ORDER BY c.{ID} LIMIT 6
    );
    IF cardinality(holding) > 0 THEN
        RAISE EXCEPTION USING
            MESSAGE = format(
                'user %s is a participant of chat_conversations %s: remove it from their participants first',
                OLD.{ID},
                CASE WHEN cardinality(holding) > 5 THEN array_to_string(trim_array(holding, 1), ', ') || ', ...'
                     ELSE array_to_string(holding, ', ') END
            ),
            HINT = 'a user named in chat_conversations.participants can be neither deleted nor renumbered',
            CONSTRAINT = TG_NAME, SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME, COLUMN = 'id';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$guard$"""


DDL = (
    sa.text(PARTICIPANTS_FUNCTION),
    sa.text(USERS_FUNCTION),
    sa.text(
        f"CREATE OR REPLACE TRIGGER {quote_pg(PARTICIPANTS_GUARD)}"
        f" BEFORE INSERT OR UPDATE OF {PARTICIPANTS} ON {CONVERSATIONS}"
        f" FOR EACH ROW EXECUTE FUNCTION {quote_pg(chat_conversations.schema, PARTICIPANTS_GUARD)}()"
    ),
    sa.text(
        f"CREATE OR REPLACE TRIGGER {quote_pg(USERS_GUARD)}"
        f" BEFORE DELETE OR UPDATE OF {ID} ON {USERS}"
        f" FOR EACH ROW EXECUTE FUNCTION {quote_pg(users.schema, USERS_GUARD)}()"
    ),
    sa.text(f"CREATE INDEX IF NOT EXISTS {quote_pg(PARTICIPANTS_INDEX)} ON {CONVERSATIONS} USING gin ({PARTICIPANTS})"),
)
"""The guards' functions and triggers, and the index the users guard reads."""


def create_guards(connection: sa.Connection) -> None:
    """Create (or replace) the participants guards, after the load so they guard later writes only."""
    for statement in DDL:
        connection.execute(statement)
