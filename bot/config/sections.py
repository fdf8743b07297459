"""The sections of config.toml, one model each: the keys, their defaults and bounds."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppSettings(_Section):
    language: Literal["it", "en"] = "it"
    timezone: str = "Europe/Rome"
    locales_dir: Path | None = None
    """Catalogs folder; unset means the catalogs shipped with Ascolto."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    console_log: Path = Path("var/console.log")
    """Where `ascolto chat` writes its log lines: the terminal shows only the conversation."""


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
    outbox_text_days: Annotated[int, Field(ge=1, le=3650)] = 30
    """Sent (or failed, held) messages keep their text this long, then it becomes ``[scaduto]``."""
    conversation_grace_hours: Annotated[int, Field(ge=0, le=24 * 90)] = 24
    """A conversation idle for `[conversation] idle_timeout_minutes` plus this loses its answers."""
    files_days: Annotated[int, Field(ge=1, le=3650)] = 7
    """Exports (`[admin] export_dir`) and digest charts (`[scheduler] digest_dir`) are deleted this long after they were written."""


class LimitsSettings(_Section):
    """How much one identity may ask of the service (issue 13). Nothing beyond a limit is dropped."""

    turns_per_minute: Annotated[float, Field(gt=0, le=600)] = 30.0
    """Messages of one person answered a minute, on Telegram and WhatsApp; faster ones are stored and
    answered in order as the budget allows (the console is not limited)."""
    turn_burst: Annotated[int, Field(ge=1, le=1000)] = 20
    """Messages answered at once before the pace above applies (a few quick taps, an album of photos)."""
    attachments_per_need: Annotated[int, Field(ge=1, le=100)] = 10
    """Files kept with one request; later ones get a kind word and are not stored."""
    needs_per_day: Annotated[int, Field(ge=1, le=50)] = 5
    """New requests one citizen may send in 24 hours; admins and operators are not limited."""


class DispatcherSettings(_Section):
    batch_size: Annotated[int, Field(ge=1, le=1000)] = 50
    max_attempts: Annotated[int, Field(ge=1, le=50)] = 8
    backoff_base_seconds: Annotated[float, Field(gt=0)] = 1.0
    backoff_max_seconds: Annotated[float, Field(gt=0)] = 300.0
    lease_seconds: Annotated[float, Field(gt=0)] = 60.0
    idle_poll_seconds: Annotated[float, Field(gt=0)] = 1.0
    max_throttled_seconds: Annotated[float, Field(gt=0)] = 3600.0
    """A row's waits on the provider's 429s (retry-after), in all; past it the row fails, visible in /stato_sistema."""


class TelegramSettings(_Section):
    token: SecretStr | None = None
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    per_chat_per_second: Annotated[float, Field(gt=0, le=1000)] = 1.0
    overall_per_second: Annotated[float, Field(gt=0, le=10000)] = 30.0
    """Telegram's ~30 messages/s a bot: never more than 30 in any second, each counted from request to answer."""
    """Messages a second to one chat; Telegram's guidance is about one (bots FAQ)."""


class WhatsAppContentSettings(_Section):
    """Approved Twilio Content templates (ContentSid "HX…"); see README "WhatsApp"."""

    window_template_sid: str | None = Field(default=None, pattern=r"^HX[0-9a-fA-F]{32}$")
    """Sent outside the 24-hour window; its body has one variable, {{1}}, our message."""
    quick_reply: dict[int, Annotated[str, Field(pattern=r"^HX[0-9a-fA-F]{32}$")]] = {}
    """Number of options (1-3) -> a twilio/quick-reply template."""
    list_picker: dict[int, Annotated[str, Field(pattern=r"^HX[0-9a-fA-F]{32}$")]] = {}
    """Number of options (up to 10) -> a twilio/list-picker template."""


class WhatsAppSettings(_Section):
    """WhatsApp through Twilio; on when both credentials are in the environment."""

    account_sid: SecretStr | None = None
    auth_token: SecretStr | None = None
    from_number: str = ""
    """The WhatsApp sender in E.164, e.g. +14155238886 (Twilio's sandbox)."""
    public_base_url: str | None = None
    """https://HOST as Twilio sees it (behind a proxy too): signatures are checked against it."""
    api_base_url: str = "https://api.twilio.com"
    messages_per_second: Annotated[float, Field(gt=0, le=400)] = 80.0
    """The sender's throughput, text and media together: Twilio's default for a WhatsApp sender is 80,
    text can be raised to 400 on request (docs/deploy.md "WhatsApp throughput"); the sandbox allows 1 every 3 s."""
    media_messages_per_second: Annotated[float, Field(gt=0, le=80)] = 80.0
    """Messages with media (digest charts, exports) also stay within this: Twilio's media throughput is 80 and cannot be raised."""
    download_media: bool = False
    """Fetch inbound media from Twilio (with the account's credentials) and keep a local copy.
    Off: only the media URL and content type are stored, and Twilio keeps the file."""
    media_max_bytes: Annotated[int, Field(ge=1, le=100 * 1024 * 1024)] = 16 * 1024 * 1024
    """Larger files are not stored (16 MB is WhatsApp's own limit for most media)."""
    media_dir: Path = Path("var/media")
    """Where downloaded media are kept, under generated names; erasure and retention delete them."""
    media_max_attempts: Annotated[int, Field(ge=1, le=20)] = 5
    """Tries of a download that fails transiently (timeouts, HTTP 5xx/429) before giving up."""
    file_link_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)] = 60
    """How long the signed URL Twilio fetches an attachment (export, chart) from stays valid."""
    content: WhatsAppContentSettings = WhatsAppContentSettings()

    @field_validator("from_number")
    @classmethod
    def _e164(cls, value: str) -> str:
        number = value.removeprefix("whatsapp:").strip()
        if number and not re.fullmatch(r"\+[1-9]\d{6,14}", number):
            raise ValueError("expected an E.164 number like +14155238886")
        return number

    @field_validator("public_base_url", "api_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError("expected a URL like https://ascolto.example.org")
        return value.rstrip("/") if value is not None else None

    @property
    def is_configured(self) -> bool:
        return self.account_sid is not None and self.auth_token is not None


class AdminSettings(_Section):
    """Who is told about needs no cooperative covers and unclaimed urgent needs; admins named from the chat are told too."""

    telegram_ids: list[str] = []
    whatsapp_numbers: list[str] = []
    console_names: list[str] = []
    export_dir: Path = Path("var/exports")
    """Where `/esporta` writes its CSV and XLSX files before attaching them."""


class OperatorsSettings(_Section):
    invite_days: Annotated[int, Field(ge=1, le=90)] = 7
    """How long an invite code from `ascolto invite` or `/invito` stays valid."""
    page_size: Annotated[int, Field(ge=1, le=20)] = 5
    """Needs per page of /richieste."""
    invite_attempts_per_hour: Annotated[int, Field(ge=1, le=100)] = 5
    """Refused `/operatore` codes one sender may try in an hour; then every code is refused until the hour passes."""


class SchedulerSettings(_Section):
    """The jobs started by `ascolto run`; every period and delay is here."""

    enabled: bool = True
    timezone: str = "Europe/Rome"
    scan_minutes: Annotated[int, Field(ge=1, le=1440)] = 15
    """How often follow-ups, reminders and retention look for due work."""
    misfire_grace_seconds: Annotated[int, Field(ge=1)] = 6 * 3600
    """A job whose time passed while we were down still runs if we are back within this."""
    follow_up_days: Annotated[int, Field(ge=1, le=365)] = 7
    """Ask "is it still needed?" this long after submission, if still open."""
    satisfaction_hours: Annotated[int, Field(ge=1, le=24 * 90)] = 24
    """Ask "how did it go?" this long after resolution."""
    reminder_hours: Annotated[int, Field(ge=1, le=24 * 30)] = 4
    """Remind the cooperatives when an urgent need is unclaimed this long."""
    escalation_hours: Annotated[int, Field(ge=1, le=24 * 30)] = 8
    """Then tell the admins after this much more."""
    digest_catch_up_hours: Annotated[int, Field(ge=1, le=24 * 31)] = 48
    """A digest period that ended longer ago than this is not sent late after downtime."""
    digest_dir: Path = Path("var/digests")
    """Where digest charts (PNG) are written before being attached."""
    digest_repeat_minutes: Annotated[int, Field(ge=0, le=24 * 60)] = 10
    """`/digest_ora` refuses a repeat this soon after a cooperative's last digest (0: never refuses)."""
    batch_size: Annotated[int, Field(ge=1, le=10_000)] = 200
    """Needs one scan handles; the next scan continues."""


class WebSettings(_Section):
    """The one HTTP server every webhook shares (behind a reverse proxy in production)."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    max_form_bytes: Annotated[int, Field(ge=1024, le=16 * 1024 * 1024)] = 64 * 1024
    """Twilio's webhook forms are a few KB; a larger body is refused (413) before it is read."""
    max_form_fields: Annotated[int, Field(ge=10, le=10_000)] = 200
    """Fields in one webhook form (Twilio sends some 50 with ten media); more is refused (413) unparsed."""
    max_json_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = 1024 * 1024
    """Telegram's webhook updates (a 4,096-character text and its entities are far below 1 MiB)."""
    body_seconds: Annotated[float, Field(gt=0, le=300)] = 10.0
    """A webhook body not received within this is refused (408): a client trickling bytes holds nothing long."""


class VoiceSettings(_Section):
    """Voice notes transcribed on this server (issue 16; docs/privacy.md)."""

    enabled: bool = True
    model_path: Path | None = None
    """A CTranslate2 Whisper folder (a larger model); unset: the base model that comes with the install."""
    cache_dir: Path = Path("var/cache")
    """Where the base model's two parts are joined once (about 150 MB)."""
    cpu_threads: Annotated[int, Field(ge=1, le=64)] = 2
    max_seconds: Annotated[float, Field(gt=0, le=3600)] = 180.0
    """Longer notes are kept for an operator, not transcribed."""
    audio_dir: Path = Path("var/voice")
    """Audio being transcribed; each file is deleted once its note is heard."""


class PublicSettings(_Section):
    """The public pages of aggregated demand, their open data and the co-programming dossier."""

    enabled: bool = True
    threshold: Annotated[int, Field(ge=3, le=100)] = 5
    """Counts above zero and under this are never published (shown as "< 5"); Italy's statistical rules require at least 3."""
    months: Annotated[int, Field(ge=1, le=36)] = 12
    """How many months a page covers, up to the last complete month."""
    cache_seconds: Annotated[int, Field(ge=0, le=86_400)] = 600
    """How long a territory's figures for the running period are kept before they are read again (past periods: kept)."""
    licence_name: str = "CC BY 4.0"
    licence_url: str = "https://creativecommons.org/licenses/by/4.0/"
    publisher: str = "Ascolto"
    """Who publishes the open data (DCAT-AP_IT `dct:publisher`); `base_url` makes the catalogue's links absolute."""
    base_url: str | None = None
