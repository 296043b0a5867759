"""The application served the way ``colonnade serve`` serves it: hypercorn runs its lifespan.

The other tests start the app through ``make_app`` and serve it without a lifespan; here hypercorn's
lifespan start-up opens storage, runs ``startup`` hooks and the pooled upstream clients are closed at
its shutdown.
"""

from __future__ import annotations

from typing import Any

import pytest
import pytest_asyncio
from openai_helpers import connection, posts

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def dropped_schemas() -> Any:
    """Settings whose PostgreSQL schema is dropped once the served app has stopped (requested first,
    so its teardown runs after ``fake_upstream``'s)."""
    from colonnade import db

    created: list[Any] = []
    yield created
    for settings in created:
        await db.drop_postgres_schema(settings)


async def test_served_with_its_lifespan(dropped_schemas, fake_upstream, upstream, base_config, auth_headers):
    from colonnade.app import create_app
    from colonnade.settings import Settings
    from colonnade.testing import deep_merge

    config = {
        "host": {"load_plugins": ["openai"]},
        "plugins": {"openai": {"connections": [connection(upstream)]}},
    }
    settings = Settings.from_dict(deep_merge(base_config, config))
    if settings.database.schema_name:
        dropped_schemas.append(settings)
    app = create_app(settings)
    served = await fake_upstream(app)  # returns once the lifespan start-up has finished
    host = app.extensions["colonnade"]
    assert host.state("openai").service.upstreams[0].name == "0"
    headers = await auth_headers(app, role="user")

    import openai

    async with openai.AsyncOpenAI(
        api_key=headers["Authorization"].removeprefix("Bearer "),
        base_url=served.base_url + "/openai",
        max_retries=0,
    ) as sdk:
        answer = await sdk.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
    assert answer.choices[0].message.content == upstream.app.control.reply
    assert len(posts(upstream)) == 1
