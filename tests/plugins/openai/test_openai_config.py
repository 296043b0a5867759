"""``[plugins.openai]`` mistakes stop the start with a message naming the key."""

from __future__ import annotations

import pytest

from colonnade.errors import StartupError

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize(
    ("connections", "message"),
    [
        ([{"base_url": "api.openai.com/v1"}], "must start with http:// or https://"),
        ([{"base_url": "https://x.openai.azure.com", "azure": True}], "api_version is required"),
        (
            [{"base_url": "http://a", "name": "x"}, {"base_url": "http://b", "name": "x"}],
            "names must be unique",
        ),
        ([{"base_url": "http://a", "prefix_id": "has.dot"}], "prefix_id"),
        ([{"base_url": "http://a", "key": "sk-misspelt"}], "key"),
    ],
)
async def test_bad_connections_are_start_up_errors(make_app, connections, message):
    with pytest.raises(StartupError, match="plugins.openai") as caught:
        await make_app(config={"plugins": {"openai": {"connections": connections}}}, load_plugins=["openai"])
    assert message in str(caught.value)
    assert "sk-misspelt" not in str(caught.value)


async def test_no_connection_means_no_model_and_no_request(make_app, auth_headers):
    app = await make_app(load_plugins=["openai"])
    client = app.test_client()
    headers = await auth_headers(app, role="admin")
    assert (await (await client.get("/openai/models", headers=headers)).get_json())["data"] == []
    answer = await client.post(
        "/openai/chat/completions", headers=headers, json={"model": "gpt-4o", "messages": []}
    )
    assert answer.status_code == 404
    assert (await answer.get_json()) == {"detail": "Model 'gpt-4o' was not found"}
