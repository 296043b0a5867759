"""
title: Word Count
author: colonnade tests
version: 0.1.0
description: Counts the words of the last message and reports progress through the event emitter
"""

from pydantic import BaseModel


class Action:
    class Valves(BaseModel):
        priority: int = 0

    def __init__(self):
        self.valves = self.Valves()

    async def action(
        self,
        body: dict,
        __user__: dict | None = None,
        __event_emitter__=None,
        __event_call__=None,
        __model__: dict | None = None,
        __id__: str | None = None,
    ) -> dict | None:
        await __event_emitter__({"type": "status", "data": {"description": "Counting words", "done": False}})
        last = body["messages"][-1]["content"]
        count = len(last.split())
        answer = await __event_call__({"type": "confirmation", "data": {"title": "Count?", "message": last}})
        await __event_emitter__({"type": "message", "data": {"content": f"\n\n{count} words"}})
        await __event_emitter__({"type": "status", "data": {"description": "Done", "done": True}})
        return {
            "words": count,
            "user": __user__["name"],
            "model": (__model__ or {}).get("id"),
            "id": __id__,
            "confirmed": answer,
        }
