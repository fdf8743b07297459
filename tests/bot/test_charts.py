"""Charts that read well (issue 17, part 6): nothing cut, an empty week clean, suppressed cells marked, SVG accessible and escaped.

The PNG is checked on matplotlib's own text metrics (each text's window extent within the canvas),
through the figure the digest job saves, so the same test held the old chart to account.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text as MplText
from telegram import Bot

from bot.charts import Chart, Series, layout, png, svg
from bot.charts.layout import Scale
from bot.charts.model import MUTED, PALETTE, Box, Text
from bot.charts.text import text_width, wrap
from bot.app import build_core
from bot.config import SchedulerSettings
from bot.dispatcher import Dispatcher
from bot.jobs.chart import HIDDEN, digest_chart, render_chart
from bot.jobs.digest import send_digest
from conversations.digest import Count, DigestFigures
from handlers.telegram import TelegramSender
from tests.conftest import make_settings
from tests.fakes.telegram_api import FakeTelegram
from tests.helpers.clock import START, FakeClock
from tests.helpers.coops import RAVENNA, add_coop, add_operator

NS = {"s": "http://www.w3.org/2000/svg"}
TITLE = "Il Cantiere Sociale di Ravenna: richieste per argomento, dal 30 novembre 2026 al 7 dicembre 2026"
CUT_TITLE = "dal 30 novembre 2026 al 7 dicembre 2026"
LONG_LABEL = "Assistenza domiciliare e anziani"
EMPTY = "Nessuna richiesta in questo periodo"


def digest(*rows: tuple[str, int, int]) -> DigestFigures:
    counts = tuple(Count(label.lower()[:8], label, now, previous=before) for label, now, before in rows)
    start = datetime(2026, 11, 30, 7, tzinfo=UTC)
    return DigestFigures("Il Cantiere", start, start, sum(c.count for c in counts), 0, counts, (), (), 0, (), None, None)


BUSY_WEEK = digest((LONG_LABEL, 12, 7), ("Spesa e beni di prima necessità", 4, 9), ("Casa", 2, 0))
EMPTY_WEEK = digest()


def two_series(*labels: str, now: list[int | None], before: list[int | None], title: str = TITLE) -> Chart:
    return Chart(title, list(labels), [Series("questo periodo", now), Series("periodo prima", before)])


def parse(chart: Chart) -> ET.Element:
    return ET.fromstring(svg(chart))


def visible_text(root: ET.Element) -> str:
    """The drawn text, line after line (a wrapped title or label reads whole again, spaces between lines)."""
    return " ".join("".join(t.itertext()) for t in root.iterfind(".//s:text", NS))


# --- the PNG the digest sends -----------------------------------------------------


@pytest.fixture
def saved_figures(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Figure]]:
    """Every matplotlib figure saved during the test, whoever draws it."""
    saved: list[Figure] = []
    original = Figure.savefig

    def spy(self: Figure, *args: Any, **kwargs: Any) -> None:
        saved.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    yield saved


def drawn_texts(fig: Figure) -> list[MplText]:
    return [t for t in fig.findobj(MplText) if t.get_visible() and t.get_text().strip()]


def assert_texts_inside(fig: Figure) -> None:
    """Each drawn text's extent, as matplotlib's renderer measures it, lies within the canvas."""
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    width, height = fig.canvas.get_width_height()
    for text in drawn_texts(fig):
        box = text.get_window_extent(renderer)
        assert 0 <= box.x0 and box.x1 <= width and 0 <= box.y0 and box.y1 <= height, (text.get_text(), box, (width, height))


def draw_digest(figures: DigestFigures, tmp_path: Path, saved: list[Figure]) -> Figure:
    path = render_chart(figures, tmp_path / "digest.png", title=f"Il Cantiere Sociale di Ravenna: richieste per argomento, {CUT_TITLE}",
                        current="questo periodo", previous="periodo prima", empty=EMPTY)  # fmt: skip
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    [fig] = saved
    return fig


def test_the_digest_png_has_its_title_and_labels_whole_and_inside_the_image(tmp_path: Path, saved_figures: list[Figure]) -> None:
    fig = draw_digest(BUSY_WEEK, tmp_path, saved_figures)
    assert_texts_inside(fig)
    words = " ".join(t.get_text() for t in drawn_texts(fig))
    assert CUT_TITLE in words and LONG_LABEL in words and "…" not in words


def test_an_empty_week_draws_a_clean_axis_and_says_so(tmp_path: Path, saved_figures: list[Figure]) -> None:
    fig = draw_digest(EMPTY_WEEK, tmp_path, saved_figures)
    words = [t.get_text() for t in drawn_texts(fig)]
    assert EMPTY in " ".join(words)
    numbers = [w for w in words if re.fullmatch(r"[-−]?[\d.,]+", w)]
    assert numbers and all(not n.startswith(("-", "−")) for n in numbers), numbers  # an axis from 0, nothing below it
    assert "—" not in words  # no placeholder category


def test_the_png_of_a_trend_keeps_every_text_inside(tmp_path: Path, saved_figures: list[Figure]) -> None:
    months = ["gennaio 2026", "febbraio 2026", "marzo 2026", "aprile 2026"]
    chart = Chart("Richieste per mese", months, [Series("Provincia di Ravenna senza il capoluogo", [30, None, 12, 51])], kind="trend")
    png(chart, tmp_path / "trend.png")
    [fig] = saved_figures
    assert_texts_inside(fig)


def test_the_width_table_is_never_narrower_than_the_font_the_png_draws(saved_figures: list[Figure], tmp_path: Path) -> None:
    """The SVG relies on the table: a line it measured must not come out wider in DejaVu Sans."""
    png(Chart(TITLE, [LONG_LABEL, "àèéìòù ÀÈÉ «€» — 1.234", "Bollette da 50$ a 100$"], [Series("x", [3, 9, 4])]), tmp_path / "c.png")
    [fig] = saved_figures
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    assert "Bollette da 50$ a 100$" in [t.get_text() for t in drawn_texts(fig)]  # dollars are text, not mathtext
    for text in drawn_texts(fig):
        measured = text.get_window_extent(renderer).width / fig.dpi * 100  # back to layout pixels
        size = float(text.get_fontsize()) * 100 / 72
        assert measured <= text_width(text.get_text(), size, bold=text.get_fontweight() == "bold") + 1, text.get_text()  # whole pixels


# --- the SVG the pages inline -----------------------------------------------------


def test_the_cut_strings_appear_whole_in_the_svg() -> None:
    root = parse(two_series(LONG_LABEL, "Casa", now=[12, 2], before=[7, 0]))
    shown = visible_text(root)
    assert CUT_TITLE in shown and LONG_LABEL in shown and "…" not in shown
    assert root.findtext("s:title", namespaces=NS) == TITLE


def test_long_labels_wrap_over_lines_and_stay_inside_the_canvas() -> None:
    label = "Sostegno alle famiglie con figli piccoli, doposcuola e centri estivi per ragazzi"
    drawn = layout(replace(two_series(label, now=[3], before=[8]), width=480))
    texts = [i for i in drawn.items if isinstance(i, Text)]
    assert " ".join(t.text for t in texts if t.x == 16 and not t.bold).startswith(label)
    for t in texts:
        left = t.x - {"start": 0.0, "middle": 0.5, "end": 1.0}[t.anchor] * text_width(t.text, t.size, bold=t.bold)
        assert 0 <= left and left + text_width(t.text, t.size, bold=t.bold) <= drawn.width, t.text


def test_a_word_wider_than_a_line_is_broken_not_dropped() -> None:
    word = "Supercalifragilistichespiralidoso" * 3
    lines = wrap(f"Il {word} qui", 120, 13)
    assert "".join(lines).replace(" ", "") == f"Il{word}qui"
    assert all(text_width(line, 13) <= 120 for line in lines)


def test_the_svg_is_an_image_named_by_its_title_and_described_in_words() -> None:
    root = parse(two_series("Casa", "Lavoro", now=[12, 4], before=[7, 9]))
    assert root.get("role") == "img" and not root.findall(".//s:script", NS)
    title_id, desc_id = (root.get("aria-labelledby") or "").split()
    assert root.find(f"s:title[@id='{title_id}']", NS) is not None
    desc = root.find(f"s:desc[@id='{desc_id}']", NS)
    assert desc is not None and desc.text == f"{TITLE}. Casa: questo periodo 12, periodo prima 7; Lavoro: questo periodo 4, periodo prima 9."


@pytest.mark.parametrize(
    "chart",
    [
        pytest.param(two_series(LONG_LABEL, "Spesa e beni di prima necessità", "Casa", now=[12, 4, None], before=[7, 1_234, 0]), id="bars"),
        pytest.param(Chart("Richieste per mese", [f"{m} 2026" for m in ("gen", "feb", "mar", "apr", "mag", "giu") * 4],
                           [Series("Ravenna", [None if i % 7 == 3 else 1_000 + 37 * i for i in range(24)])], kind="trend"), id="dense-trend"),  # fmt: skip
        pytest.param(replace(two_series(LONG_LABEL, now=[1_234_567], before=[None]), width=320), id="narrow"),
    ],
)
def test_no_two_texts_overlap_and_all_stay_inside(chart: Chart) -> None:
    drawn = layout(chart)
    boxes = []
    for t in (i for i in drawn.items if isinstance(i, Text)):
        width = text_width(t.text, t.size, bold=t.bold)
        left = t.x - {"start": 0.0, "middle": 0.5, "end": 1.0}[t.anchor] * width
        boxes.append((t.text, left, t.y - 0.76 * t.size, left + width, t.y + 0.24 * t.size))  # DejaVu's cap height and descent
    for text, x0, y0, x1, y1 in boxes:
        assert 0 <= x0 and x1 <= drawn.width and 0 <= y0 and y1 <= drawn.height, text
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert a[3] <= b[1] or b[3] <= a[1] or a[4] <= b[2] or b[4] <= a[2], (a, b)


@pytest.mark.parametrize(("peak", "ticks"), [(0, [0, 1, 2, 3, 4, 5]), (6, [0, 2, 4, 6]), (12, [0, 5, 10, 15]), (99, [0, 20, 40, 60, 80, 100])])
def test_the_axis_has_round_ticks_from_zero(peak: int, ticks: list[int]) -> None:
    assert Scale.over(peak).ticks == ticks
    if peak:  # no step whose labels fit: 0 and one round top, still above the peak
        fallback = Scale.over(peak, lambda _: False)
        assert fallback.ticks == [0, fallback.top] and fallback.top >= peak


def test_text_that_xml_cannot_hold_is_dropped_not_fatal() -> None:
    root = parse(Chart("Casa\x00 e\x1b lavoro", ["a\x01b"], [Series("s", [3])]))
    assert "Casa e lavoro" in visible_text(root) and "ab" in visible_text(root)


def test_two_charts_on_one_page_keep_their_own_ids() -> None:
    first, second = parse(Chart("A", ["x"], [Series("s", [1])])), parse(Chart("B", ["x"], [Series("s", [1])]))
    assert first.get("aria-labelledby") != second.get("aria-labelledby")


def test_values_are_printed_at_the_bar_ends() -> None:
    drawn = layout(two_series("Casa", "Lavoro", now=[12, 4], before=[7, 1_234]))
    bars = [i for i in drawn.items if isinstance(i, Box) and not i.dashed and i.height > 14.5]  # not the legend swatches
    values = {(t.text, round(t.x)) for t in drawn.items if isinstance(t, Text)}
    assert len(bars) == 4
    assert {text for text, _ in values} >= {"12", "4", "7", "1.234"}
    for bar in bars:
        assert any(round(bar.x + bar.width + 4) == x for _, x in values), bar


def test_series_differ_without_colour_and_colours_pass_aa() -> None:
    root = parse(two_series("Casa", now=[12], before=[7]))
    fills = {r.get("fill") for r in root.iterfind(".//s:rect[@stroke]", NS) if r.get("stroke") != MUTED}
    patterns = {f"url(#{p.get('id')})" for p in root.iterfind(".//s:pattern", NS)}
    assert PALETTE[0] in fills and fills & patterns  # one solid, one hatched
    for text in root.iterfind(".//s:text", NS):
        assert contrast(text.get("fill") or "", "#ffffff") >= 4.5, text.get("fill")
    assert all(contrast(c, "#ffffff") >= 4.5 for c in PALETTE)


def test_a_suppressed_cell_is_a_marked_gap_with_its_label_not_a_bar() -> None:
    chart = two_series("Casa", "Lavoro", now=[12, None], before=[7, 9])
    root = parse(chart)
    dashed = root.findall(".//s:rect[@stroke-dasharray]", NS)
    assert len(dashed) == 1 and dashed[0].get("fill") == "none"
    assert "< 5" in [t.text for t in root.iterfind(".//s:text", NS)]
    assert "Lavoro: questo periodo < 5, periodo prima 9" in (root.findtext("s:desc", namespaces=NS) or "")
    bars = [i for i in layout(chart).items if isinstance(i, Box) and not i.dashed and i.height > 14.5]
    assert len(bars) == 3  # 12, 7 and 9: nothing drawn for the hidden cell
    assert "< 3" in visible_text(parse(Chart("t", ["a"], [Series("s", [None])], suppressed_label="< 3")))


def test_a_suppressed_month_breaks_the_trend_line() -> None:
    root = parse(Chart("Per mese", ["gen", "feb", "mar", "apr"], [Series("Ravenna", [30, None, 12, 51])], kind="trend"))
    lines = [p for p in root.iterfind(".//s:polyline", NS) if p.get("stroke") == PALETTE[0]]
    assert [len((p.get("points") or "").split()) for p in lines] == [2]  # gen alone, then mar–apr: one segment
    assert "< 5" in visible_text(root) and "Ravenna" in visible_text(root)


@pytest.mark.parametrize(
    "chart",
    [
        pytest.param(Chart(TITLE, [], []), id="no-categories"),
        pytest.param(two_series("Casa", "Lavoro", now=[0, 0], before=[0, 0]), id="all-zero"),
        pytest.param(Chart(TITLE, ["gen", "feb"], [Series("Ravenna", [0, 0])], kind="trend"), id="trend-all-zero"),
    ],
)
def test_an_empty_chart_is_a_clean_axis_with_a_message(chart: Chart) -> None:
    text = svg(chart)
    root = ET.fromstring(text)
    assert EMPTY in visible_text(root) and EMPTY in (root.findtext("s:desc", namespaces=NS) or "")
    assert not re.search(r"nan|inf", text, re.IGNORECASE)
    for element in root.iter():
        for name, value in element.attrib.items():
            for number in re.findall(r"-?\d+(?:\.\d+)?", value) if name in NUMERIC else ():
                assert math.isfinite(float(number)) and float(number) >= 0, (element.tag, name, value)
    assert not root.findall(".//s:rect[@stroke='#0066cc']", NS)  # no bar


def test_a_negative_count_is_refused_not_drawn() -> None:
    with pytest.raises(ValueError, match="negative"):
        Chart("t", ["a"], [Series("s", [-1])])


def test_all_text_is_escaped() -> None:
    nasty = '<script>alert("x")</script> & Co'
    chart = Chart(f"{nasty} — richieste", [nasty, "Casa & lavoro"], [Series("a <b>", [3, 6])], suppressed_label="< 5")
    root = parse(chart)
    assert not root.findall(".//s:script", NS) and not root.findall(".//script")
    shown = visible_text(root)
    assert nasty in shown and "Casa & lavoro" in shown
    assert nasty in (root.findtext("s:title", namespaces=NS) or "")


# --- the digest, end to end ---------------------------------------------------------


async def test_an_empty_week_s_digest_still_goes_out_as_a_photo(db_url: str, clock: FakeClock, tmp_path: Path) -> None:
    """The scheduler's job, the outbox, the dispatcher and the real Telegram sender against the fake Bot API."""
    core = await build_core(make_settings(db_url, scheduler=SchedulerSettings(digest_dir=tmp_path)), clock=clock)
    chat = 4242
    try:
        coop = await add_coop(core, "cantiere", comuni=(RAVENNA,))
        await add_operator(core, coop, str(chat), channel="telegram")
        assert (await send_digest(core, coop, START)).outcome == "sent"
        async with FakeTelegram() as fake, Bot(fake.token, base_url=fake.base_url) as bot:
            await Dispatcher(core.sessions, {"telegram": TelegramSender(bot)}, clock=clock).run_once()
            methods = [m.method for m in fake.messages_to(chat)]
    finally:
        await core.close()
    assert methods[-1] == "sendPhoto"
    [image] = tmp_path.glob("cantiere-*.png")
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


NUMERIC = {"x", "y", "width", "height", "viewBox", "points", "cx", "cy", "r", "font-size"}


def contrast(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours."""

    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_digest_chart_hides_the_counts_the_digest_text_hides() -> None:
    """A chart may be forwarded like the text: a "2" must not reappear as a bar, nor be left to work out from the total."""
    week = digest(("Spesa", 12, 9), ("Compagnia", 2, 0), ("Trasporti", 7, 1))
    chart = digest_chart(week, title=TITLE, current="questa settimana", previous="la settimana prima", empty=EMPTY)
    now, before = (list(s.values) for s in chart.series)
    assert now[1] is None and 2 not in now  # under 5
    assert sum(v is None for v in now) >= 2  # and one more, or 21 - 12 - 7 gives it away
    assert before[1] == 0 and before[2] is None and 1 not in before
    assert sum(v is None for v in before) >= 2
    assert chart.suppressed_label == HIDDEN
    assert digest_chart(week, title=TITLE, current="a", previous="b", empty=EMPTY, threshold=3).series[0].values[1] is None
