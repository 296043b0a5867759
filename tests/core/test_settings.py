"""Settings: the TOML file, ``COLONNADE_*`` overrides, secrets, errors that name the key, redaction."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from colonnade import StartupError, hookimpl
from colonnade.settings import Settings, load_settings, redact

CONFIG = """
[server]
port = 9001
data_dir = "{data_dir}"

[database]
url = "postgres://colonnade:hunter2@db.internal:5432/colonnade"

[auth]
secret_key = {{ "$env" = "TEST_COLONNADE_SECRET" }}
enable_signup = false

[host]
block_plugins = ["ollama"]

[plugins.weather]
api_key = {{ "$file" = "{key_file}" }}
city = "Lisbon"
"""


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    key_file = tmp_path / "weather.key"
    key_file.write_text("weather-secret-from-file\n")
    path = tmp_path / "colonnade.toml"
    path.write_text(CONFIG.format(data_dir=tmp_path / "data", key_file=key_file))
    monkeypatch.setenv("TEST_COLONNADE_SECRET", "secret-from-env")
    monkeypatch.setenv("COLONNADE_CONFIG", str(path))
    for name in ("COLONNADE_SERVER_PORT", "COLONNADE_DATABASE_URL", "COLONNADE_HOST_LOAD_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    return path


def test_the_file_named_by_colonnade_config_is_read(config_file, tmp_path):
    settings = load_settings()
    assert settings.source == str(config_file)
    assert settings.server.port == 9001
    assert settings.server.data_dir == tmp_path / "data"
    assert settings.auth.enable_signup is False
    assert settings.host.block_plugins == ["ollama"]
    assert settings.database_url == "postgres://colonnade:hunter2@db.internal:5432/colonnade"


def test_secrets_come_from_the_environment_and_files(config_file):
    settings = load_settings()
    assert settings.auth.secret_key.get_secret_value() == "secret-from-env"
    assert settings.plugins["weather"] == {"api_key": "weather-secret-from-file", "city": "Lisbon"}


def test_environment_variables_override_the_file(config_file, monkeypatch):
    monkeypatch.setenv("COLONNADE_SERVER_PORT", "9100")
    monkeypatch.setenv("COLONNADE_DATABASE_URL", "sqlite:///tmp/other.db")
    monkeypatch.setenv("COLONNADE_HOST_LOAD_PLUGINS", "chats, files")
    monkeypatch.setenv("COLONNADE_HOST_BLOCK_PLUGINS", '["ollama", "openai"]')
    monkeypatch.setenv("COLONNADE_AUTH_ENABLE_SIGNUP", "true")
    settings = load_settings()
    assert settings.server.port == 9100
    assert settings.database_url == "sqlite:///tmp/other.db"
    assert settings.host.load_plugins == ["chats", "files"]
    assert settings.host.block_plugins == ["ollama", "openai"]
    assert settings.auth.enable_signup is True


def test_a_bad_environment_value_names_the_variable(config_file, monkeypatch):
    monkeypatch.setenv("COLONNADE_SERVER_PORT", "eighty")
    with pytest.raises(StartupError, match=r"server\.port \(from COLONNADE_SERVER_PORT\): Input should be"):
        load_settings()
    monkeypatch.setenv("COLONNADE_SERVER_PORT", "80")
    monkeypatch.setenv("COLONNADE_HOST_LOAD_PLUGINS", '["chats"')
    with pytest.raises(StartupError, match="COLONNADE_HOST_LOAD_PLUGINS: not valid JSON"):
        load_settings()


def test_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings.source is None
    assert settings.server.port == 8080
    assert settings.host.load_plugins == ["*"]
    assert settings.database_url == f"sqlite://{(tmp_path / 'data' / 'colonnade.db').resolve()}"


def test_a_named_file_that_does_not_exist_is_an_error(tmp_path):
    with pytest.raises(StartupError, match="configuration file .*missing.toml does not exist"):
        load_settings(environ={"COLONNADE_CONFIG": str(tmp_path / "missing.toml")})


def test_a_malformed_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "colonnade.toml"
    path.write_text("[server\nport = 1\n")
    with pytest.raises(StartupError, match=f"^{path}: "):
        load_settings(path)


def test_a_missing_environment_secret_is_named():
    with pytest.raises(StartupError, match="environment variable TEST_COLONNADE_UNSET_VARIABLE, which is not set"):
        Settings.from_dict({"auth": {"secret_key": {"$env": "TEST_COLONNADE_UNSET_VARIABLE"}}})


def test_a_missing_secret_file_is_named(tmp_path):
    with pytest.raises(StartupError, match="refers to file .*nope.txt: No such file or directory"):
        Settings.from_dict({"plugins": {"weather": {"api_key": {"$file": str(tmp_path / "nope.txt")}}}})


def test_an_unknown_key_is_named():
    with pytest.raises(StartupError, match=r"^invalid configuration: server\.prot: unknown key$"):
        Settings.from_dict({"server": {"prot": 80}})


def test_an_unknown_section_suggests_the_closest():
    with pytest.raises(StartupError, match=r"unknown configuration section \[sever\] — did you mean 'server'\?"):
        Settings.from_dict({"sever": {"port": 80}})


def test_a_bad_value_is_named():
    with pytest.raises(StartupError, match=r"server\.port: Input should be less than or equal to 65535"):
        Settings.from_dict({"server": {"port": 70000}})
    with pytest.raises(StartupError, match=r"database\.url: Value error, must start with sqlite:// or postgres://"):
        Settings.from_dict({"database": {"url": "mysql://x"}})


def test_settings_are_immutable():
    settings = Settings.from_dict({})
    with pytest.raises(ValidationError):
        settings.server.port = 1


# -- [plugins.<name>] sections -----------------------------------------------------------------------


class WeatherConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: str
    city: str = "Porto"


class Weather:
    __name__ = "weather"

    @hookimpl
    def register_config_models(self):
        return {"weather": WeatherConfig}


@pytest.mark.asyncio
async def test_an_unknown_plugin_section_suggests_the_closest(make_app):
    with pytest.raises(StartupError, match=r"unknown plugin 'weathr' in \[plugins.weathr\] — did you mean 'weather'\?"):
        await make_app(config={"plugins": {"weathr": {"api_key": "x"}}}, plugins=[Weather()])


@pytest.mark.asyncio
async def test_plugin_config_errors_name_the_plugin_key(make_app):
    with pytest.raises(StartupError, match=r"plugins\.weather\.api_key: Field required"):
        await make_app(config={"plugins": {"weather": {"city": "Faro"}}}, plugins=[Weather()])
    with pytest.raises(StartupError, match=r"plugins\.weather\.colour: unknown key"):
        await make_app(config={"plugins": {"weather": {"api_key": "x", "colour": "red"}}}, plugins=[Weather()])


class LenientConfig(BaseModel):
    city: str = "Porto"  # Pydantic's default is to ignore unknown keys; the host does not


class Lenient:
    __name__ = "lenient"

    @hookimpl
    def register_config_models(self):
        return {"lenient": LenientConfig}


@pytest.mark.asyncio
async def test_a_misspelt_plugin_key_is_not_silently_ignored(make_app):
    with pytest.raises(StartupError, match=r"plugins\.lenient\.cty: unknown key — did you mean 'city'\?"):
        await make_app(config={"plugins": {"lenient": {"cty": "Faro"}}}, plugins=[Lenient()])


@pytest.mark.asyncio
async def test_a_section_of_a_blocked_plugin_is_accepted(make_app):
    # Blocking a plugin must not force the operator to delete its configuration.
    app = await make_app(
        config={"plugins": {"weather": {"api_key": "x"}}}, plugins=[Weather()], block_plugins=["weather"]
    )
    assert "weather" not in app.extensions["colonnade"].pm.infos


@pytest.mark.asyncio
async def test_plugin_config_reaches_the_plugin_validated(make_app, monkeypatch):
    monkeypatch.setenv("TEST_COLONNADE_WEATHER_KEY", "from-env")
    app = await make_app(
        config={"plugins": {"weather": {"api_key": {"$env": "TEST_COLONNADE_WEATHER_KEY"}}}}, plugins=[Weather()]
    )
    assert app.extensions["colonnade"].plugin_config("weather") == WeatherConfig(api_key="from-env")


# -- redaction ---------------------------------------------------------------------------------------


def test_redact_hides_secrets(config_file):
    settings = load_settings()
    shown = redact(settings.model_dump(mode="python"))
    assert shown["auth"]["secret_key"] == "***"
    assert shown["database"]["url"] == "postgres://colonnade:***@db.internal:5432/colonnade"
    assert shown["plugins"]["weather"] == {"api_key": "***", "city": "Lisbon"}
    assert shown["server"]["port"] == 9001
    text = repr(shown)
    for secret in ("secret-from-env", "weather-secret-from-file", "hunter2"):
        assert secret not in text


@pytest.mark.parametrize(
    ("key", "hidden"),
    [
        ("api_key", True),
        ("apikey", True),
        ("secret_key", True),
        ("admin_password", True),
        ("auth_token", True),
        ("client_secret", True),
        ("max_tokens", False),
        ("keep_alive_timeout", False),
        ("city", False),
    ],
)
def test_which_keys_count_as_secret(key, hidden):
    assert (redact({key: "value"})[key] == "***") is hidden
