"""Memories in completions, through ``/api/chat/completions`` with the fake OpenAI upstream for chat and
embeddings: which users get them (request ``features.memory``, their ``settings.ui.memory``,
``enabled_by_default``), which memories (the caller's own, nearest to their latest messages, within the
character limit) and what is forwarded upstream."""

from __future__ import annotations

import time

import pytest
from memory_helpers import add, embedded_texts, sent_messages

pytestmark = pytest.mark.asyncio

TEA = "I drink green tea every morning."
RUST = "I am writing a compiler in Rust."
CAT = "My cat is called Miso."
QUESTION = "Which tea should I drink this morning?"


def day(memory: dict) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(memory["created_at"]))


async def complete(env, headers, *, question: str = QUESTION, system: str | None = "Be brief.", **extra):
    messages = [{"role": "system", "content": system}] if system is not None else []
    body = {"model": "gpt-4o-mini", "messages": [*messages, {"role": "user", "content": question}], **extra}
    response = await env.client.post("/api/chat/completions", json=body, headers=headers)
    assert response.status_code == 200, await response.get_data()
    return sent_messages(env.fake)


async def set_memory_setting(env, headers, value: bool) -> None:
    response = await env.client.post(
        "/api/v1/users/user/settings/update", json={"ui": {"memory": value}}, headers=headers
    )
    assert response.status_code == 200


async def test_hook_completion_inlet_adds_the_nearest_memories_to_the_system_message(memory_app):
    env = await memory_app({"completion_top_k": 1}, completions=True)
    tea = await add(env, env.alice, TEA)
    await add(env, env.alice, RUST)
    await add(env, env.alice, CAT)
    sent = await complete(env, env.alice, features={"memory": True})
    assert sent[0] == {
        "role": "system",
        "content": (
            "Be brief.\n\nUser Context:\n"
            "Use these memories about the user when they help with the answer; do not mention them otherwise.\n"
            "Context from earlier conversations:\n"
            f"1. [{day(tea)}] {TEA}"
        ),
    }
    assert sent[1:] == [{"role": "user", "content": QUESTION}]
    assert QUESTION in embedded_texts(env.fake)


async def test_facts_come_before_context_and_a_system_message_is_added(memory_app):
    env = await memory_app({"completion_top_k": 2}, completions=True)
    tea = await add(env, env.alice, TEA)  # context (the default)
    rust = await add(env, env.alice, "I drink black coffee in the afternoon.", type="user")
    await add(env, env.alice, CAT)
    sent = await complete(env, env.alice, system=None, question="What do I drink?", features={"memory": True})
    assert sent[0]["role"] == "system"
    assert sent[0]["content"].splitlines()[2:] == [
        "Facts the user asked you to remember:",
        f"1. [{day(rust)}] I drink black coffee in the afternoon.",
        "Context from earlier conversations:",
        f"2. [{day(tea)}] {TEA}",
    ]
    assert sent[1] == {"role": "user", "content": "What do I drink?"}


async def test_the_character_limit_leaves_out_whole_memories(memory_app):
    env = await memory_app({"context_char_limit": 100}, completions=True)
    long = "tea " * 30  # 120 characters: never fits
    await add(env, env.alice, long)
    tea = await add(env, env.alice, TEA)
    sent = await complete(env, env.alice, features={"memory": True})
    assert long.strip() not in sent[0]["content"]
    assert sent[0]["content"].endswith(f"1. [{day(tea)}] {TEA}")


async def test_the_query_is_made_of_the_latest_user_messages(memory_app):
    env = await memory_app({"completion_top_k": 1, "query_messages": 1}, completions=True)
    await add(env, env.alice, CAT)
    tea = await add(env, env.alice, TEA)
    body_messages = [
        {"role": "user", "content": "Tell me about my cat Miso."},
        {"role": "assistant", "content": "Miso is a cat."},
        {"role": "user", "content": [{"type": "text", "text": QUESTION}]},
    ]
    response = await env.client.post(
        "/api/chat/completions",
        json={"model": "gpt-4o-mini", "messages": body_messages, "features": {"memory": True}},
        headers=env.alice,
    )
    assert response.status_code == 200
    sent = sent_messages(env.fake)
    assert sent[0]["content"].endswith(f"1. [{day(tea)}] {TEA}")
    assert embedded_texts(env.fake)[-1] == QUESTION


async def test_who_gets_memories(memory_app):
    env = await memory_app(completions=True)
    await add(env, env.alice, TEA)

    async def got_memories(**extra) -> bool:
        return TEA in (await complete(env, env.alice, **extra))[0]["content"]

    # Off unless the user turned it on (Open WebUI's default).
    assert not await got_memories()
    assert QUESTION not in embedded_texts(env.fake)  # nothing was even searched
    # The Personalisation switch, kept in the user's settings.
    await set_memory_setting(env, env.alice, True)
    assert await got_memories()
    # The request's own features.memory wins over the setting, both ways.
    assert not await got_memories(features={"memory": False, "web_search": False})
    await set_memory_setting(env, env.alice, False)
    assert not await got_memories()
    assert await got_memories(features={"memory": True})
    # Open WebUI's /api/v1 prefix goes through the same pipeline.
    response = await env.client.post(
        "/api/v1/chat/completions",
        json={
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": QUESTION}],
            "features": {"memory": True},
        },
        headers=env.alice,
    )
    assert response.status_code == 200
    assert TEA in sent_messages(env.fake)[0]["content"]


async def test_enabled_by_default(memory_app):
    env = await memory_app({"enabled_by_default": True}, completions=True)
    await add(env, env.alice, TEA)
    assert TEA in (await complete(env, env.alice))[0]["content"]
    await set_memory_setting(env, env.alice, False)
    assert (await complete(env, env.alice))[0] == {"role": "system", "content": "Be brief."}


async def test_background_tasks_get_no_memories(memory_app):
    env = await memory_app({"enabled_by_default": True}, completions=True)
    await add(env, env.alice, TEA)
    sent = await complete(env, env.alice, metadata={"task": "title_generation"}, features={"memory": True})
    assert sent[0] == {"role": "system", "content": "Be brief."}


async def test_completion_context_off(memory_app):
    env = await memory_app({"enabled_by_default": True, "completion_context": False}, completions=True)
    await add(env, env.alice, TEA)
    sent = await complete(env, env.alice, features={"memory": True})
    assert sent[0] == {"role": "system", "content": "Be brief."}


async def test_another_users_memories_never_reach_a_completion(memory_app):
    env = await memory_app({"enabled_by_default": True}, completions=True)
    await add(env, env.bob, "Which tea should I drink this morning? Bob drinks oolong tea.")
    # Alice has no memories: nothing is added, however near Bob's is.
    assert (await complete(env, env.alice))[0] == {"role": "system", "content": "Be brief."}
    tea = await add(env, env.alice, "I like cake.")
    sent = await complete(env, env.alice)
    assert "oolong" not in sent[0]["content"]
    assert sent[0]["content"].endswith(f"1. [{day(tea)}] I like cake.")


async def test_a_streamed_completion_gets_memories_too(memory_app):
    env = await memory_app({"enabled_by_default": True}, completions=True)
    await add(env, env.alice, TEA)
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": QUESTION}], "stream": True}
    response = await env.client.post("/api/chat/completions", json=body, headers=env.alice)
    assert response.status_code == 200
    assert "[DONE]" in await response.get_data(as_text=True)
    assert TEA in sent_messages(env.fake)[0]["content"]


async def test_an_embedding_failure_leaves_the_completion_alone(memory_app):
    env = await memory_app({"enabled_by_default": True}, completions=True)
    await add(env, env.alice, TEA)

    def broken(text: str) -> list[float]:
        raise RuntimeError("the embedding model crashed")

    env.fake.app.control.embed = broken
    assert (await complete(env, env.alice))[0] == {"role": "system", "content": "Be brief."}
