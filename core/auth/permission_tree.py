"""Open WebUI's permission tree, returned with every session so its frontend can show or hide features.

Effective permissions are the defaults merged with every group of the user: a permission is granted when
any source grants it. Admins get every permission.
"""

from __future__ import annotations

import copy
from typing import Any

DEFAULT_PERMISSIONS: dict[str, dict[str, bool]] = {
    "workspace": {"models": False, "knowledge": False, "prompts": False, "tools": False},
    "sharing": {
        "public_models": False,
        "public_knowledge": False,
        "public_prompts": False,
        "public_tools": False,
    },
    "chat": {
        "controls": True,
        "valves": True,
        "system_prompt": True,
        "params": True,
        "file_upload": True,
        "delete": True,
        "delete_message": True,
        "continue_response": True,
        "regenerate_response": True,
        "rate_response": True,
        "edit": True,
        "share": True,
        "export": True,
        "stt": True,
        "tts": True,
        "call": True,
        "multiple_models": True,
        "temporary": True,
        "temporary_enforced": False,
    },
    "features": {
        "api_keys": True,
        "notes": True,
        "folders": True,
        "web_search": True,
        "image_generation": True,
        "code_interpreter": True,
        "memories": True,
    },
}


#: Keys that restrict rather than grant: an admin, who may do everything, is never restricted by them.
RESTRICTIONS = {("chat", "temporary_enforced")}


def effective_permissions(role: str, group_permissions: list[dict[str, Any] | None]) -> dict[str, Any]:
    """The permission tree of a user with ``role`` in groups granting ``group_permissions``."""
    tree = copy.deepcopy(DEFAULT_PERMISSIONS)
    for section, keys in tree.items():
        for key in keys:
            if role == "admin":
                keys[key] = (section, key) not in RESTRICTIONS
                continue
            for granted in group_permissions:
                if (granted or {}).get(section, {}).get(key) is True:
                    keys[key] = True
    return tree
