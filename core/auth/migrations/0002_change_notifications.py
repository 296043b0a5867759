"""PostgreSQL only: notify every worker when an account, an API key or a revocation changes.

Each worker remembers the rows behind credentials between requests and forgets them when it hears of
a change (``colonnade.auth.remembered``). The triggers notify on channel ``colonnade_auth.<schema>``
with ``user:<id>`` (a user's row or one of their API keys updated or deleted), ``jti:<token id>`` (a
token revoked) or ``all`` (a table truncated). Inserted users and keys need no notice: only rows that
were found are remembered. Nothing to do on SQLite, where nothing is remembered.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

TABLES = ("auth_user", "auth_api_key", "auth_revoked_token")

NOTIFY_FUNCTION = """
CREATE OR REPLACE FUNCTION auth_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    channel text := 'colonnade_auth.' || TG_TABLE_SCHEMA;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify(channel, 'all');
    ELSIF TG_TABLE_NAME = 'auth_revoked_token' THEN
        PERFORM pg_notify(channel, 'jti:' || NEW.jti);
    ELSIF TG_TABLE_NAME = 'auth_api_key' THEN
        PERFORM pg_notify(channel, 'user:' || OLD.user_id);
        IF TG_OP = 'UPDATE' AND NEW.user_id <> OLD.user_id THEN
            PERFORM pg_notify(channel, 'user:' || NEW.user_id);
        END IF;
    ELSE
        PERFORM pg_notify(channel, 'user:' || OLD.id);
    END IF;
    RETURN NULL;
END
$$
"""

#: Which row changes each table reports.
ROW_EVENTS = {
    "auth_user": "UPDATE OR DELETE",
    "auth_api_key": "UPDATE OR DELETE",
    "auth_revoked_token": "INSERT",
}


def trigger_statements() -> list[str]:
    statements = [NOTIFY_FUNCTION]
    for table in TABLES:
        statements.append(
            f"CREATE TRIGGER {table}_notify AFTER {ROW_EVENTS[table]} ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION auth_notify_change()"
        )
        statements.append(
            f"CREATE TRIGGER {table}_notify_truncate AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION auth_notify_change()"
        )
    return statements


def drop_statements() -> list[str]:
    statements = []
    for table in TABLES:
        statements.append(f"DROP TRIGGER IF EXISTS {table}_notify ON {table}")
        statements.append(f"DROP TRIGGER IF EXISTS {table}_notify_truncate ON {table}")
    statements.append("DROP FUNCTION IF EXISTS auth_notify_change()")
    return statements


async def _run_on_postgres(schema_editor, statements: list[str]) -> None:
    client = schema_editor.client
    if client.capabilities.dialect != "postgres":
        return
    for statement in statements:
        await client.execute_script(statement)


async def create_triggers(apps, schema_editor) -> None:
    await _run_on_postgres(schema_editor, trigger_statements())


async def drop_triggers(apps, schema_editor) -> None:
    await _run_on_postgres(schema_editor, drop_statements())


class Migration(migrations.Migration):
    dependencies = [("auth", "0001_initial")]

    operations = [ops.RunPython(create_triggers, drop_triggers)]
