"""
title: Chat Watcher
version: 0.1.0
description: Remembers the events it sees (an Event function)
"""

import threading

from pydantic import BaseModel

#: What the function saw, and a flag the tests wait on.
SEEN = []
GOT_ONE = threading.Event()


class Event:
    class Valves(BaseModel):
        watch: str = "chats."

    def __init__(self):
        self.valves = self.Valves()

    async def event(self, event: dict, __event__: str = "", __id__: str = ""):
        if event["name"].startswith(self.valves.watch):
            SEEN.append((__id__, __event__, event["data"].get("chat_id"), (event["user"] or {}).get("role")))
            GOT_ONE.set()
