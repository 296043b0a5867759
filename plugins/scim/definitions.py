"""What the plugin implements, as SCIM schema definitions (RFC 7643 section 7).

The same objects drive the discovery documents (``/Schemas``, ``/ResourceTypes``), the parsing and
coercion of request bodies, PATCH paths and filters: an attribute that is not described here is not
stored, not filterable and not patchable. Attribute names are matched case-insensitively.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
SERVICE_PROVIDER_CONFIG = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"


@dataclass(frozen=True)
class ScimAttribute:
    """One attribute of a schema (or a sub-attribute of a complex one).

    :param name: The attribute name as SCIM spells it (``userName``).
    :param type: ``string``, ``boolean``, ``decimal``, ``integer``, ``dateTime``, ``reference`` or
        ``complex``.
    :param multi_valued: Whether the value is a list.
    :param sub_attributes: The sub-attributes of a complex attribute.
    """

    name: str
    type: str = "string"
    multi_valued: bool = False
    description: str = ""
    required: bool = False
    case_exact: bool = False
    mutability: str = "readWrite"
    returned: str = "default"
    uniqueness: str = "none"
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    sub_attributes: tuple[ScimAttribute, ...] = ()

    def sub(self, name: str) -> ScimAttribute | None:
        """The sub-attribute called ``name`` (any case), or ``None``."""
        lowered = name.lower()
        return next((item for item in self.sub_attributes if item.name.lower() == lowered), None)

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability,
            "returned": self.returned,
            "uniqueness": self.uniqueness,
        }
        if self.canonical_values:
            doc["canonicalValues"] = list(self.canonical_values)
        if self.reference_types:
            doc["referenceTypes"] = list(self.reference_types)
        if self.sub_attributes:
            doc["subAttributes"] = [item.document() for item in self.sub_attributes]
        return doc


@dataclass(frozen=True)
class ScimSchema:
    """A schema: its URN, name and attributes."""

    id: str
    name: str
    description: str
    attributes: tuple[ScimAttribute, ...]

    def attribute(self, name: str) -> ScimAttribute | None:
        lowered = name.lower()
        return next((item for item in self.attributes if item.name.lower() == lowered), None)

    def document(self, base_url: str) -> dict[str, Any]:
        return {
            "schemas": [SCHEMA],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": [item.document() for item in self.attributes],
            "meta": {"resourceType": "Schema", "location": f"{base_url}/Schemas/{self.id}"},
        }


@dataclass(frozen=True)
class ScimResourceType:
    """A resource type for ``/ResourceTypes``: served at ``endpoint`` with ``schema`` and extensions.

    :param name: The resource type name and id (``User``).
    :param endpoint: Its path relative to the SCIM base (``/Users``).
    :param schema: Its core schema.
    :param extensions: ``(schema, required)`` pairs.
    """

    name: str
    endpoint: str
    description: str
    schema: ScimSchema
    extensions: tuple[tuple[ScimSchema, bool], ...] = field(default=())

    def document(self, base_url: str) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "schemas": [RESOURCE_TYPE],
            "id": self.name,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.schema.id,
            "meta": {"resourceType": "ResourceType", "location": f"{base_url}/ResourceTypes/{self.name}"},
        }
        if self.extensions:
            doc["schemaExtensions"] = [
                {"schema": schema.id, "required": required} for schema, required in self.extensions
            ]
        return doc


def _multi(name: str, description: str, types: tuple[str, ...]) -> ScimAttribute:
    """A multi-valued ``value``/``display``/``type``/``primary`` attribute (emails, phoneNumbers)."""
    return ScimAttribute(
        name,
        "complex",
        multi_valued=True,
        description=description,
        sub_attributes=(
            ScimAttribute("value", description=f"The value of one of {name}"),
            ScimAttribute("display", description="A human-readable form of the value"),
            ScimAttribute("type", description="Its kind", canonical_values=types),
            ScimAttribute("primary", "boolean", description="The preferred value (at most one)"),
        ),
    )


def _text(name: str, description: str, **options: Any) -> ScimAttribute:
    return ScimAttribute(name, description=description, **options)


ID = ScimAttribute(
    "id", description="Server-assigned identifier", case_exact=True, mutability="readOnly",
    returned="always", uniqueness="server",
)
EXTERNAL_ID = ScimAttribute("externalId", description="The identifier the client gave", case_exact=True)
META = ScimAttribute(
    "meta",
    "complex",
    description="Resource metadata",
    mutability="readOnly",
    sub_attributes=tuple(
        ScimAttribute(name, kind, case_exact=True, mutability="readOnly")
        for name, kind in (
            ("resourceType", "string"),
            ("created", "dateTime"),
            ("lastModified", "dateTime"),
            ("location", "reference"),
            ("version", "string"),
        )
    ),
)

USER_SCHEMA = ScimSchema(
    CORE_USER,
    "User",
    "User Account",
    (
        ID,
        EXTERNAL_ID,
        _text("userName", "Unique identifier for sign-in, unique regardless of case", required=True,
              uniqueness="server"),
        ScimAttribute(
            "name",
            "complex",
            description="The components of the user's name",
            sub_attributes=tuple(
                _text(name, description)
                for name, description in (
                    ("formatted", "The full name"),
                    ("familyName", "The family name"),
                    ("givenName", "The given name"),
                    ("middleName", "The middle name"),
                    ("honorificPrefix", "The honorific prefix"),
                    ("honorificSuffix", "The honorific suffix"),
                )
            ),
        ),
        _text("displayName", "The name shown in the user interface (the account name)"),
        _text("nickName", "The casual name"),
        _text("title", "The job title"),
        _text("userType", "The relationship to the organisation"),
        _text("preferredLanguage", "The preferred written or spoken language"),
        _text("locale", "The default location for localisation"),
        _text("timezone", "The time zone, in IANA form"),
        ScimAttribute("active", "boolean", description="Whether the account may sign in"),
        _multi("emails", "Email addresses; the primary one (or else the first) is the sign-in address",
               ("work", "home", "other")),
        _multi("phoneNumbers", "Phone numbers", ("work", "home", "mobile", "fax", "pager", "other")),
        ScimAttribute(
            "addresses",
            "complex",
            multi_valued=True,
            description="Physical mailing addresses (stored as given; not filterable)",
            sub_attributes=tuple(
                _text(name, f"The {name} part of the address")
                for name in ("formatted", "streetAddress", "locality", "region", "postalCode", "country")
            ) + (
                _text("type", "Its kind", canonical_values=("work", "home", "other")),
                ScimAttribute("primary", "boolean", description="The preferred address"),
            ),
        ),
        ScimAttribute(
            "groups",
            "complex",
            multi_valued=True,
            description="The SCIM groups the user belongs to (change them through the Groups)",
            mutability="readOnly",
            sub_attributes=(
                ScimAttribute("value", case_exact=True, mutability="readOnly", description="Group id"),
                ScimAttribute("$ref", "reference", mutability="readOnly", reference_types=("Group",),
                              description="Group URI"),
                ScimAttribute("display", mutability="readOnly", description="Group displayName"),
                ScimAttribute("type", mutability="readOnly", canonical_values=("direct",),
                              description="Always direct"),
            ),
        ),
    ),
)

ENTERPRISE_SCHEMA = ScimSchema(
    ENTERPRISE_USER,
    "EnterpriseUser",
    "Enterprise User",
    (
        _text("employeeNumber", "Numeric or alphanumeric identifier assigned by the organisation"),
        _text("costCenter", "The cost center"),
        _text("organization", "The organisation"),
        _text("division", "The division"),
        _text("department", "The department"),
        ScimAttribute(
            "manager",
            "complex",
            description="The user's manager (another SCIM user)",
            sub_attributes=(
                ScimAttribute("value", case_exact=True, description="The manager's id"),
                ScimAttribute("$ref", "reference", mutability="readOnly", reference_types=("User",),
                              description="The manager's URI"),
            ),
        ),
    ),
)

GROUP_SCHEMA = ScimSchema(
    CORE_GROUP,
    "Group",
    "Group",
    (
        ID,
        EXTERNAL_ID,
        _text("displayName", "The group name, unique regardless of case", required=True, uniqueness="server"),
        ScimAttribute(
            "members",
            "complex",
            multi_valued=True,
            description="The users in the group (nested groups are not supported)",
            sub_attributes=(
                ScimAttribute("value", case_exact=True, mutability="immutable", description="User id"),
                ScimAttribute("$ref", "reference", mutability="immutable", reference_types=("User",),
                              description="User URI"),
                ScimAttribute("display", mutability="readOnly", description="User displayName"),
                ScimAttribute("type", mutability="immutable", canonical_values=("User",),
                              description="Always User"),
            ),
        ),
    ),
)

USER = ScimResourceType("User", "/Users", "User Account", USER_SCHEMA, ((ENTERPRISE_SCHEMA, False),))
GROUP = ScimResourceType("Group", "/Groups", "Group", GROUP_SCHEMA)
BUILT_IN = (USER, GROUP)


def service_provider_config(base_url: str, max_results: int) -> dict[str, Any]:
    """What the service supports: PATCH, filters, sorting and ETags; no bulk, no password change."""
    return {
        "schemas": [SERVICE_PROVIDER_CONFIG],
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": max_results},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "The shared token of [plugins.scim], as Authorization: Bearer <token>",
                "primary": True,
            }
        ],
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base_url}/ServiceProviderConfig"},
    }


@dataclass(frozen=True)
class Resolved:
    """An attribute path resolved against a resource type: which schema, attribute and sub-attribute."""

    schema: ScimSchema
    attribute: ScimAttribute
    sub: ScimAttribute | None = None

    @property
    def key(self) -> str:
        """``userName``, ``name.givenName``, ``<enterprise urn>:manager.value``, ``meta.created``."""
        name = f"{self.attribute.name}.{self.sub.name}" if self.sub else self.attribute.name
        return name if self.schema.id in (CORE_USER, CORE_GROUP) else f"{self.schema.id}:{name}"


def resolve(resource_type: ScimResourceType, urn: str | None, attr: str, sub: str | None) -> Resolved | None:
    """Find ``[urn:]attr[.sub]`` (any case) in a resource type; ``None`` when it does not exist.

    Without a URN the core schema is searched first, then the extensions (clients often leave the
    enterprise URN out). ``meta`` and its sub-attributes resolve in every resource type.
    """
    schemas = [resource_type.schema, *(schema for schema, _ in resource_type.extensions)]
    if urn is not None:
        schemas = [schema for schema in schemas if schema.id.lower() == urn.lower()]
    for schema in schemas:
        attribute = schema.attribute(attr)
        if attribute is None and attr.lower() == "meta" and schema is resource_type.schema:
            attribute = META
        if attribute is None:
            continue
        if sub is None:
            return Resolved(schema, attribute)
        found = attribute.sub(sub)
        return Resolved(schema, attribute, found) if found is not None else None
    return None
