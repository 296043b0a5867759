"""
title: Polite Filter
author: colonnade tests
author_url: https://example.test/polite
version: 0.2.1
description: Adds a system prompt on the way in, masks a word in streamed text, signs answers on the way out
"""

from pydantic import BaseModel, Field


class Filter:
    class Valves(BaseModel):
        priority: int = Field(default=0, description="Filters run in ascending priority")
        prefix: str = Field(default="Be polite.", description="System prompt added to every request")
        max_messages: int = Field(default=10, ge=1, description="Longer conversations are refused")

    class UserValves(BaseModel):
        signature: str = Field(default="", description="Appended to every answer")

    def __init__(self):
        self.valves = self.Valves()

    def inlet(self, body: dict, __user__: dict | None = None, __metadata__: dict | None = None) -> dict:
        messages = body.get("messages", [])
        if len(messages) > self.valves.max_messages:
            raise Exception(f"Conversation too long: at most {self.valves.max_messages} messages")
        name = (__user__ or {}).get("name", "someone")
        chat = (__metadata__ or {}).get("chat_id") or "no chat"
        system = {"role": "system", "content": f"{self.valves.prefix} You talk to {name} in {chat}."}
        body["messages"] = [system, *messages]
        return body

    def stream(self, event: dict) -> dict:
        for choice in event.get("choices", []):
            delta = choice.get("delta") or {}
            if delta.get("content"):
                delta["content"] = delta["content"].replace("darn", "d*rn")
        return event

    async def outlet(self, body: dict, __user__: dict | None = None) -> dict:
        answer = body["messages"][-1]
        signature = ""
        if __user__ and "valves" in __user__:
            signature = __user__["valves"].signature
        answer["content"] = answer["content"].replace("darn", "d*rn") + " [checked]"
        if signature:
            answer["content"] += f" {signature}"
        return body
