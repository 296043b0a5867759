"""The effective configuration as ``colonnade config check`` prints it: complete, redacted, TOML.

"Effective" means what the application would run with: every core key with its default filled in,
the database URL the default resolves to, and each plugin section as its config model validated it
(defaults included). Secret-looking keys and passwords inside URLs are redacted by
:func:`colonnade.settings.redact`.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from colonnade.settings import redact

if TYPE_CHECKING:
    from colonnade.host import Host
    from colonnade.settings import Settings

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def effective_config(settings: Settings, host: Host) -> dict[str, Any]:
    """Core sections, the resolved database URL and the validated plugin sections, redacted."""
    data = settings.model_dump(mode="json")
    data["database"]["url"] = settings.database_url
    plugins: dict[str, Any] = {name: dict(section) for name, section in settings.plugins.items()}
    for name, model in sorted(host._plugin_configs.items()):
        plugins[name] = model.model_dump(mode="json")
    data["plugins"] = dict(sorted(plugins.items()))
    return redact(data)


def to_toml(data: dict[str, Any]) -> str:
    """Render nested dictionaries as TOML tables; ``None`` (unset) becomes a comment."""
    lines: list[str] = []
    _table(lines, [], data)
    return "\n".join(lines).lstrip("\n") + "\n"


def _table(lines: list[str], path: list[str], table: dict[str, Any]) -> None:
    scalars = {key: value for key, value in table.items() if not isinstance(value, dict)}
    tables = {key: value for key, value in table.items() if isinstance(value, dict)}
    if path and (scalars or not tables):
        lines.append("")
        lines.append(f"[{'.'.join(_key(part) for part in path)}]")
    for key, value in scalars.items():
        if value is None:
            lines.append(f"# {_key(key)} is not set")
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in tables.items():
        _table(lines, [*path, key], value)


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value if item is not None) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None)
        return "{ " + items + " }" if items else "{}"
    # JSON's string escapes are a subset of TOML's basic-string escapes.
    return json.dumps(str(value), ensure_ascii=False)
