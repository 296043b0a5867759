"""Workspace model operations shared by the spec routes (``/api/models``) and Open WebUI's
(``/api/v1/models``): look-up with access checks, create, update, duplicate, delete, search, render.

Views only parse requests and pick response shapes; every rule lives here once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q, Subquery
from tortoise.transactions import in_transaction

from colonnade.errors import ApiError, describe_validation_error
from colonnade.plugins.models import checks
from colonnade.plugins.models.access import (
    Viewer,
    access_control_of,
    grant_json,
    grants_by_model,
    keys_of,
    replace_grants,
    requested_grants,
)
from colonnade.plugins.models.events import ModelCreated, ModelDeleted, ModelUpdated
from colonnade.plugins.models.models import ModelGrant, ModelTag, WorkspaceModel, now
from colonnade.plugins.models.schemas import ModelForm, ModelUpdateForm, SearchQuery, dump_meta, dump_params

if TYPE_CHECKING:
    from colonnade.host import Host

NOT_FOUND = "We could not find what you're looking for :/"
NO_WRITE = "You can read this model but not change it"


def owner_json(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    return {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "role": user.role,
        "profile_image_url": user.profile_image_url or f"/api/v1/users/{user.id}/profile/image",
    }


def model_json(model: WorkspaceModel, grants: list[ModelGrant], write_access: bool) -> dict[str, Any]:
    """A model in Open WebUI's ``ModelModel`` shape plus ``access_control``, ``write_access`` and
    ``user``. Read-only callers get ``params: {}``: the system prompt is the owner's work, and the
    completions plugin applies it server-side without showing it (as Open WebUI does)."""
    # ``select_related("user")`` caches the owner at ``_user``; reading ``model.user`` without it
    # would give an unawaited query instead of a user.
    owner = getattr(model, "_user", None)
    return {
        "id": model.id,
        "user_id": model.user_id,  # type: ignore[attr-defined]
        "base_model_id": model.base_model_id,
        "name": model.name,
        "params": model.params if write_access else {},
        "meta": model.meta,
        "access_control": access_control_of(keys_of(grants)),
        "access_grants": [grant_json(model.id, grant) for grant in grants],
        "is_active": model.is_active,
        "created_at": model.created_at,
        "updated_at": model.updated_at,
        "write_access": write_access,
        "user": owner_json(owner),
    }


def tag_names(meta: dict[str, Any]) -> set[str]:
    names = set()
    for tag in meta.get("tags") or ():
        name = tag.get("name") if isinstance(tag, dict) else tag
        if isinstance(name, str) and name.strip():
            names.add(name.strip().lower()[:255])
    return names


async def replace_tags(model: WorkspaceModel) -> None:
    await ModelTag.filter(model_id=model.id).delete()
    names = tag_names(model.meta or {})
    if names:
        await ModelTag.bulk_create([ModelTag(model_id=model.id, name=name) for name in sorted(names)])


class ModelService:
    """The rules of workspace models for one application."""

    def __init__(self, host: Host) -> None:
        self.host = host

    @property
    def config(self) -> Any:
        return self.host.plugin_config("models")

    async def may_share_publicly(self, viewer: Viewer) -> bool:
        return await self.host.check_permission(viewer.actor, "models.share_public")

    # -- reading ---------------------------------------------------------------------------------

    async def readable(self, viewer: Viewer, model_id: str) -> tuple[WorkspaceModel, list[ModelGrant], bool]:
        """The model, its grants and whether the caller may write it; 404 unless they may read it."""
        model = await WorkspaceModel.get_or_none(id=model_id).select_related("user")
        if model is None:
            raise ApiError(404, NOT_FOUND)
        grants = list(await ModelGrant.filter(model_id=model.id).order_by("id"))
        keys = keys_of(grants)
        if not viewer.can_read(model, keys):
            raise ApiError(404, NOT_FOUND)
        return model, grants, viewer.can_write(model, keys)

    async def writable(self, viewer: Viewer, model_id: str) -> tuple[WorkspaceModel, list[ModelGrant]]:
        """The model and its grants; 404 unless readable, 403 when readable but not writable."""
        model, grants, write = await self.readable(viewer, model_id)
        if not write:
            raise ApiError(403, NO_WRITE)
        return model, grants

    async def render(self, viewer: Viewer, model_id: str) -> dict[str, Any]:
        model, grants, write = await self.readable(viewer, model_id)
        return model_json(model, grants, write)

    async def search(
        self, viewer: Viewer, query: SearchQuery, *, presets_only: bool = False
    ) -> dict[str, Any]:
        """``{"items": [...], "total": n}``: readable models matching every filter given."""
        models = WorkspaceModel.all()
        readable = viewer.readable()
        if readable is not None:
            models = models.filter(readable)
        if presets_only:
            models = models.filter(base_model_id__isnull=False)
        if query.query:
            text = query.query
            models = models.filter(
                Q(name__icontains=text)
                | Q(id__icontains=text)
                | Q(base_model_id__icontains=text)
                | Q(user__name__icontains=text)
                | Q(user__email__icontains=text)
            )
        if query.id:
            models = models.filter(id__icontains=query.id)
        if query.name:
            models = models.filter(name__icontains=query.name)
        if query.tag:
            tagged = Subquery(ModelTag.filter(name=query.tag.strip().lower()).values("model_id"))
            models = models.filter(id__in=tagged)
        if query.view_option == "created":
            models = models.filter(user_id=viewer.actor.id)
        elif query.view_option == "shared":
            models = models.exclude(user_id=viewer.actor.id)
        total = await models.count()
        order = ("-" if query.direction == "desc" else "") + query.order_by
        page = await (
            models.select_related("user")
            .order_by(order, "id")
            .offset((query.page - 1) * query.limit)
            .limit(query.limit)
        )
        grants = await grants_by_model([model.id for model in page])
        items = []
        for model in page:
            write = viewer.can_write(model, keys_of(grants[model.id]))
            items.append(model_json(model, grants[model.id], write))
        return {"items": items, "total": total}

    async def tags(self, viewer: Viewer) -> list[str]:
        """Distinct tags (lower-cased) of the models the caller can read."""
        models = WorkspaceModel.all()
        readable = viewer.readable()
        if readable is not None:
            models = models.filter(readable)
        ids = Subquery(models.values("id"))
        names = (
            await ModelTag.filter(model_id__in=ids).distinct().order_by("name").values_list("name", flat=True)
        )
        return list(names)

    # -- writing ---------------------------------------------------------------------------------

    async def create(self, viewer: Viewer, form: ModelForm) -> dict[str, Any]:
        """Store a new model owned by the caller, with its grants and tags, in one transaction."""
        fields_set, values = set(form.model_fields_set), form.model_dump()
        problems = await checks.semantic_problems(
            viewer,
            values,
            fields_set,
            existing=None,
            catalogue=None,
            may_share_publicly=lambda: self.may_share_publicly(viewer),
        )
        checks.raise_for(problems)
        grants = requested_grants(values, fields_set, creating=True) or set()
        current = now()
        try:
            async with in_transaction():
                model = await WorkspaceModel.create(
                    id=form.id,
                    user_id=viewer.actor.id,
                    base_model_id=form.base_model_id,
                    name=form.name,
                    params=dump_params(form.params),
                    meta=dump_meta(form.meta),
                    is_active=form.is_active,
                    created_at=current,
                    updated_at=current,
                )
                await replace_grants(model, grants)
                await replace_tags(model)
        except IntegrityError:
            # Two creates of one id raced past the existence check.
            raise ApiError(
                409,
                checks.MODEL_ID_TAKEN,
                extra={"errors": [{"loc": ["id"], "msg": checks.MODEL_ID_TAKEN, "type": checks.TAKEN}]},
            ) from None
        await self.host.emit(ModelCreated(actor=viewer.actor, model_id=model.id))
        return await self.render(viewer, model.id)

    async def update(self, viewer: Viewer, model_id: str, form: ModelUpdateForm) -> dict[str, Any]:
        model, _ = await self.writable(viewer, model_id)
        fields_set = set(form.model_fields_set)
        values = form.model_dump()
        # An explicit ``"base_model_id": null`` asks to decorate the provider model of the same id.
        problems = await checks.semantic_problems(
            viewer,
            values,
            fields_set,
            existing=model,
            catalogue=None,
            may_share_publicly=lambda: self.may_share_publicly(viewer),
        )
        for key in ("name", "params", "meta", "is_active"):
            if key in fields_set and values.get(key) is None:
                problems.append(checks.Problem((key,), f"{key} cannot be null", "value_error"))
        checks.raise_for(problems)
        changes: dict[str, Any] = {}
        if "base_model_id" in fields_set:
            changes["base_model_id"] = form.base_model_id
        if "name" in fields_set:
            changes["name"] = form.name
        if "params" in fields_set:
            changes["params"] = dump_params(form.params)
        if "meta" in fields_set:
            changes["meta"] = dump_meta(form.meta)
        if "is_active" in fields_set:
            changes["is_active"] = form.is_active
        grants = requested_grants(values, fields_set, creating=False)
        await self._save(viewer, model, changes, grants)
        return await self.render(viewer, model.id)

    async def _save(
        self, viewer: Viewer, model: WorkspaceModel, changes: dict[str, Any], grants: set | None
    ) -> None:
        for key, value in changes.items():
            setattr(model, key, value)
        model.updated_at = now()
        async with in_transaction():
            await model.save(update_fields=[*changes, "updated_at"])
            if grants is not None:
                await replace_grants(model, grants)
            if "meta" in changes:
                await replace_tags(model)
        fields = tuple(changes) + (("access",) if grants is not None else ())
        await self.host.emit(ModelUpdated(actor=viewer.actor, model_id=model.id, fields=fields))

    async def set_access(
        self, viewer: Viewer, model_id: str, values: dict[str, Any], fields_set: set[str]
    ) -> dict[str, Any]:
        """Replace who may read and write (Open WebUI's ``/model/access/update``)."""
        model, _ = await self.writable(viewer, model_id)
        problems = await checks.semantic_problems(
            viewer,
            values,
            fields_set - {"id", "base_model_id"},
            existing=model,
            catalogue=None,
            may_share_publicly=lambda: self.may_share_publicly(viewer),
        )
        checks.raise_for(problems)
        grants = requested_grants(values, fields_set, creating=False)
        changes = {"name": values["name"]} if values.get("name") else {}
        await self._save(viewer, model, changes, grants)
        return await self.render(viewer, model.id)

    async def toggle(self, viewer: Viewer, model_id: str) -> dict[str, Any]:
        model, _ = await self.writable(viewer, model_id)
        await self._save(viewer, model, {"is_active": not model.is_active}, None)
        return await self.render(viewer, model.id)

    async def delete(self, viewer: Viewer, model_id: str) -> None:
        model, _ = await self.writable(viewer, model_id)
        await model.delete()
        await self.host.emit(ModelDeleted(actor=viewer.actor, model_id=model_id))

    async def delete_all(self, viewer: Viewer) -> None:
        await WorkspaceModel.all().delete()
        await self.host.emit(ModelDeleted(actor=viewer.actor, model_id="*"))

    async def duplicate(
        self, viewer: Viewer, model_id: str, new_id: str | None, new_name: str | None
    ) -> dict[str, Any]:
        """A private copy owned by the caller. It holds what the caller can read: a read-only caller's
        copy has empty ``params``, so copying never reveals a system prompt."""
        model, _, write = await self.readable(viewer, model_id)
        try:
            form = ModelForm(
                id=new_id or await self._free_copy_id(model.id),
                base_model_id=model.base_model_id,
                name=new_name or f"{model.name} (Copy)"[:255],
                params=model.params if write else {},
                meta=model.meta,
                is_active=model.is_active,
            )
        except ValidationError as error:
            # Rows written before a schema tightened may not pass it any more: say so, never a 500.
            detail, errors = describe_validation_error(error)
            raise ApiError(
                422, f"This model cannot be copied as it is. {detail}", extra={"errors": errors}
            ) from None
        return await self.create(viewer, form)

    async def _free_copy_id(self, model_id: str) -> str:
        stem = f"{model_id[:240]}-copy"
        taken = set(await WorkspaceModel.filter(id__startswith=stem).values_list("id", flat=True))
        if stem not in taken:
            return stem
        number = 2
        while f"{stem}-{number}" in taken:
            number += 1
        return f"{stem}-{number}"
