"""Settings: defaults in config.toml, every key overridable by ASCOLTO_<SECTION>__<KEY>."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Final

from pydantic import ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from bot.config.sections import (
    AdminSettings,
    AppSettings,
    ConversationSettings,
    DatabaseSettings,
    DispatcherSettings,
    LimitsSettings,
    OperatorsSettings,
    PrivacySettings,
    PublicSettings,
    SchedulerSettings,
    TelegramSettings,
    VoiceSettings,
    WebSettings,
    WhatsAppContentSettings,
    WhatsAppSettings,
)

__all__ = [
    "AdminSettings",
    "AppSettings",
    "ConfigError",
    "ConversationSettings",
    "DEFAULT_CONFIG",
    "DatabaseSettings",
    "DispatcherSettings",
    "LimitsSettings",
    "OperatorsSettings",
    "PrivacySettings",
    "PublicSettings",
    "SECRETS",
    "SchedulerSettings",
    "Settings",
    "TelegramSettings",
    "VoiceSettings",
    "WebSettings",
    "WhatsAppContentSettings",
    "WhatsAppSettings",
    "describe",
    "load_settings",
]

DEFAULT_CONFIG: Final = Path("config.toml")
SECRETS: Final = {
    ("telegram", "token"),
    ("telegram", "webhook_secret"),
    ("whatsapp", "account_sid"),
    ("whatsapp", "auth_token"),
}
"""Keys that must come from the environment, never from a file in the repository."""


class ConfigError(Exception):
    """A setting is wrong; the message is one line naming the key and what is expected."""


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
    limits: LimitsSettings = LimitsSettings()
    telegram: TelegramSettings = TelegramSettings()
    whatsapp: WhatsAppSettings = WhatsAppSettings()
    web: WebSettings = WebSettings()
    public: PublicSettings = PublicSettings()
    admin: AdminSettings = AdminSettings()
    operators: OperatorsSettings = OperatorsSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    voice: VoiceSettings = VoiceSettings()

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
