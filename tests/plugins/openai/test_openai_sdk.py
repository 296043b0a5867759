"""The real ``openai`` SDK against the proxy served on loopback, the fake upstream behind it."""

from __future__ import annotations

import pytest
from openai_helpers import UPSTREAM_KEY, connection, posts

pytestmark = pytest.mark.asyncio


async def test_chat_completion_is_forwarded_with_the_upstream_key(proxy, upstream):
    running = await proxy([connection(upstream)])
    upstream.app.control.reply = "Forty-two."
    answer = await running.sdk().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Meaning?"}], temperature=0.5
    )
    assert answer.choices[0].message.content == "Forty-two."
    [sent] = posts(upstream)
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["Authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert sent.json() == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Meaning?"}],
        "temperature": 0.5,
    }
    # The caller's own token goes no further than the proxy.
    assert running.token(running.user) not in str(sent.headers)


async def test_streamed_chat_arrives_chunk_by_chunk(proxy, upstream):
    running = await proxy([connection(upstream, prefix_id="fake")])
    upstream.app.control.chunk_count = 40
    stream = await running.sdk(prefix="/openai/v1").chat.completions.create(
        model="fake.gpt-4o-mini", messages=[{"role": "user", "content": "Go"}], stream=True
    )
    pieces = [chunk.choices[0].delta.content async for chunk in stream if chunk.choices]
    expected = upstream.app.control.pieces()
    assert [piece for piece in pieces if piece] == expected
    assert pieces[-1] is None  # the closing chunk (finish_reason "stop") has no content
    [sent] = posts(upstream)
    assert sent.json()["model"] == "gpt-4o-mini" and sent.json()["stream"] is True


async def test_embeddings_through_both_paths(proxy, upstream):
    running = await proxy([connection(upstream)])
    for prefix in ("/openai", "/openai/v1"):
        result = await running.sdk(prefix=prefix).embeddings.create(
            model="text-embedding-3-small", input=["one", "three"]
        )
        assert [len(item.embedding) for item in result.data] == [4, 4]
        assert result.data[0].embedding == pytest.approx([0.3, 0.4, 0.5, 0.6])
    assert [sent.path for sent in posts(upstream)] == ["/v1/embeddings", "/v1/embeddings"]
    assert posts(upstream)[0].json()["input"] == ["one", "three"]


async def test_models_list_through_the_sdk(proxy, upstream):
    running = await proxy([connection(upstream, prefix_id="fake")])
    listed = [model.id async for model in running.sdk().models.list()]
    assert listed == ["fake.gpt-4o-mini", "fake.text-embedding-3-small"]


async def test_a_pending_user_or_no_token_is_refused(proxy, upstream, auth_headers):
    import openai

    running = await proxy([connection(upstream)])
    pending = await auth_headers(running.app, role="pending")
    with pytest.raises(openai.PermissionDeniedError):
        await running.sdk(pending).models.list()
    anonymous = running.sdk({"Authorization": "Bearer not-a-token"})
    with pytest.raises(openai.AuthenticationError):
        await anonymous.chat.completions.create(model="gpt-4o-mini", messages=[])
    assert posts(upstream) == []
