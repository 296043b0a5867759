"""A fake Open WebUI Pipelines server speaking its wire protocol (API.md 4.2).

Serve it with ``server = await fake_upstream("pipelines")``; its URL is ``server.base_url``. It answers
``GET /models`` (with ``"pipelines": true``), ``GET /pipelines``, ``POST /pipelines/add``,
``POST /pipelines/upload``, ``DELETE /pipelines/delete``, ``GET /{id}/valves``, ``GET /{id}/valves/spec``,
``POST /{id}/valves/update``, ``POST /{id}/filter/inlet``, ``POST /{id}/filter/outlet`` and
``POST /chat/completions`` (JSON or SSE), every one behind ``Authorization: Bearer <api_key>``.

It starts with three pipelines (:class:`FakePipelines`): the pipe ``remote_echo`` (answers
``"remote echo: <last user message>"``, streamed word by word), the manifold ``remote_manifold`` with
sub-pipes ``a`` and ``b`` (answers ``"<sub>: <message>"``), and the filter ``remote_filter``
(``pipelines`` targets in its valves, ``priority`` 0) whose inlet appends ``" [remote inlet]"`` to the
last user message and whose outlet appends ``" [remote outlet]"`` to the last assistant message.
Tests script it through ``server.app.control``::

    control = server.app.control
    control.api_key = "other"                      # 401 for any other bearer key
    control.inlet_error = (403, "not today")       # every inlet answers this status and detail
    control.chat_error = (500, "pipe crashed")     # every chat completion answers this
    control.pipelines["remote_filter"].valves["pipelines"] = ["*"]
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

DEFAULT_KEY = "0p3n-w3bu!"


@dataclass
class FakePipeline:
    """One pipeline the fake runs."""

    id: str
    name: str
    type: str = "pipe"
    valves: dict[str, Any] = field(default_factory=dict)
    subs: list[dict[str, str]] = field(default_factory=list)

    def spec(self) -> dict[str, Any]:
        kinds = {str: "string", int: "integer", bool: "boolean", list: "array", float: "number"}
        properties = {
            key: {"title": key, "type": kinds.get(type(value), "string"), "default": value}
            for key, value in self.valves.items()
        }
        return {"title": "Valves", "type": "object", "properties": properties}


def default_pipelines() -> dict[str, FakePipeline]:
    return {
        "remote_echo": FakePipeline("remote_echo", "Remote Echo", valves={"PREFIX": "remote echo:"}),
        "remote_manifold": FakePipeline(
            "remote_manifold",
            "Remote: ",
            "manifold",
            subs=[{"id": "a", "name": "A"}, {"id": "b", "name": "B"}],
        ),
        "remote_filter": FakePipeline(
            "remote_filter", "Remote Filter", "filter", valves={"pipelines": ["remote_echo"], "priority": 0}
        ),
    }


@dataclass
class FakePipelines:
    """What the fake answers; change it between requests."""

    api_key: str | None = DEFAULT_KEY
    pipelines: dict[str, FakePipeline] = field(default_factory=default_pipelines)
    inlet_error: tuple[int, str] | None = None
    chat_error: tuple[int, str] | None = None
    added: list[str] = field(default_factory=list)

    def models(self) -> list[dict[str, Any]]:
        listed = []
        for pipeline in self.pipelines.values():
            base = {"object": "model", "created": int(time.time()), "owned_by": "openai"}
            info: dict[str, Any] = {"type": pipeline.type, "valves": bool(pipeline.valves)}
            if pipeline.type == "manifold":
                for sub in pipeline.subs:
                    sub_id, sub_name = f"{pipeline.id}.{sub['id']}", f"{pipeline.name}{sub['name']}"
                    listed.append({**base, "id": sub_id, "name": sub_name, "pipeline": info})
                continue
            if pipeline.type == "filter":
                info["pipelines"] = pipeline.valves.get("pipelines", [])
                info["priority"] = pipeline.valves.get("priority", 0)
            listed.append({**base, "id": pipeline.id, "name": pipeline.name, "pipeline": info})
        return listed

    def reply(self, model: str, messages: list[Any]) -> str | None:
        said = ""
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                said = str(message.get("content", ""))
                break
        pipeline = self.pipelines.get(model)
        if pipeline is not None and pipeline.type == "pipe":
            return f"{pipeline.valves.get('PREFIX', pipeline.id + ':')} {said}"
        head, _, sub = model.partition(".")
        pipeline = self.pipelines.get(head)
        if pipeline is not None and pipeline.type == "manifold" and sub in [s["id"] for s in pipeline.subs]:
            return f"{sub}: {said}"
        return None


def create_app() -> Any:
    from quart import Quart, Response, jsonify, request

    app = Quart("fake_pipelines")
    control = app.control = FakePipelines()  # type: ignore[attr-defined]

    def error(status: int, detail: str) -> Any:
        response = jsonify({"detail": detail})
        response.status_code = status
        return response

    @app.before_request
    async def _authorise() -> Any:
        wanted = f"Bearer {control.api_key}"
        if control.api_key is not None and request.headers.get("Authorization") != wanted:
            return error(401, "Invalid API key")
        return None

    @app.get("/models")
    @app.get("/v1/models")
    async def models() -> Any:
        return jsonify({"data": control.models(), "object": "list", "pipelines": True})

    @app.get("/pipelines")
    async def pipelines() -> Any:
        data = [
            {"id": p.id, "name": p.name, "type": p.type, "valves": bool(p.valves)}
            for p in control.pipelines.values()
        ]
        return jsonify({"data": data})

    def add(pipeline_id: str) -> None:
        control.pipelines[pipeline_id] = FakePipeline(pipeline_id, pipeline_id)
        control.added.append(pipeline_id)

    @app.post("/pipelines/add")
    async def add_from_url() -> Any:
        url = (await request.get_json(force=True) or {}).get("url", "")
        if not url.endswith(".py"):
            return error(400, "Only Python files are allowed.")
        add(url.rsplit("/", 1)[-1][:-3])
        return jsonify({"status": True, "detail": f"Pipeline added successfully from {url}"})

    @app.post("/pipelines/upload")
    async def upload() -> Any:
        upload = (await request.files).get("file")
        if upload is None or not upload.filename.endswith(".py"):
            return error(400, "Only Python files are allowed.")
        add(upload.filename[:-3])
        return jsonify({"status": True, "detail": f"Pipeline uploaded successfully to {upload.filename}"})

    @app.delete("/pipelines/delete")
    async def delete() -> Any:
        pipeline_id = (await request.get_json(force=True) or {}).get("id")
        if control.pipelines.pop(pipeline_id, None) is None:
            return error(404, "Pipeline not found")
        return jsonify({"status": True, "detail": f"Pipeline {pipeline_id} deleted successfully"})

    @app.get("/<pipeline_id>/valves")
    async def valves(pipeline_id: str) -> Any:
        pipeline = control.pipelines.get(pipeline_id)
        return jsonify(pipeline.valves) if pipeline else error(404, "Pipeline not found")

    @app.get("/<pipeline_id>/valves/spec")
    async def valves_spec(pipeline_id: str) -> Any:
        pipeline = control.pipelines.get(pipeline_id)
        return jsonify(pipeline.spec()) if pipeline else error(404, "Pipeline not found")

    @app.post("/<pipeline_id>/valves/update")
    async def update_valves(pipeline_id: str) -> Any:
        pipeline = control.pipelines.get(pipeline_id)
        if pipeline is None:
            return error(404, "Pipeline not found")
        values = await request.get_json(force=True)
        if not isinstance(values, dict) or set(values) - set(pipeline.valves):
            return error(400, "Invalid valves")
        pipeline.valves.update(values)
        return jsonify(pipeline.valves)

    @app.post("/<pipeline_id>/filter/<direction>")
    async def run_filter(pipeline_id: str, direction: str) -> Any:
        # As the real server: a pipe or manifold model answers for its own filter methods (these
        # fakes have none, so the body comes back unchanged).
        pipeline = control.pipelines.get(pipeline_id) or control.pipelines.get(pipeline_id.split(".")[0])
        if pipeline is None or direction not in ("inlet", "outlet"):
            return error(404, f"Filter {pipeline_id} not found")
        if direction == "inlet" and control.inlet_error is not None:
            return error(*control.inlet_error)
        form = await request.get_json(force=True)
        body = form.get("body") or {}
        if pipeline.type != "filter":
            return jsonify(body)
        inlet = direction == "inlet"
        role, mark = ("user", " [remote inlet]") if inlet else ("assistant", " [remote outlet]")
        for message in reversed(body.get("messages") or []):
            if message.get("role") == role:
                message["content"] = f"{message.get('content', '')}{mark}"
                break
        return jsonify(body)

    @app.post("/chat/completions")
    @app.post("/v1/chat/completions")
    async def chat() -> Any:
        if control.chat_error is not None:
            return error(*control.chat_error)
        body = await request.get_json(force=True)
        model = body.get("model", "")
        text = control.reply(model, body.get("messages") or [])
        if text is None:
            return error(404, f"Pipeline {model} not found")
        ident = f"{model}-{uuid.uuid4()}"
        if not body.get("stream"):
            message = {"role": "assistant", "content": text}
            return jsonify(
                {
                    "id": ident,
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
                }
            )

        async def events() -> Any:
            words = text.split(" ")
            for index, word in enumerate(words):
                piece = word if index == len(words) - 1 else word + " "
                chunk = {
                    "id": ident,
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {"index": 0, "delta": {"content": piece}, "logprobs": None, "finish_reason": None}
                    ],
                }
                yield f"data: {json.dumps(chunk)}\n\n".encode()
            last = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}],
            }
            yield f"data: {json.dumps(last)}\n\n".encode()
            yield b"data: [DONE]\n\n"

        return Response(events(), content_type="text/event-stream")

    return app
