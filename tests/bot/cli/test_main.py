"""The `ascolto` command as a user runs it: scripted chat, inspection, configuration errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

import pytest

ROOT = Path(__file__).resolve().parents[3]
INTAKE = "ciao\n1\n1\n5\nMia madre ha 85 anni e le serve aiuto per la spesa\nravena\n1\n1\n1\n1\n"


def ascolto(*args: str, stdin: str = "", env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ASCOLTO_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture
def db_env(tmp_path: Path) -> dict[str, str]:
    return {
        "ASCOLTO_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}",
        "ASCOLTO_APP__CONSOLE_LOG": str(tmp_path / "console.log"),
    }


def test_scripted_chat_through_a_pipe_stores_exactly_one_need(db_env: dict[str, str]) -> None:
    result = ascolto("chat", "--as", "mario", stdin=INTAKE, env=db_env)
    assert result.returncode == 0, result.stderr
    assert "Il tuo codice è" in result.stdout
    assert "Traceback" not in result.stderr
    listed = ascolto("needs", "--json", env=db_env)
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(rows) == 1
    assert rows[0]["istat"] == "039014" and rows[0]["comune"] == "Ravenna" and rows[0]["category"] == "spesa"
    assert set(rows[0]) == {"ticket", "category", "description", "comune", "istat", "urgency", "status", "created_at"}


def test_piped_chat_answers_each_line_before_reading_the_next(db_env: dict[str, str]) -> None:
    """Another program can hold a conversation: it reads each reply before writing."""
    assert ascolto("db", "upgrade", env=db_env).returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASCOLTO_")} | db_env
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat", "--as", "pipe"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    assert proc.stdin and proc.stdout
    try:
        proc.stdin.write("ciao\n")
        proc.stdin.flush()
        seen = ""
        while "Rispondi con il numero." not in seen:
            line = proc.stdout.readline()
            assert line, "the bot closed its output before answering"
            seen += line
        assert "Cosa vuoi fare?" in seen
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
    assert proc.returncode == 0


def test_the_console_shows_no_log_lines_and_says_once_that_there_is_no_admin(db_env: dict[str, str], tmp_path: Path) -> None:
    """A need nobody covers is told to the admins; with none, a WARNING log line used to appear mid-chat at every need."""
    result = ascolto("chat", "--as", "mario", stdin=INTAKE, env=db_env)
    assert result.returncode == 0, result.stderr
    assert "Il tuo codice è" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr and " bot." not in result.stdout
    assert result.stderr.count("nessun amministratore") == 1, result.stderr
    assert (tmp_path / "console.log").exists()  # where the log lines go instead (README "Try it")


def test_needs_shows_local_times_and_the_status_words_citizens_read(db_env: dict[str, str]) -> None:
    assert ascolto("chat", "--as", "mario", stdin=INTAKE, env=db_env).returncode == 0
    [row] = [json.loads(line) for line in ascolto("needs", "--json", env=db_env).stdout.splitlines()]
    listed = ascolto("needs", env=db_env).stdout
    rome = format_datetime(datetime.fromisoformat(row["created_at"]), "d MMMM y, HH:mm", tzinfo=ZoneInfo("Europe/Rome"), locale="it")
    assert f"{row['ticket']}  {rome}  ricevuta  Urgente, entro 1-2 giorni  Ravenna (039014)" in listed, listed
    assert "nuova" not in listed.split(row["ticket"])[1]  # the stored value is not what anyone reads


def test_ctrl_c_leaves_at_once(db_env: dict[str, str]) -> None:
    """The console's reader was a thread `asyncio.run` waited for: Ctrl+C left only after the next Enter."""
    assert ascolto("db", "upgrade", env=db_env).returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASCOLTO_")} | db_env
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat", "--as", "pipe"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
    )
    assert proc.stdin and proc.stdout
    try:
        proc.stdin.write("ciao\n")
        proc.stdin.flush()
        seen = ""
        while "Rispondi con il numero." not in seen:  # started, answered, now waiting for the next line
            line = proc.stdout.readline()
            assert line, "the bot closed its output before answering"
            seen += line
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 130  # stdin stays open: before the fix it waited for ever
    finally:
        proc.kill()
        proc.stdin.close()


def test_needs_lists_nothing_on_an_empty_database(db_env: dict[str, str]) -> None:
    result = ascolto("needs", env=db_env)
    assert result.returncode == 0 and "no needs yet" in result.stdout


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({"ASCOLTO_DATABASE__URL": "mysql://x"}, "database.url", id="bad-url"),
        pytest.param({"ASCOLTO_DISPATCHER__BATCH_SIZE": "many"}, "dispatcher.batch_size", id="wrong-type"),
        pytest.param({"ASCOLTO_APP__LANGUAGE": "fr"}, "app.language", id="unsupported-language"),
    ],
)
def test_invalid_setting_stops_with_one_clear_line_and_status_2(env: dict[str, str], expected: str) -> None:
    result = ascolto("needs", env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in result.stderr


def test_unknown_key_in_a_config_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "ascolto.toml"
    config.write_text('[database]\nuri = "sqlite+aiosqlite:///x"\n')
    result = ascolto("--config", str(config), "needs")
    assert result.returncode == 2
    assert "database.uri: unknown setting" in result.stderr


def test_secret_in_a_config_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "ascolto.toml"
    config.write_text('[telegram]\ntoken = "123:abc"\n')
    result = ascolto("--config", str(config), "needs")
    assert result.returncode == 2
    assert "ASCOLTO_TELEGRAM__TOKEN" in result.stderr and "123:abc" not in result.stderr


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    result = ascolto("--config", str(tmp_path / "nope.toml"), "needs")
    assert result.returncode == 2 and "nope.toml" in result.stderr


def test_another_config_file_is_read(tmp_path: Path) -> None:
    config = tmp_path / "ascolto.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "other.sqlite3"}"\n')
    result = ascolto("--config", str(config), "chat", "--as", "x", stdin=INTAKE, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "other.sqlite3").exists()


def test_db_upgrade_is_idempotent(db_env: dict[str, str]) -> None:
    assert ascolto("db", "upgrade", env=db_env).returncode == 0
    again = ascolto("db", "upgrade", env=db_env)
    assert again.returncode == 0 and "up to date" in again.stdout
