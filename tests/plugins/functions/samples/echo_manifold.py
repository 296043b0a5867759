"""
title: Echo Manifold
author: colonnade tests
version: 1.0.0
requirements: pydantic, httpx
description: A manifold of two echo models that stream their answer word by word from a generator
"""

from collections.abc import Generator, Iterator

from pydantic import BaseModel, Field


class Pipe:
    class Valves(BaseModel):
        NAME_PREFIX: str = Field(default="Echo/", description="Shown before each model name")
        SUFFIX: str = Field(default="", description="Appended to every answer")

    def __init__(self):
        self.type = "manifold"
        self.valves = self.Valves()
        self.name = self.valves.NAME_PREFIX

    def pipes(self) -> list:
        return [{"id": "shout", "name": "Shout"}, {"id": "whisper", "name": "Whisper"}]

    def pipe(self, body: dict, __user__: dict, __metadata__: dict) -> str | Generator | Iterator:
        variant = body["model"].split(".", 1)[1]
        said = body["messages"][-1]["content"]
        words = (said.upper() if variant == "shout" else said.lower()).split()
        if self.valves.SUFFIX:
            words.append(self.valves.SUFFIX)
        if body.get("stream", False):
            return self.word_by_word(words)
        return " ".join(words)

    def word_by_word(self, words):
        for number, word in enumerate(words):
            yield word if number == 0 else f" {word}"
