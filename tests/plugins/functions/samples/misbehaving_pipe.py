"""
title: Misbehaving
version: 0.0.1
"""

import asyncio
import threading

from pydantic import BaseModel

#: Set by the tests to let a blocked or spinning call end once the host gave up on it.
RELEASE = threading.Event()
#: Set when the endless stream was closed.
CLOSED = threading.Event()


class Pipe:
    class Valves(BaseModel):
        pass

    def __init__(self):
        self.valves = self.Valves()

    def pipes(self):
        return [
            {"id": mode, "name": mode}
            for mode in ("raises", "blocks", "spins", "awaits", "breaks_stream", "endless")
        ]

    async def pipe(self, body: dict):
        mode = body["model"].split(".", 1)[1]
        if mode == "raises":
            raise ValueError("the pipe is broken")
        if mode == "blocks":
            RELEASE.wait()  # blocks its thread: sync code in an async function
            return "released"
        if mode == "spins":
            while not RELEASE.is_set():  # a busy loop that never awaits
                pass
            return "released"
        if mode == "awaits":
            while True:  # an endless loop that awaits: cancelled at the deadline
                await asyncio.sleep(0.01)
        if mode == "endless":
            return self.endless()
        return self.broken_stream()

    def endless(self):
        try:
            number = 0
            while True:
                number += 1
                yield f"{number} "
        finally:
            CLOSED.set()

    def broken_stream(self):
        yield "first "
        raise RuntimeError("the stream broke")
