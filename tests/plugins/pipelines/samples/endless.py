"""
title: Endless Pipe
description: Streams numbers for ever; "report" says whether a stream was closed and how far it got.
"""

import itertools
import threading


class Pipeline:
    def __init__(self):
        self.name = "Endless"
        self.closed = threading.Event()
        self.produced = 0

    def pipe(self, user_message, model_id, messages, body):
        if user_message == "report":
            closed = self.closed.wait(timeout=30)
            return f"closed={closed} produced={self.produced}"
        if user_message == "count":
            return str(self.produced)

        def numbers():
            try:
                for number in itertools.count():
                    self.produced = number + 1
                    yield f"{number} "
            finally:
                self.closed.set()

        return numbers()
