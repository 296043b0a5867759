"""The service driven end to end by ``scim2-client``, an independent SCIM client that checks every request
and response payload, status code and content type against the RFCs as it goes."""

from __future__ import annotations

import pytest
from scim_helpers import TOKEN
from scim2_client.engines.asgi import ASGISCIMClient
from scim2_models import (
    EnterpriseUser,
    Group,
    GroupMember,
    ListResponse,
    PatchOp,
    PatchOperation,
    ResourceType,
    ScimProvider,
    SearchRequest,
    User,
)

pytestmark = pytest.mark.asyncio

UserModel = User[EnterpriseUser]


@pytest.fixture
def client(scim):
    return ASGISCIMClient(
        scim.app,
        base_url="http://localhost/scim/v2",
        headers={"Authorization": f"Bearer {TOKEN}"},
        provider=ScimProvider(
            models=[User, EnterpriseUser, Group],
            resource_types=[ResourceType.from_resource(UserModel), ResourceType.from_resource(Group)],
        ),
    )


async def test_a_whole_provisioning_cycle(client):
    await client.discover()
    assert {rt.name for rt in client.provider.resource_types} >= {"User", "Group"}
    created = await client.create(UserModel(user_name="bjensen@example.com", display_name="Babs",
                                            external_id="ext-1", active=True))
    assert created.id and created.meta.version
    found = await client.query(UserModel, created.id)
    assert found.user_name == "bjensen@example.com" and found.display_name == "Babs"
    listed = await client.query(UserModel, query_parameters=SearchRequest(filter='userName eq "BJENSEN@example.com"'))
    assert isinstance(listed, ListResponse) and listed.total_results == 1
    found.display_name = "Barbara"
    replaced = await client.replace(found)
    assert replaced.display_name == "Barbara"
    operation = PatchOperation[UserModel](op=PatchOperation.Op.replace_, path="active", value=False)
    await client.modify(UserModel, created.id, PatchOp[UserModel](operations=[operation]))
    assert (await client.query(UserModel, created.id)).active is False
    group = await client.create(Group(display_name="Tour Guides", members=[GroupMember(value=created.id)]))
    assert [member.value for member in group.members] == [created.id]
    await client.delete(Group, group.id)
    await client.delete(UserModel, created.id)
    empty = await client.query(UserModel)
    assert empty.total_results == 0
