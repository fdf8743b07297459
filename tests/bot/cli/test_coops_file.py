"""`ascolto coops import`: validation errors name the line and the field; a second import changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.core import Core
from bot.cli.coops import import_file, invite
from bot.cli.coops_file import parse
from conversations import Gazetteer
from storage.models import Cooperative, CooperativeCategory, CooperativeTerritory, Invite

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "docs" / "examples" / "cooperative-ravenna.toml"
CATEGORIES = {"anziani", "spesa", "famiglia", "lavoro", "casa", "disabilita", "solitudine", "trasporto"}

BROKEN = """\
[[cooperative]]
slug = "buona"
name = "Buona"
categories = ["spesa"]
comuni = ["039014"]

[[cooperative]]
slug = "Cattiva Slug"
name = "Cattiva"
digest = "ogni lunedì"
categories = [
  "spesa",
  "spessa",
]
comuni = ["039014", "999999"]
province = ["XX"]
colour = "blue"

[[cooperative]]
name = "Senza slug"
categories = ["spesa"]
regioni = ["Atlantide"]
"""


def test_errors_name_the_line_and_the_field(gazetteer: Gazetteer) -> None:
    specs, errors = parse(BROKEN, categories=CATEGORIES, gazetteer=gazetteer)
    found = sorted((e.line, e.field) for e in errors)
    assert specs == []
    assert found == [
        (8, "cooperative[2].slug"),
        (10, "cooperative[2].digest"),
        (13, "cooperative[2].categories"),
        (15, "cooperative[2].comuni"),
        (16, "cooperative[2].province"),
        (17, "cooperative[2].colour"),
        (19, "cooperative[3].slug"),
        (22, "cooperative[3].regioni"),
    ]
    spessa = next(e for e in errors if e.line == 13)
    assert "unknown category 'spessa'" in spessa.message


def test_toml_syntax_error_reports_its_line(gazetteer: Gazetteer) -> None:
    _, [error] = parse('[[cooperative]]\nslug = "x\n', categories=CATEGORIES, gazetteer=gazetteer)
    assert error.line == 2 and "not valid TOML" in error.message


def test_duplicate_slug_is_an_error(gazetteer: Gazetteer) -> None:
    source = '[[cooperative]]\nslug = "a1"\nname = "A"\ncategories = ["spesa"]\ncomuni = ["039014"]\n' * 2
    _, [error] = parse(source, categories=CATEGORIES, gazetteer=gazetteer)
    assert (error.line, error.field) == (7, "cooperative[2].slug")


def test_the_shipped_ravenna_example_is_valid(gazetteer: Gazetteer) -> None:
    specs, errors = parse(EXAMPLE.read_text(encoding="utf-8"), categories=CATEGORIES, gazetteer=gazetteer)
    assert errors == []
    assert [s.slug for s in specs] == ["cantiere-ravenna", "famiglie-romagna", "lavoro-emilia-romagna"]


async def _counts(core: Core) -> tuple[int, int, int]:
    async with core.sessions() as session:
        found = [
            int((await session.execute(select(func.count()).select_from(m))).scalar_one())
            for m in (Cooperative, CooperativeTerritory, CooperativeCategory)
        ]
    return found[0], found[1], found[2]


async def test_import_is_idempotent_and_updates_in_place(
    core: Core, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await import_file(core, EXAMPLE) == 0
    first = await _counts(core)
    assert await import_file(core, EXAMPLE) == 0
    assert await _counts(core) == first == (3, 5, 8)
    assert capsys.readouterr().out.splitlines() == [
        "3 cooperative(s): 3 created, 0 updated, 0 unchanged",
        "3 cooperative(s): 0 created, 0 updated, 3 unchanged",
    ]
    changed = tmp_path / "coops.toml"
    changed.write_text(EXAMPLE.read_text(encoding="utf-8").replace('"039016",   # Russi', ""), encoding="utf-8")
    assert await import_file(core, changed) == 0
    assert await _counts(core) == (3, 4, 8)
    assert "0 created, 1 updated, 2 unchanged" in capsys.readouterr().out


async def test_invalid_file_imports_nothing(core: Core, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(BROKEN, encoding="utf-8")
    assert await import_file(core, path) == 1
    err = capsys.readouterr().err
    assert f"{path}:13: cooperative[2].categories: unknown category 'spessa'" in err
    assert await _counts(core) == (0, 0, 0)


async def test_invite_prints_a_code_that_expires(core: Core, capsys: pytest.CaptureFixture[str]) -> None:
    await import_file(core, EXAMPLE)
    capsys.readouterr()
    assert await invite(core, slug="cantiere-ravenna", days=3, role="operatore") == 0
    out = capsys.readouterr().out.splitlines()
    code = out[0]
    assert len(code) == 9 and code[4] == "-" and f"/operatore {code}" in out[1]
    async with core.sessions() as session:
        row = (await session.execute(select(Invite))).scalar_one()
    assert row.code == code.replace("-", "") and (row.expires_at - row.created_at).days == 3
    assert await invite(core, slug="nessuna", days=None, role="operatore") == 1


def test_cli_import_invite_and_digest_print(tmp_path: Path) -> None:
    from tests.bot.cli.test_main import ascolto

    env = {
        "ASCOLTO_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'a.sqlite3'}",
        "ASCOLTO_SCHEDULER__DIGEST_DIR": str(tmp_path / "digests"),
    }
    imported = ascolto("coops", "import", str(EXAMPLE), env=env)
    assert imported.returncode == 0, imported.stderr
    code = ascolto("invite", "cantiere-ravenna", env=env)
    assert code.returncode == 0 and "/operatore" in code.stdout
    printed = ascolto("digest", "cantiere-ravenna", "--print", "--at", "2026-11-23T09:00", env=env)
    assert printed.returncode == 0, printed.stderr
    assert "Riepilogo di Cooperativa Sociale Il Cantiere\ndal 16 novembre 2026 al 23 novembre 2026" in printed.stdout
    assert "[chart: " in printed.stdout and list((tmp_path / "digests").glob("*.png"))


def test_a_digest_written_in_italian_is_stored_as_its_cron(gazetteer: Gazetteer) -> None:
    text = '[[cooperative]]\nslug = "faro"\nname = "Il Faro"\ndigest = "ogni venerdì alle 18"\ncategories = ["spesa"]\ncomuni = ["039014"]\n'
    [spec], errors = parse(text, categories=CATEGORIES, gazetteer=gazetteer)
    assert errors == [] and spec.digest_cron == "0 18 * * fri"
