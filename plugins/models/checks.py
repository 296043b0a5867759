"""Every problem with a workspace model body, found in one pass.

Shape errors come from pydantic, which already reports every field at once; the checks here add what a
schema cannot know (the id is taken, the base model or a group does not exist, the caller may not share
publicly). ``POST /api/models/validate`` returns them all; create and update refuse a body with any, and
list them all in ``errors``, so a client fixes everything in one round trip.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from colonnade.auth.models import Group, User
from colonnade.errors import ApiError
from colonnade.plugins.models.access import (
    EVERYONE,
    GrantKey,
    grants_from_access_control,
    grants_from_list,
    requested_grants,
)
from colonnade.plugins.models.base_models import Catalogue
from colonnade.plugins.models.models import WorkspaceModel

if TYPE_CHECKING:
    from colonnade.plugins.models.access import Viewer

#: Ids the spec paths use for other routes (``/api/models/search``, ``/api/models/validate``).
RESERVED_IDS = frozenset({"search", "validate"})

MODEL_ID_TAKEN = "Uh-oh! This model id is already registered. Please choose another model id string."


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a body: where (``loc``), what (``msg``) and a stable ``type`` to branch on."""

    loc: tuple[str | int, ...]
    msg: str
    type: str

    def json(self) -> dict[str, Any]:
        return {"loc": list(self.loc), "msg": self.msg, "type": self.type}


#: Problem types that are not the body's shape: they answer 409 and 403 rather than 422.
TAKEN = "id_taken"
FORBIDDEN = "forbidden"


def shape_problems(form: type[BaseModel], body: Any) -> tuple[BaseModel | None, list[Problem]]:
    """Validate ``body`` against ``form``: the parsed form, or ``None`` and every field error."""
    try:
        return form.model_validate(body), []
    except ValidationError as error:
        problems = [
            Problem(tuple(item["loc"]), item["msg"], item["type"])
            for item in error.errors(include_url=False, include_input=False)
        ]
        return None, problems


def usable_values(body: Any, problems: list[Problem]) -> tuple[dict[str, Any], set[str]]:
    """The top-level fields of a raw body that passed the shape check, to check them further."""
    if not isinstance(body, dict):
        return {}, set()
    broken = {problem.loc[0] for problem in problems if problem.loc}
    values = {key: value for key, value in body.items() if key not in broken}
    return values, set(values)


async def semantic_problems(
    viewer: Viewer,
    values: dict[str, Any],
    fields_set: set[str],
    *,
    existing: WorkspaceModel | None,
    catalogue: Catalogue | None,
    may_share_publicly: Callable[[], Awaitable[bool]],
) -> list[Problem]:
    """What the schema cannot see. ``existing`` is the model being updated (``None`` when creating);
    ``catalogue`` enables the base-model existence check (validate only); ``may_share_publicly`` is
    asked only when the body makes the model public."""
    problems: list[Problem] = []
    creating = existing is None
    model_id = existing.id if existing is not None else values.get("id")

    if creating and isinstance(model_id, str):
        if model_id in RESERVED_IDS:
            problems.append(
                Problem(("id",), f"{model_id!r} is reserved by the API; choose another id", "id_reserved")
            )
        elif await WorkspaceModel.exists(id=model_id):
            problems.append(Problem(("id",), MODEL_ID_TAKEN, TAKEN))
        elif catalogue is not None and model_id in catalogue.provider_ids and values.get("base_model_id"):
            problems.append(Problem(("id",), f"{MODEL_ID_TAKEN} (a base model has this id)", TAKEN))
    if not creating and "id" in fields_set and values.get("id") not in (None, model_id):
        problems.append(
            Problem(("id",), "The id of a model cannot be changed; duplicate it instead", "id_immutable")
        )

    if "base_model_id" in fields_set or creating:
        problems += await _base_model_problems(viewer, model_id, values.get("base_model_id"), catalogue)

    if _conflicting_access(values, fields_set):
        msg = "access_control and access_grants disagree; send one of them (or both saying the same)"
        problems.append(Problem(("access_grants",), msg, "value_error"))
    grants = requested_grants(values, fields_set, creating=creating)
    if grants:
        problems += await _principal_problems(grants, values, fields_set)
        public = any(kind == "user" and pid == EVERYONE for kind, pid, _ in grants)
        if public and not await may_share_publicly():
            where = "access_grants" if "access_grants" in fields_set else "access_control"
            problems.append(
                Problem(
                    (where,), "You are not allowed to make a model public (sharing.public_models)", FORBIDDEN
                )
            )
    return problems


def _conflicting_access(values: dict[str, Any], fields_set: set[str]) -> bool:
    """Both shapes given and saying different things. Clients that send back the object they read
    carry both, in agreement, which is fine."""
    if not {"access_grants", "access_control"} <= fields_set or values.get("access_grants") is None:
        return False
    return grants_from_list(values["access_grants"]) != grants_from_access_control(
        values.get("access_control")
    )


async def _base_model_problems(
    viewer: Viewer, model_id: Any, base_model_id: Any, catalogue: Catalogue | None
) -> list[Problem]:
    if base_model_id is None:
        # A row without a base model decorates the provider model of the same id: admins only.
        if not viewer.is_admin:
            return [Problem(("base_model_id",), "base_model_id is required", "missing")]
        if (
            catalogue is not None
            and catalogue.source == "providers"
            and catalogue.complete
            and isinstance(model_id, str)
            and model_id not in catalogue.provider_ids
        ):
            msg = f"No LLM provider has a model {model_id!r} for this row to decorate; set base_model_id"
            return [Problem(("base_model_id",), msg, "unknown_base_model")]
        return []
    if not isinstance(base_model_id, str):
        return []
    if base_model_id == model_id:
        return [Problem(("base_model_id",), "A model cannot be its own base model", "self_reference")]
    if catalogue is None or base_model_id in catalogue.provider_ids:
        return []
    # Without providers (or as well as them) a readable workspace model may serve as the base.
    readable = viewer.readable()
    query = WorkspaceModel.filter(id=base_model_id)
    if readable is not None:
        query = query.filter(readable)
    if await query.exists():
        return []
    if catalogue.source == "providers" and not catalogue.complete:
        catalogue.warnings.append(
            f"base_model_id {base_model_id!r} could not be confirmed: a provider did not answer."
        )
        return []
    where = (
        "any LLM provider's models"
        if catalogue.source == "providers"
        else "the workspace models you can read"
    )
    return [
        Problem(
            ("base_model_id",),
            f"Base model {base_model_id!r} was not found among {where}",
            "unknown_base_model",
        )
    ]


async def _principal_problems(
    grants: set[GrantKey], values: dict[str, Any], fields_set: set[str]
) -> list[Problem]:
    """Grants naming users or groups that do not exist: a typo would silently share with no one."""
    user_ids = {pid for kind, pid, _ in grants if kind == "user" and pid != EVERYONE}
    group_ids = {pid for kind, pid, _ in grants if kind == "group"}
    known_users = set(await User.filter(id__in=user_ids).values_list("id", flat=True)) if user_ids else set()
    known_groups = (
        set(await Group.filter(id__in=group_ids).values_list("id", flat=True)) if group_ids else set()
    )
    where = (
        "access_grants"
        if "access_grants" in fields_set and values.get("access_grants") is not None
        else "access_control"
    )
    problems = []
    for missing in sorted(user_ids - known_users):
        problems.append(Problem((where,), f"Unknown user id {missing!r}", "unknown_user"))
    for missing in sorted(group_ids - known_groups):
        problems.append(Problem((where,), f"Unknown group id {missing!r}", "unknown_group"))
    return problems


def raise_for(problems: list[Problem]) -> None:
    """Refuse a write with every problem listed: 403 if sharing is refused, 409 if the id is taken,
    else 422 (the status of a body that fails its schema)."""
    if not problems:
        return
    types = {problem.type for problem in problems}
    status = 403 if FORBIDDEN in types else 409 if TAKEN in types else 422
    first = problems[0]
    detail = first.msg if len(problems) == 1 else f"{first.msg} (and {len(problems) - 1} more problems)"
    raise ApiError(status, detail, extra={"errors": [problem.json() for problem in problems]})
