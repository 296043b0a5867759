"""Settings: one TOML file plus ``COLONNADE_*`` environment variables for the core keys.

The file is ``colonnade.toml`` in the working directory, or the path in ``COLONNADE_CONFIG``. Core
sections are ``[server]``, ``[database]``, ``[auth]`` and ``[host]``; every ``[plugins.<name>]`` section
is validated later by the model that plugin registers. Any value may be written as
``{"$env" = "VAR"}`` or ``{"$file" = "/run/secrets/x"}`` to keep secrets out of the file. An environment
variable ``COLONNADE_<SECTION>_<KEY>`` (for example ``COLONNADE_DATABASE_URL``) overrides the file.

Nothing here is read at import time: ``load_settings()`` builds a ``Settings`` object that the host
hands to plugins.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from colonnade.errors import StartupError
from colonnade.registry import did_you_mean

CORE_SECTIONS = ("server", "database", "auth", "host")
SECRET_WORDS = ("secret", "key", "password", "passwd", "token", "hash", "dsn", "credentials", "apikey")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64)
    data_dir: Path = Path("./data")
    #: Largest request body accepted, in bytes; larger bodies get 413. Upload routes may set their own.
    max_body_size: int = Field(16 * 1024 * 1024, ge=1024)
    #: Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    graceful_timeout: float = Field(5.0, ge=0)
    #: Seconds a response may take to send, streamed body included; 0 (the default) for no limit, since
    #: completions streams and downloads legitimately outlast Quart's own default of 60 s.
    response_timeout: float = Field(0, ge=0)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    #: The event loop: ``uvloop`` (libuv; about a third less CPU per request), ``asyncio`` (the
    #: standard library's), or ``auto``: uvloop where it is installed (it is a dependency on Linux and
    #: macOS), asyncio otherwise.
    event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"
    #: Extra hypercorn settings (``keep_alive_timeout``, ``certfile``, ...), passed through.
    hypercorn: dict[str, Any] = Field(default_factory=dict)


class DatabaseSettings(_Section):
    #: ``sqlite:///path/to.db`` or ``postgres://user:pass@host:5432/db``. Default: ``<data_dir>/colonnade.db``.
    url: str | None = None
    #: Apply pending migrations when ``serve`` starts.
    migrate_on_start: bool = True
    #: PostgreSQL schema to use (tests use one per test).
    schema_name: str | None = None
    #: ``redis://host:6379/0``: shared state across workers (token revocation, rate limits, events).
    redis_url: str | None = None
    pool_max_size: int = Field(10, ge=1)
    #: SQLite's ``synchronous`` pragma. ``NORMAL`` (with the write-ahead log Colonnade always uses)
    #: never corrupts the database and loses nothing when the process dies; only a power cut or an
    #: operating-system crash may undo the last commits. ``FULL`` syncs the disk on every commit.
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "NORMAL"

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite://", "postgres://", "postgresql://")):
            raise ValueError("must start with sqlite:// or postgres://")
        return value


class AuthSettings(_Section):
    #: HS256 signing secret. Default: generated once into ``<data_dir>/.secret_key``.
    secret_key: SecretStr | None = None
    #: Token lifetime: ``<n>`` followed by ``s``, ``m``, ``h``, ``d`` or ``w`` (terms may be combined).
    jwt_expires_in: str = "4w"
    enable_signup: bool = True
    #: Role of every sign-up after the first (the first becomes ``admin``).
    default_user_role: Literal["user", "pending"] = "user"
    enable_api_keys: bool = True
    cookie_secure: bool = False
    cookie_samesite: Literal["lax", "strict", "none"] = "lax"
    #: Sign-in attempts allowed per account, and per client address, within ``signin_window`` seconds.
    signin_attempts_per_account: int = Field(15, ge=1)
    signin_attempts_per_address: int = Field(60, ge=1)
    signin_window: int = Field(180, ge=1)
    #: argon2id cost; OWASP's recommendation (19 MiB, 2 passes, 1 lane) by default.
    argon2_memory_kib: int = Field(19456, ge=1024)
    argon2_time_cost: int = Field(2, ge=1)
    argon2_parallelism: int = Field(1, ge=1)
    #: On PostgreSQL, remember the account behind each credential between requests, forgetting it
    #: when PostgreSQL notifies a change (triggers and ``LISTEN``; see ``colonnade.auth.remembered``):
    #: one round trip fewer per request. ``false`` looks the caller up on every request.
    remember_callers: bool = True
    #: Create this admin at start when there are no users (headless bootstrap).
    admin_email: str | None = None
    admin_password: SecretStr | None = None
    admin_name: str = "Admin"

    @field_validator("jwt_expires_in")
    @classmethod
    def _duration(cls, value: str) -> str:
        from colonnade.durations import parse_duration

        parse_duration(value)
        return value


class HostSettings(_Section):
    #: Entry points to load: ``["*"]`` for every installed one, or a list of names.
    load_plugins: list[str] = Field(default_factory=lambda: ["*"])
    #: Plugin names never to load, built-in or third-party (the core's essential plugins refuse).
    block_plugins: list[str] = Field(default_factory=list)
    #: The instance name shown by ``/api/config``.
    name: str = "Colonnade"
    deployment_id: str | None = None
    #: Log every hook call (also ``COLONNADE_TRACE_HOOKS=1``).
    trace_hooks: bool = False


class Settings(BaseModel):
    """The validated configuration of one application."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    server: ServerSettings = Field(default_factory=ServerSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    host: HostSettings = Field(default_factory=HostSettings)
    #: Raw ``[plugins.<name>]`` sections, secrets resolved; validated by each plugin's config model.
    plugins: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: Where the settings came from, for ``colonnade config check``.
    source: str | None = Field(default=None, exclude=True)

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite://{(self.server.data_dir / 'colonnade.db').resolve()}"

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str | None = None) -> Settings:
        """Validate a settings mapping (as read from TOML), turning errors into ``StartupError``."""
        data = resolve_secrets(data)
        unknown = [key for key in data if key not in (*CORE_SECTIONS, "plugins")]
        if unknown:
            hint = did_you_mean(unknown[0], [*CORE_SECTIONS, "plugins"])
            raise StartupError(f"unknown configuration section [{unknown[0]}]{hint}")
        try:
            return cls(**data, source=source)
        except ValidationError as error:
            raise StartupError(format_validation_error(error)) from None


def format_validation_error(error: ValidationError, prefix: str = "") -> str:
    """``server.port: Input should be less than or equal to 65535`` — one line per problem."""
    lines = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in (prefix, *item["loc"]) if part != "")
        message = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        lines.append(f"{where}: {message}")
    return "invalid configuration: " + "; ".join(lines)


def resolve_secrets(value: Any) -> Any:
    """Replace ``{"$env": "VAR"}`` and ``{"$file": "path"}`` anywhere in ``value`` by what they name."""
    if isinstance(value, dict):
        if len(value) == 1 and "$env" in value:
            name = value["$env"]
            if name not in os.environ:
                raise StartupError(f"configuration refers to environment variable {name}, which is not set")
            return os.environ[name]
        if len(value) == 1 and "$file" in value:
            try:
                return Path(value["$file"]).read_text().strip()
            except OSError as error:
                raise StartupError(f"configuration refers to file {value['$file']}: {error.strerror}") from None
        return {key: resolve_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_secrets(item) for item in value]
    return value


def _env_overrides(environ: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Read ``COLONNADE_<SECTION>_<KEY>`` for every key of every core section."""
    sections = {
        "server": ServerSettings,
        "database": DatabaseSettings,
        "auth": AuthSettings,
        "host": HostSettings,
    }
    overrides: dict[str, dict[str, Any]] = {}
    for section, model in sections.items():
        for key in model.model_fields:
            name = f"COLONNADE_{section}_{key}".upper()
            if name in environ:
                raw = environ[name]
                annotation = str(model.model_fields[key].annotation)
                if annotation.startswith(("list", "dict")):
                    try:
                        raw = json.loads(raw) if raw.strip().startswith(("[", "{")) else [
                            item.strip() for item in raw.split(",") if item.strip()
                        ]
                    except json.JSONDecodeError as error:
                        raise StartupError(f"{name}: not valid JSON ({error.msg})") from None
                overrides.setdefault(section, {})[key] = raw
    return overrides


def load_settings(path: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read the TOML file (if any) and the environment into a validated ``Settings``.

    :param path: The config file; default ``$COLONNADE_CONFIG`` or ``./colonnade.toml`` when it exists.
    :param environ: The environment to read (``os.environ`` by default).
    """
    environ = dict(os.environ if environ is None else environ)
    explicit = path or environ.get("COLONNADE_CONFIG")
    config_path = Path(explicit) if explicit else Path("colonnade.toml")
    data: dict[str, Any] = {}
    source = None
    if config_path.exists():
        try:
            data = tomllib.loads(config_path.read_text())
        except tomllib.TOMLDecodeError as error:
            raise StartupError(f"{config_path}: {error}") from None
        source = str(config_path)
    elif explicit:
        raise StartupError(f"configuration file {config_path} does not exist")
    overrides = _env_overrides(environ)
    for section, values in overrides.items():
        data.setdefault(section, {}).update(values)
    try:
        return Settings.from_dict(data, source=source)
    except StartupError as error:
        # Say where a bad value came from: the operator may be looking for it in the file.
        message = str(error)
        for section, values in overrides.items():
            for key in values:
                variable = f"COLONNADE_{section}_{key}".upper()
                message = message.replace(f"{section}.{key}: ", f"{section}.{key} (from {variable}): ")
        if message == str(error):
            raise
        raise StartupError(message) from None


def is_secret_key(key: str) -> bool:
    """Whether a configuration key names a secret: ``api_key``, ``secret_key``, ``admin_password``,
    ``token``, ``apikey``... but not ``max_tokens`` or ``keep_alive_timeout``."""
    parts = key.lower().replace("-", "_").split("_")
    return any(part in SECRET_WORDS or part.endswith(("key", "secret", "password", "token")) for part in parts)


def _redact_url(value: str) -> str:
    """``postgres://user:pw@host/db`` -> ``postgres://user:***@host/db``: URLs may carry passwords."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(value)
    except ValueError:
        return value
    if not parts.scheme or parts.password is None:
        return value
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def redact(value: Any, key: str = "") -> Any:
    """Replace the values of secret-looking keys with ``"***"`` (for printing the effective config).

    Also hides :class:`SecretStr` values wherever they are, and the password part of any URL.
    """
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(item, key) for item in value]
    if isinstance(value, SecretStr):
        return "***"
    if value is not None and value != "" and is_secret_key(key):
        return "***"
    if isinstance(value, str) and "://" in value:
        return _redact_url(value)
    return value
