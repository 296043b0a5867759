"""
title: Echo Pipe Pipeline
author: colonnade tests
version: 0.1
description: Streams the user's message back word by word, from a generator.
"""

import os
from typing import Generator, Iterator, List, Union

from pydantic import BaseModel


class Pipeline:
    class Valves(BaseModel):
        PREFIX: str = "echo:"
        # When set, on_startup and on_shutdown append a line to this file.
        LIFECYCLE_LOG: str = ""

    def __init__(self):
        self.name = "Echo Pipe"
        self.valves = self.Valves()
        self.started = False

    def _log(self, what: str) -> None:
        if self.valves.LIFECYCLE_LOG:
            with open(self.valves.LIFECYCLE_LOG, "a") as log:
                log.write(f"{what} {os.getpid()}\n")

    async def on_startup(self):
        self.started = True
        self._log("startup")

    async def on_shutdown(self):
        self._log("shutdown")

    async def on_valves_updated(self):
        self._log("valves " + self.valves.PREFIX)

    def pipe(
        self, user_message: str, model_id: str, messages: List[dict], body: dict
    ) -> Union[str, Generator, Iterator]:
        if not self.started:
            return "on_startup did not run"
        words = [self.valves.PREFIX, *user_message.split()]
        if body.get("stream"):
            return (word + " " for word in words)
        return " ".join(words)
