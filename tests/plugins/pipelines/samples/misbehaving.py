"""
title: Misbehaving Pipe
description: Does what the user message says: raise, block, loop, crash, print, input, or answer.
"""

import os
import time

from pydantic import BaseModel


class Pipeline:
    class Valves(BaseModel):
        limit: int = 3

    def __init__(self):
        self.name = "Misbehaving"
        self.valves = self.Valves()

    def pipe(self, user_message, model_id, messages, body):
        if user_message == "raise":
            raise RuntimeError("this pipeline raised on purpose")
        if user_message == "block":
            time.sleep(3600)
        if user_message == "loop":
            while True:
                pass
        if user_message == "crash":
            os._exit(3)
        if user_message == "input":
            return input("a pipeline should not read stdin: ")
        if user_message == "print":
            print("this goes to the log, not into the protocol")
            return "printed"
        if user_message == "stall-stream":
            def stalls():
                yield "first "
                time.sleep(3600)
            return stalls()
        return "fine"
