"""The baseline: a bare Quart app answering ``/health`` as colonnade does, served the way ``colonnade serve``
serves (hypercorn's asyncio ``serve`` in one process, no access log, on uvloop when it is installed, as
``server.event_loop = "auto"`` does).

Usage: ``python bench/bare_quart.py PORT``. Stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart

app = Quart("bare")


@app.get("/health")
async def health() -> dict[str, bool]:
    return {"status": True}


async def main(port: int) -> None:
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await serve(app, config, shutdown_trigger=stop.wait)


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:
        asyncio.run(main(int(sys.argv[1])))
    else:
        uvloop.run(main(int(sys.argv[1])))
