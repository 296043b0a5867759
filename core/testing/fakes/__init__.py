"""Fake upstream services that speak the real wire protocols, for tests on loopback.

``FAKES`` maps a name to a factory returning a Quart application; ``fake_upstream("<name>")`` serves it.
Each fake is a small module here (``openai``, ``ollama``, ...) added by the plugin that talks to the
service; a fake records nothing itself, the fixture records every request it receives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from colonnade.testing.fakes import ollama, openai, pipelines, youtube

#: name -> factory of the fake's Quart application.
FAKES: dict[str, Callable[[], Any]] = {
    "ollama": ollama.create_app,
    "openai": openai.create_app,
    "pipelines": pipelines.create_app,
    "youtube": youtube.create_app,
}
