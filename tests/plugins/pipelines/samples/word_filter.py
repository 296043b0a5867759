"""
title: Word Filter Pipeline
author: colonnade tests
version: 0.1
description: Replaces banned words in what users send, refuses a forbidden topic, and signs replies.
"""

from typing import List, Optional

from pydantic import BaseModel


class Pipeline:
    class Valves(BaseModel):
        # Models this filter runs around ("*": every model).
        pipelines: List[str] = []
        # Filters run in ascending priority.
        priority: int = 0
        banned: List[str] = ["darn"]
        forbidden_topic: str = "secret plans"
        signature: str = " -- filtered"

    def __init__(self):
        self.type = "filter"
        self.name = "Word Filter"
        self.valves = self.Valves(**{"pipelines": ["echo_pipe"]})

    async def on_startup(self):
        print(f"on_startup: {__name__}")

    async def on_shutdown(self):
        print(f"on_shutdown: {__name__}")

    async def inlet(self, body: dict, user: Optional[dict] = None) -> dict:
        messages = body.get("messages", [])
        for message in messages:
            if message.get("role") != "user" or not isinstance(message.get("content"), str):
                continue
            if self.valves.forbidden_topic in message["content"].lower():
                raise Exception(f"I cannot talk about {self.valves.forbidden_topic}")
            for word in self.valves.banned:
                message["content"] = message["content"].replace(word, "*" * len(word))
        body.setdefault("metadata_from_filter", (user or {}).get("role"))
        return body

    async def outlet(self, body: dict, user: Optional[dict] = None) -> dict:
        for message in body.get("messages", []):
            if message.get("role") == "assistant":
                message["content"] = message["content"] + self.valves.signature
        return body
