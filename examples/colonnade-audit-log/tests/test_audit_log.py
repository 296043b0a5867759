"""The audit-log plugin: its migration, event observer and admin-only route, on a real database."""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import colonnade_audit_log
import pytest
from colonnade import Event, hookimpl

PASSWORD = "correct horse battery staple"


async def sign_up(client, email):
    response = await client.post(
        "/api/auth/signup", json={"name": email, "email": email, "password": PASSWORD}
    )
    assert response.status_code == 200
    return await response.get_json()


async def entries(client, token, **query):
    response = await client.get(
        "/api/audit_log", query_string=query, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    return await response.get_json()


@pytest.mark.asyncio
async def test_records_auth_events_through_the_entry_point(make_app):
    app = await make_app(load_plugins=["audit_log"])
    client = app.test_client()
    admin = await sign_up(client, "admin@example.test")
    user = await sign_up(client, "user@example.test")
    signin = await client.post("/api/auth/signin", json={"email": "user@example.test", "password": PASSWORD})
    assert signin.status_code == 200
    wrong = await client.post("/api/auth/signin", json={"email": "user@example.test", "password": "nope"})
    assert wrong.status_code == 401  # a failed sign-in emits no event, so nothing is recorded
    token = (await signin.get_json())["token"]
    await client.post("/api/auth/signout", headers={"Authorization": f"Bearer {token}"})

    body = await entries(client, admin["token"])
    assert body["total"] == 4
    assert [(e["event"], e["user_id"]) for e in body["entries"]] == [
        ("auth.signout", user["id"]),
        ("auth.signin", user["id"]),
        ("auth.signup", user["id"]),
        ("auth.signup", admin["id"]),
    ]
    signout = body["entries"][0]
    assert signout["actor_id"] == user["id"]
    assert signout["address"]
    assert signout["data"] == {}


@pytest.mark.asyncio
async def test_filters_by_event_and_user(make_app):
    app = await make_app(load_plugins=["audit_log"])
    client = app.test_client()
    admin = await sign_up(client, "admin@example.test")
    user = await sign_up(client, "user@example.test")
    await client.post("/api/auth/signin", json={"email": "user@example.test", "password": PASSWORD})

    signups = await entries(client, admin["token"], event="auth.signup")
    assert [e["user_id"] for e in signups["entries"]] == [user["id"], admin["id"]]
    of_user = await entries(client, admin["token"], user_id=user["id"])
    assert [e["event"] for e in of_user["entries"]] == ["auth.signin", "auth.signup"]
    assert (await entries(client, admin["token"], page=2))["entries"] == []


@pytest.mark.asyncio
async def test_only_admins_read_the_log(make_app, auth_headers):
    app = await make_app(plugins=[colonnade_audit_log])
    client = app.test_client()
    assert (await client.get("/api/audit_log")).status_code == 401
    as_user = await client.get("/api/audit_log", headers=await auth_headers(app, role="user"))
    assert as_user.status_code == 403
    assert "detail" in await as_user.get_json()


@pytest.mark.asyncio
async def test_bad_query_is_a_4xx_json_error(make_app, auth_headers):
    app = await make_app(plugins=[colonnade_audit_log])
    headers = await auth_headers(app, role="admin")
    response = await app.test_client().get("/api/audit_log?page=zero", headers=headers)
    assert 400 <= response.status_code < 500
    assert "detail" in await response.get_json()


@dataclass
class Deployed(Event):
    name = "deploys.deployed"
    version: str = ""
    regions: tuple[str, ...] = ()


class Deploys:
    """A test plugin that declares its own event and emits it at start-up, outside any request."""

    __name__ = "deploys"

    @hookimpl
    def register_events(self):
        return [Deployed]

    @hookimpl
    async def startup(self, host):
        await host.emit(Deployed(version="1.2", regions=("eu", "us")))


@pytest.mark.asyncio
async def test_configured_patterns_choose_what_is_recorded(make_app, auth_headers):
    config = {"plugins": {"audit_log": {"events": ["deploys.*", "auth.signin"]}}}
    app = await make_app(config=config, plugins=[colonnade_audit_log, Deploys()])
    client = app.test_client()
    admin = await sign_up(client, "admin@example.test")  # auth.signup is not recorded with this config
    await client.post("/api/auth/signin", json={"email": "admin@example.test", "password": PASSWORD})

    body = await entries(client, admin["token"])
    assert [e["event"] for e in body["entries"]] == ["auth.signin", "deploys.deployed"]
    deployed = body["entries"][1]
    assert deployed["data"] == {"version": "1.2", "regions": ["eu", "us"]}
    assert deployed["address"] is None and deployed["actor_id"] is None


def test_migrations_match_the_models(tmp_path):
    """``colonnade makemigrations --check`` finds nothing to generate: the shipped migration is complete."""
    config = tmp_path / "colonnade.toml"
    config.write_text(f'[server]\ndata_dir = "{tmp_path / "data"}"\n\n[host]\nload_plugins = ["audit_log"]\n')
    colonnade = Path(sys.executable).parent / "colonnade"
    env = {key: value for key, value in os.environ.items() if not key.startswith("COLONNADE_")}
    result = subprocess.run(
        [str(colonnade), "makemigrations", "--check", "--config", str(config), "audit_log"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
