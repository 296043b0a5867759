"""
title: Model Manifold Pipeline
author: colonnade tests
version: 0.1
description: One module, several models: each sub-pipe answers in its own voice.
"""

from typing import Generator, Iterator, List, Union

from pydantic import BaseModel


class Pipeline:
    class Valves(BaseModel):
        GREETING: str = "Hello"

    def __init__(self):
        self.type = "manifold"
        self.name = "Manifold: "
        self.valves = self.Valves()
        self.pipelines = [
            {"id": "loud", "name": "Loud"},
            {"id": "quiet", "name": "Quiet"},
        ]

    def pipe(
        self, user_message: str, model_id: str, messages: List[dict], body: dict
    ) -> Union[str, Generator, Iterator]:
        reply = f"{self.valves.GREETING}, {user_message}"
        reply = reply.upper() if model_id == "loud" else reply.lower()
        if body.get("stream"):
            def pieces():
                for word in reply.split(" "):
                    yield {"choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]}
            return pieces()
        return reply
