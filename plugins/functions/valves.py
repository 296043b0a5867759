"""Valves: validating them against a function's classes and storing them, encrypted when configured.

Stored form: JSON text, or ``fernet:<token>`` when ``[plugins.functions] valves_key`` is set (Fernet
from the ``cryptography`` package, with a key derived from the configured secret by SHA-256). Reading
an encrypted value without the right key gives ``{}`` (logged), so the defaults in the code apply.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from typing import Any

from colonnade.errors import ApiError, StartupError

log = logging.getLogger("colonnade.functions")

PREFIX = "fernet:"


class ValvesCodec:
    """Encodes valves dicts for storage and decodes them back.

    :param key: The configured ``valves_key``, or ``None`` for plain JSON.
    """

    def __init__(self, key: str | None) -> None:
        self._fernet: Any = None
        if key:
            try:
                from cryptography.fernet import Fernet
            except ImportError:
                raise StartupError(
                    "plugins.functions.valves_key: encrypting valves needs the cryptography package, "
                    "which is not installed"
                ) from None
            derived = base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest())
            self._fernet = Fernet(derived)

    def encode(self, valves: dict[str, Any] | None) -> str | None:
        if valves is None:
            return None
        text = json.dumps(valves, separators=(",", ":"), ensure_ascii=False)
        if self._fernet is None:
            return text
        return PREFIX + self._fernet.encrypt(text.encode()).decode()

    def decode(self, stored: str | None) -> dict[str, Any]:
        if not stored:
            return {}
        text = stored
        if stored.startswith(PREFIX):
            if self._fernet is None:
                log.warning("stored valves are encrypted but no valves_key is configured: using defaults")
                return {}
            from cryptography.fernet import InvalidToken

            try:
                text = self._fernet.decrypt(stored[len(PREFIX) :].encode()).decode()
            except InvalidToken:
                log.warning("stored valves cannot be decrypted with the valves_key: using defaults")
                return {}
        try:
            value = json.loads(text)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


def format_errors(error: Any) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ())) or "valves"
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts)


def validate(valves_class: Any, values: Any) -> dict[str, Any]:
    """The keys of ``values`` the caller set, validated by instantiating the class (400 otherwise).

    ``None`` values are dropped first, as Open WebUI does, so they fall back to the defaults.
    """
    if not isinstance(values, dict):
        raise ApiError(400, "Valves must be a JSON object")
    values = {key: value for key, value in values.items() if value is not None}
    if valves_class is None:
        raise ApiError(400, "This function has no valves")
    from pydantic import ValidationError

    try:
        instance = valves_class(**values)
    except ValidationError as error:
        raise ApiError(400, f"Invalid valves: {format_errors(error)}") from None
    except Exception as error:  # noqa: BLE001 - a valves class is function code
        raise ApiError(400, f"Invalid valves: {type(error).__name__}: {error}") from None
    dumped = instance.model_dump(mode="json") if hasattr(instance, "model_dump") else dict(values)
    return {key: dumped.get(key, values[key]) for key in values if key in dumped}


def build(valves_class: Any, stored: dict[str, Any]) -> Any:
    """An instance of the valves class from stored values; values the class now refuses are dropped
    one by one (logged), so a changed class still gets its defaults."""
    if valves_class is None:
        return None
    from pydantic import ValidationError

    values = dict(stored)
    while True:
        try:
            return valves_class(**values)
        except ValidationError as error:
            bad = {str(item["loc"][0]) for item in error.errors() if item.get("loc")}
            bad &= set(values)
            if not bad:
                return valves_class()
            log.warning("stored valves %s no longer validate; using the defaults for them", sorted(bad))
            for key in bad:
                values.pop(key)


def schema_of(valves_class: Any) -> Any:
    if valves_class is None or not hasattr(valves_class, "model_json_schema"):
        return None
    return valves_class.model_json_schema()
