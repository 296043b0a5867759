"""
title: Async Story
version: 0.1
"""

import asyncio

from pydantic import BaseModel


class Pipe:
    class Valves(BaseModel):
        WORDS: int = 3

    def __init__(self):
        self.valves = self.Valves()

    async def pipe(self, body: dict, __event_emitter__=None):
        await __event_emitter__({"type": "status", "data": {"description": "writing", "done": False}})

        async def story():
            for number in range(self.valves.WORDS):
                await asyncio.sleep(0)
                yield f"word{number} "

        return story()
