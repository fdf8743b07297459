"""Settings: defaults in config.toml, every key overridable by ASCOLTO_<SECTION>__<KEY>."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_CONFIG: Final = Path("config.toml")
SECRETS: Final = {("telegram", "token"), ("telegram", "webhook_secret")}
"""Keys that must come from the environment, never from a file in the repository."""


class ConfigError(Exception):
    """A setting is wrong; the message is one line naming the key and what is expected."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppSettings(_Section):
    language: Literal["it", "en"] = "it"
    timezone: str = "Europe/Rome"
    locales_dir: Path | None = None
    """Catalogs folder; unset means the catalogs shipped with Ascolto."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class DatabaseSettings(_Section):
    url: str = "sqlite+aiosqlite:///var/ascolto.sqlite3"
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = "FULL"
    migrate_on_start: bool = True

    @field_validator("url")
    @classmethod
    def _async_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("expected a URL like sqlite+aiosqlite:///var/ascolto.sqlite3") from None
        if url.drivername not in {"sqlite+aiosqlite", "postgresql+asyncpg"}:
            raise ValueError("expected sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB")
        return value


class ConversationSettings(_Section):
    idle_timeout_minutes: Annotated[int, Field(ge=1, le=60 * 24 * 30)] = 24 * 60


class PrivacySettings(_Section):
    controller: str = "la cooperativa che gestisce il servizio"
    retention_days: Annotated[int, Field(ge=1, le=3650)] = 365
    notice_version: Annotated[int, Field(ge=1)] = 1


class DispatcherSettings(_Section):
    batch_size: Annotated[int, Field(ge=1, le=1000)] = 50
    max_attempts: Annotated[int, Field(ge=1, le=50)] = 8
    backoff_base_seconds: Annotated[float, Field(gt=0)] = 1.0
    backoff_max_seconds: Annotated[float, Field(gt=0)] = 300.0
    lease_seconds: Annotated[float, Field(gt=0)] = 60.0
    idle_poll_seconds: Annotated[float, Field(gt=0)] = 1.0


class TelegramSettings(_Section):
    token: SecretStr | None = None
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None


class WebSettings(_Section):
    """The one HTTP server every webhook shares (behind a reverse proxy in production)."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080


class Settings(BaseSettings):
    """All of Ascolto's settings; built once in `bot.app`, passed down as plain values."""

    model_config = SettingsConfigDict(
        env_prefix="ASCOLTO_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        toml_file=str(DEFAULT_CONFIG),
    )

    app: AppSettings = AppSettings()
    database: DatabaseSettings = DatabaseSettings()
    conversation: ConversationSettings = ConversationSettings()
    privacy: PrivacySettings = PrivacySettings()
    dispatcher: DispatcherSettings = DispatcherSettings()
    telegram: TelegramSettings = TelegramSettings()
    web: WebSettings = WebSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment wins over the file; no .env files: secrets live in the real environment.
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def load_settings(path: Path | None = None) -> Settings:
    """Read `path` (default ./config.toml) and the environment; raise `ConfigError` on any problem."""
    toml_path = path or DEFAULT_CONFIG
    if path is not None and not toml_path.is_file():
        raise ConfigError(f"config file {toml_path} does not exist")
    if toml_path.is_file():
        try:
            raw = tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{toml_path}: not valid TOML ({exc})") from None
        for section, key in sorted(SECRETS):
            if isinstance(raw.get(section), dict) and key in raw[section]:
                env = f"ASCOLTO_{section.upper()}__{key.upper()}"
                raise ConfigError(f"{section}.{key}: secrets are not read from {toml_path}; set {env} instead")
    bound = type(
        "BoundSettings",
        (Settings,),
        {"model_config": {**Settings.model_config, "toml_file": str(toml_path)}},
    )
    try:
        settings: Settings = bound()
    except ValidationError as exc:
        raise ConfigError(describe(exc)) from None
    return settings


def describe(exc: ValidationError) -> str:
    """The first problem as one line: ``database.url: expected … (got 'x')``."""
    err = exc.errors()[0]
    key = ".".join(str(part) for part in err["loc"])
    if err["type"] == "extra_forbidden":
        return f"{key}: unknown setting"
    message = str(err["msg"]).removeprefix("Value error, ")
    got = err.get("input")
    shown = "" if isinstance(got, dict) or got is None else f" (got {str(got)[:60]!r})"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{key}: {message}{shown}{more}"
