"""Model docstrings and ``#:`` comments with ``;`` or ``'`` no longer break migrations.

Tortoise turns a model's docstring (first line) and its fields' ``#:`` comments into SQL comments, and
its SQLite schema editor splits a migration's DDL on ``;``: ``colonnade migrate`` failed with
"incomplete input". The core replaces ``;`` and ``'`` in descriptions, in the models and in the
migration files alike, so both a freshly generated migration and one written before apply, on SQLite
and PostgreSQL, and the models still match their migrations.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
import uuid

import pytest

from colonnade import hookimpl
from colonnade.cli import main
from colonnade.config_output import to_toml

MODELS = '''
from tortoise import fields
from tortoise.models import Model


class Note(Model):
    """A note's row; kept for ever."""

    id = fields.IntField(primary_key=True)
    #: The text; it's shown as written.
    text = fields.CharField(max_length=200)

    class Meta:
        table = "{label}_note"
'''

#: The migration ``makemigrations`` wrote for ``MODELS`` before descriptions were made safe.
OLD_MIGRATION = '''
from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="Note",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("text", fields.CharField(description="The text; it's shown as written.", max_length=200)),
            ],
            options={{
                "table": "{label}_note",
                "app": "{label}",
                "pk_attr": "id",
                "table_description": "A note's row; kept for ever.",
            }},
            bases=["Model"],
        ),
    ]
'''


@pytest.fixture
def notes(tmp_path, monkeypatch, base_config):
    """``(label, package directory, plugin, config path)``: a models plugin on this test's backend."""
    from colonnade import db
    from colonnade.settings import Settings

    label = f"described_{uuid.uuid4().hex[:8]}"
    root = tmp_path / "src" / label
    root.mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "models.py").write_text(textwrap.dedent(MODELS.format(label=label)))
    monkeypatch.syspath_prepend(str(tmp_path / "src"))

    class Notes:
        __name__ = label

        @hookimpl
        def register_db_models(self):
            return {label: [f"{label}.models"]}

    config = tmp_path / "colonnade.toml"
    config.write_text(to_toml({**base_config, "host": {"load_plugins": []}}))
    yield label, root, Notes(), config
    for name in [name for name in sys.modules if name.startswith(label)]:
        del sys.modules[name]
    settings = Settings.from_dict(base_config)
    if settings.database.schema_name:
        asyncio.run(db.drop_postgres_schema(settings))


def run(capsys, argv, plugin):
    status = main(argv, plugins=[plugin])
    out, err = capsys.readouterr()
    return status, out, err


def test_a_generated_migration_with_semicolons_and_apostrophes_applies(capsys, notes):
    label, root, plugin, config = notes

    status, out, err = run(capsys, ["makemigrations", "--config", str(config), label], plugin)
    assert status == 0, err
    written = (root / "migrations" / "0001_initial.py").read_text()
    assert "A note\u2019s row, kept for ever." in written
    assert "The text, it\u2019s shown as written." in written

    status, out, err = run(capsys, ["migrate", "--config", str(config)], plugin)
    assert status == 0, err
    assert f"applied {label}.0001_initial" in out.splitlines()

    status, out, err = run(capsys, ["makemigrations", "--check", "--config", str(config), label], plugin)
    assert (status, out) == (0, "no changes detected\n"), err


def test_a_migration_written_before_applies_and_still_matches_the_models(capsys, notes):
    label, root, plugin, config = notes
    (root / "migrations").mkdir()
    (root / "migrations" / "__init__.py").write_text("")
    (root / "migrations" / "0001_initial.py").write_text(textwrap.dedent(OLD_MIGRATION.format(label=label)))

    status, out, err = run(capsys, ["migrate", "--config", str(config)], plugin)
    assert status == 0, err
    assert f"applied {label}.0001_initial" in out.splitlines()

    status, out, err = run(capsys, ["makemigrations", "--check", "--config", str(config), label], plugin)
    assert (status, out) == (0, "no changes detected\n"), err
