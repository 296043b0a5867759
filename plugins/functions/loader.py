"""Turning stored source into a live function: frontmatter, compile, exec into a module, find the class.

Open WebUI's format: a module defining ``Pipe``, ``Filter``, ``Action`` or ``Event`` (looked up in that
order), optionally ``Valves`` and ``UserValves`` pydantic classes inside it, and a leading docstring
whose ``key: value`` lines are the frontmatter (``title``, ``author``, ``version``, ``requirements``...).
Each load gets a fresh ``types.ModuleType``; the source is compiled under the file name
``<function ID>`` so tracebacks and syntax errors name the function and the line.

Nothing here installs packages: a ``requirements`` entry that is not installed fails the load with
every missing name listed. Executing the module runs its top-level code; callers do that off the event
loop with a timeout (:mod:`colonnade.plugins.functions.running`).
"""

from __future__ import annotations

import importlib.metadata
import re
import traceback
import types
from dataclasses import dataclass, field
from typing import Any

#: The classes a function module may define, in the order they are looked for.
KINDS = (("Pipe", "pipe"), ("Filter", "filter"), ("Action", "action"), ("Event", "event"))

_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class LoadError(Exception):
    """The source cannot become a function; ``detail`` names the line when one is at fault."""

    def __init__(self, detail: str, line: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.line = line


def filename_of(function_id: str) -> str:
    return f"<function {function_id}>"


def parse_frontmatter(source: str) -> dict[str, str]:
    """The ``key: value`` lines of the leading triple-quoted docstring (``{}`` without one)."""
    match = re.match(r'\s*(?:"""|\'\'\')(.*?)(?:"""|\'\'\')', source, re.DOTALL)
    if match is None:
        return {}
    manifest = {}
    for line in match.group(1).splitlines():
        key, colon, value = line.partition(":")
        if colon and key.strip() and re.fullmatch(r"[\w -]+", key.strip()):
            manifest[key.strip().lower()] = value.strip()
    return manifest


def requirement_names(manifest: dict[str, str]) -> list[str]:
    """The distribution names in ``requirements`` (versions and extras dropped)."""
    names = []
    for part in (manifest.get("requirements") or "").split(","):
        found = _REQUIREMENT_NAME.match(part)
        if found:
            names.append(found.group(1))
    return names


def missing_requirements(manifest: dict[str, str]) -> list[str]:
    missing = []
    for name in requirement_names(manifest):
        try:
            importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
    return missing


def compile_source(function_id: str, source: str) -> types.CodeType:
    """Compile, turning a ``SyntaxError`` into a :class:`LoadError` naming its line."""
    try:
        return compile(source, filename_of(function_id), "exec", dont_inherit=True)
    except SyntaxError as error:
        where = f"line {error.lineno}" if error.lineno else "the source"
        raise LoadError(f"Syntax error on {where}: {error.msg}", error.lineno) from None
    except ValueError as error:  # null bytes
        raise LoadError(f"The source cannot be compiled: {error}") from None


def error_line(function_id: str, error: BaseException) -> int | None:
    """The deepest line of the function's own source in ``error``'s traceback."""
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == filename_of(function_id):
            line = frame.lineno
    return line


def describe_error(function_id: str, error: BaseException) -> str:
    """``"ValueError on line 12: text"``: what an admin needs to find the fault."""
    line = error_line(function_id, error)
    where = f" on line {line}" if line else ""
    text = str(error)
    return f"{type(error).__name__}{where}: {text}" if text else f"{type(error).__name__}{where}"


@dataclass
class Loaded:
    """A function's module, its class and the instance calls go to."""

    function_id: str
    kind: str
    module: types.ModuleType
    instance: Any
    manifest: dict[str, str] = field(default_factory=dict)

    @property
    def valves_class(self) -> Any:
        return getattr(self.module, "Valves", None) or getattr(type(self.instance), "Valves", None)

    @property
    def user_valves_class(self) -> Any:
        return getattr(self.module, "UserValves", None) or getattr(type(self.instance), "UserValves", None)


def check_source(function_id: str, source: str) -> tuple[types.CodeType, dict[str, str]]:
    """Everything that can be checked without running the code: syntax and requirements. (Whether
    the module defines a class is known once it ran: it may import one.)"""
    code = compile_source(function_id, source)
    manifest = parse_frontmatter(source)
    missing = missing_requirements(manifest)
    if missing:
        raise LoadError(
            "Missing requirements (not installed, and never installed at run time; ask the operator to "
            f"install them): {', '.join(missing)}"
        )
    return code, manifest


def execute(function_id: str, source: str) -> Loaded:
    """Compile and run the module, then instantiate its class. Blocking: call it off the event loop."""
    code, manifest = check_source(function_id, source)
    module = types.ModuleType(f"colonnade_function_{function_id}")
    module.__file__ = filename_of(function_id)
    module.__dict__["__builtins__"] = __builtins__
    try:
        exec(code, module.__dict__)  # noqa: S102 - admins' function code runs in-process by design
        for class_name, kind in KINDS:
            cls = module.__dict__.get(class_name)
            if isinstance(cls, type):
                instance = cls()
                return Loaded(function_id, kind, module, instance, manifest)
    except Exception as error:  # noqa: BLE001 - whatever the module raises is reported, never raised on
        raise LoadError(
            f"The function failed to load: {describe_error(function_id, error)}",
            error_line(function_id, error),
        ) from None
    raise LoadError("No Function class found in the module: define a Pipe, Filter, Action or Event class")
