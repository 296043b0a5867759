"""Open WebUI's model parameters (``params``) applied to an OpenAI request body.

Both a request's own ``params`` and a workspace model's ``params`` go through :func:`apply_params`;
the request's are applied last, so they win. ``system`` becomes (or replaces) the system message;
the OpenAI sampling parameters are copied unless the body already sets them.
"""

from __future__ import annotations

from typing import Any

#: Request keys Open WebUI's clients send that are not OpenAI's; kept out of what providers receive.
OPEN_WEBUI_KEYS = (
    "chat_id",
    "id",
    "session_id",
    "parent_id",
    "user_message",
    "parent_message",
    "message_ids",
    "assistant_message_id",
    "regeneration_message_id",
    "regeneration_prompt",
    "folder_id",
    "files",
    "tool_ids",
    "skill_ids",
    "filter_ids",
    "tool_servers",
    "terminal_id",
    "features",
    "variables",
    "chat_variables",
    "model_item",
    "background_tasks",
    "automation_id",
    "metadata",
    "params",
)

#: ``params`` keys that are OpenAI request parameters of the same name.
OPENAI_PARAMS = (
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "seed",
    "stop",
    "frequency_penalty",
    "presence_penalty",
    "logit_bias",
    "reasoning_effort",
    "response_format",
    "n",
)


def apply_params(body: dict[str, Any], params: Any, *, override: bool = False) -> None:
    """Apply ``params`` to ``body`` in place.

    :param body: An OpenAI request body.
    :param params: Open WebUI ``params`` (anything not a dict is ignored).
    :param override: Whether a parameter replaces a value ``body`` already has (a request's own
        ``params``) or only fills a gap (a workspace model's defaults).
    """
    if not isinstance(params, dict):
        return
    system = params.get("system")
    if isinstance(system, str) and system.strip():
        messages = body.get("messages")
        if isinstance(messages, list):
            if messages and isinstance(messages[0], dict) and messages[0].get("role") == "system":
                if override or not messages[0].get("content"):
                    messages[0] = {**messages[0], "content": system}
                else:
                    messages[0] = {**messages[0], "content": f"{system}\n{messages[0]['content']}"}
            else:
                messages.insert(0, {"role": "system", "content": system})
    for key in OPENAI_PARAMS:
        if params.get(key) is not None and (override or key not in body):
            body[key] = params[key]
