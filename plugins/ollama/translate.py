"""OpenAI chat-completions <-> Ollama ``/api/chat``, as plain dict transformations.

Requests: OpenAI messages (string or parts content, ``image_url`` data URLs, assistant ``tool_calls``
with JSON-string arguments) become Ollama messages (string content, ``images`` as bare base64,
``tool_calls`` with object arguments); sampling parameters move into ``options`` (``max_tokens`` is
``num_predict``). Answers: each NDJSON line becomes a ``chat.completion.chunk``; the ``done`` line
becomes the chunk with ``finish_reason`` and ``usage`` (from Ollama's eval counts).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

#: OpenAI request keys that are Ollama ``options`` under the same name.
SAME_NAME_OPTIONS = ("temperature", "top_p", "seed", "frequency_penalty", "presence_penalty")

#: Ollama-only options a client (or a workspace model's params) may send at the top level.
OLLAMA_OPTIONS = (
    "num_ctx", "num_batch", "num_keep", "num_gpu", "num_thread", "top_k", "min_p", "typical_p",
    "repeat_penalty", "repeat_last_n", "mirostat", "mirostat_eta", "mirostat_tau", "tfs_z",
    "use_mmap", "use_mlock", "numa", "penalize_newline",
)  # fmt: skip

FINISH_REASONS = {"stop": "stop", "length": "length", "load": "stop", "unload": "stop"}


class TranslationError(ValueError):
    """The OpenAI request cannot be expressed for Ollama (a 400 for the client)."""


def ollama_chat_body(request: dict[str, Any], model: str) -> dict[str, Any]:
    """The ``/api/chat`` body for an OpenAI chat-completions ``request`` aimed at upstream ``model``."""
    messages = request.get("messages")
    if not isinstance(messages, list):
        raise TranslationError("'messages' must be a list")
    body: dict[str, Any] = {
        "model": model,
        "messages": [ollama_message(message) for message in messages],
        "stream": bool(request.get("stream", False)),
    }
    options = dict(request.get("options") or {}) if isinstance(request.get("options"), dict) else {}
    for key in SAME_NAME_OPTIONS + OLLAMA_OPTIONS:
        if request.get(key) is not None:
            options[key] = request[key]
    max_tokens = request.get("max_completion_tokens", request.get("max_tokens"))
    if max_tokens is not None:
        options["num_predict"] = max_tokens
    stop = request.get("stop")
    if stop is not None:
        options["stop"] = [stop] if isinstance(stop, str) else list(stop)
    if options:
        body["options"] = options
    if request.get("tools"):
        body["tools"] = request["tools"]
    response_format = request.get("response_format")
    if isinstance(response_format, dict):
        if response_format.get("type") == "json_object":
            body["format"] = "json"
        elif response_format.get("type") == "json_schema":
            schema = (response_format.get("json_schema") or {}).get("schema")
            if isinstance(schema, dict):
                body["format"] = schema
    for key in ("keep_alive", "think", "format"):
        if request.get(key) is not None:
            body[key] = request[key]
    return body


def ollama_message(message: Any) -> dict[str, Any]:
    if not isinstance(message, dict) or not isinstance(message.get("role"), str):
        raise TranslationError("each message needs a 'role'")
    out: dict[str, Any] = {"role": message["role"]}
    content = message.get("content")
    images: list[str] = list(message.get("images") or [])
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "text":
                texts.append(str(part.get("text", "")))
            elif part.get("type") == "image_url":
                url = part.get("image_url")
                url = url.get("url") if isinstance(url, dict) else url
                if isinstance(url, str) and url.startswith("data:") and "," in url:
                    images.append(url.split(",", 1)[1])
                else:
                    # Ollama takes image bytes only; fetching a URL for the client would let any user
                    # make this server download from anywhere.
                    raise TranslationError("Ollama models take images as data: URLs only")
        out["content"] = "\n".join(texts)
    else:
        out["content"] = "" if content is None else str(content)
    if images:
        out["images"] = images
    if message.get("tool_calls"):
        out["tool_calls"] = [ollama_tool_call(call) for call in message["tool_calls"]]
    if message["role"] == "tool" and message.get("name"):
        out["tool_name"] = message["name"]
    return out


def ollama_tool_call(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    arguments = function.get("arguments")
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            raise TranslationError("a tool call's arguments are not valid JSON") from None
    return {"function": {"name": function.get("name"), "arguments": arguments or {}}}


def openai_tool_calls(calls: list[dict[str, Any]], *, indexed: bool) -> list[dict[str, Any]]:
    converted = []
    for index, call in enumerate(calls):
        function = call.get("function") or {}
        item = {
            "id": call.get("id") or f"call_{uuid.uuid4().hex[:24]}",
            "type": "function",
            "function": {
                "name": function.get("name"),
                "arguments": json.dumps(function.get("arguments") or {}),
            },
        }
        converted.append({"index": index, **item} if indexed else item)
    return converted


def usage(final: dict[str, Any]) -> dict[str, int]:
    prompt = int(final.get("prompt_eval_count") or 0)
    completion = int(final.get("eval_count") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def finish_reason(final: dict[str, Any], used_tools: bool) -> str:
    if used_tools:
        return "tool_calls"
    return FINISH_REASONS.get(final.get("done_reason") or "stop", "stop")


class ChunkWriter:
    """Turns the lines of one Ollama chat stream into OpenAI ``chat.completion.chunk`` dicts."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.model = model
        self.started = False
        self.used_tools = False

    def chunk(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            **extra,
        }

    def chunks(self, line: dict[str, Any]) -> list[dict[str, Any]]:
        """The chunks for one Ollama line: its content (the first one also says ``role``), then for
        the ``done`` line a last chunk with ``finish_reason`` and ``usage``."""
        message = line.get("message") or {}
        delta: dict[str, Any] = {}
        if message.get("thinking"):
            delta["reasoning_content"] = message["thinking"]
        if message.get("content"):
            delta["content"] = message["content"]
        if message.get("tool_calls"):
            self.used_tools = True
            delta["tool_calls"] = openai_tool_calls(message["tool_calls"], indexed=True)
        out = []
        if delta or not self.started:
            if not self.started:
                delta = {"role": "assistant", "content": "", **delta}
                self.started = True
            out.append(self.chunk(delta))
        if line.get("done") is True:
            out.append(self.chunk({}, finish_reason(line, self.used_tools), usage=usage(line)))
        return out


def openai_completion(answer: dict[str, Any], model: str) -> dict[str, Any]:
    """A whole ``chat.completion`` for Ollama's non-streamed ``/api/chat`` answer."""
    message = answer.get("message") or {}
    out: dict[str, Any] = {"role": "assistant", "content": message.get("content") or ""}
    if message.get("thinking"):
        out["reasoning_content"] = message["thinking"]
    calls = message.get("tool_calls") or []
    if calls:
        out["tool_calls"] = openai_tool_calls(calls, indexed=False)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": out,
                "finish_reason": finish_reason(answer, bool(calls)),
                "logprobs": None,
            }
        ],
        "usage": usage(answer),
    }
