"""The house's rules, checked on the code's own imports: no cycle anywhere, small rooms in bot/."""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

PACKAGES = ("bot", "handlers", "conversations", "storage")
ROOT = Path(__file__).resolve().parent.parent
MAX_BOT_FILE_LINES = 320
"""'No file in bot/ over ~300 lines': the house is rooms a newcomer can read in one sitting."""


def _cycles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """Each module that can reach itself through imports, with one such chain."""
    found = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            chain = graph.find_shortest_chain(importer=imported, imported=module)
            if chain is not None:
                found.append((module, *chain))
                break
    return found


def test_no_module_imports_itself_through_others() -> None:
    # `if TYPE_CHECKING:` imports count too: a cycle there is still one a reader must hold in their head.
    graph = grimp.build_graph(*PACKAGES)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.x", "a.y"):
        graph.add_module(name)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.x")
    assert _cycles(graph)


@pytest.mark.parametrize("path", sorted((ROOT / "bot").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_file_in_bot_is_a_small_room(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_BOT_FILE_LINES
