"""The ``completion_models`` hook: plugins add to the entries of ``GET /api/models``."""

from __future__ import annotations

import pytest
from completions_helpers import Provider

from colonnade import hookimpl

pytestmark = pytest.mark.asyncio


async def test_hook_completion_models(completions_app, auth_headers):
    class Tagger:
        __name__ = "tagger"
        seen = None

        @hookimpl
        async def completion_models(self, actor, models):
            self.seen = actor.role
            for number, entry in enumerate(models):
                models[number] = {**entry, "tags": [{"name": "house"}]}

    provider = Provider(models=["echo-1", "echo-2"])
    tagger = Tagger()
    app = await completions_app(provider, plugins=[tagger])
    client = app.test_client()
    headers = await auth_headers(app)
    for prefix in ("/api", "/api/v1"):
        listed = await (await client.get(f"{prefix}/models", headers=headers)).get_json()
        assert [(entry["id"], entry["tags"]) for entry in listed["data"]] == [
            ("echo-1", [{"name": "house"}]),
            ("echo-2", [{"name": "house"}]),
        ]
    assert tagger.seen == "user"
    # The providers' cached entries were replaced, not changed.
    cached = await app.extensions["colonnade"].state("completions").catalogue.models_of(provider, None)
    assert all("tags" not in entry for entry in cached)
