import pytest
from quart import Quart


@pytest.mark.asyncio
async def test_app_starts_and_serves_health(client):
    response = await client.get("/health")
    assert response.status_code == 200
    assert await response.get_json() == {"status": True}


@pytest.mark.asyncio
async def test_auth_headers_give_a_working_token(app, client, auth_headers):
    headers = await auth_headers(app, role="admin")
    response = await client.get("/api/auth/me", headers=headers)
    assert response.status_code == 200
    assert (await response.get_json())["role"] == "admin"


@pytest.mark.asyncio
async def test_fake_upstream_serves_and_records(fake_upstream):
    import httpx

    fake = Quart("fake")

    @fake.post("/echo")
    async def echo():
        from quart import request

        return {"got": await request.get_json()}

    upstream = await fake_upstream(fake)
    async with httpx.AsyncClient(base_url=upstream.base_url) as http:
        response = await http.post("/echo", json={"a": 1})
    assert response.json() == {"got": {"a": 1}}
    assert [(r.method, r.path, r.json()) for r in upstream.requests] == [("POST", "/echo", {"a": 1})]
