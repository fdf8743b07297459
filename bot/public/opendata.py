"""Open data: each territory's protected figures as CSV and JSON at stable URLs, and a DCAT-AP_IT catalogue.

Columns (documented on `/dati` and in the README):

- ``domanda``: one row per category and month: territory level, code and name; the month's first and
  last day (ISO 8601); the category slug and name; ``richieste`` and ``scoperte`` (empty when
  hidden) with ``*_nota`` saying why (``< 5``: too few; ``n.d.``: hidden so that a small one cannot
  be computed from the totals).
- ``comuni``: one row per comune (ISTAT code as text, leading zeros kept; small comuni summed as
  ``altri comuni`` of their province, with an empty code) and category, over the whole period.
"""

from __future__ import annotations

import csv
import io
import json
from calendar import monthrange
from datetime import date
from collections.abc import Awaitable, Callable
from typing import Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.config import PublicSettings
from bot.public.figures import Figures, Page
from conversations.demand import Level
from conversations.disclosure import Cell, shown

DATASETS: Final = ("domanda", "comuni")
FORMATS: Final = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
DOMANDA: Final = (
    "territorio_livello", "territorio_codice", "territorio_nome", "mese_inizio", "mese_fine",
    "categoria", "categoria_nome", "richieste", "richieste_nota", "scoperte", "scoperte_nota",
)  # fmt: skip
COMUNI: Final = (
    "comune_istat", "comune_nome", "periodo_inizio", "periodo_fine", "categoria", "categoria_nome", "richieste", "richieste_nota",
)  # fmt: skip
EU: Final = "http://publications.europa.eu/resource/authority/"


def _last_day(day: date) -> date:
    return date(day.year, day.month, monthrange(day.year, day.month)[1])


def _value(cell: Cell, threshold: int) -> tuple[int | str, str]:
    return (cell.value, "") if cell.value is not None else ("", shown(cell, threshold=threshold))


def domanda_rows(page: Page) -> list[dict[str, object]]:
    f, t, th = page.figures, page.territory, page.figures.threshold
    rows: list[dict[str, object]] = []
    for i, slug in enumerate(f.slugs):
        for j, month in enumerate(f.months):
            n, n_note = _value(f.by_month.cells[i][j], th)
            u, u_note = _value(f.uncovered.cells[i][j], th)
            values = (t.level.value, t.code, t.name, month.isoformat(), _last_day(month).isoformat(), slug, f.by_month.rows[i], n, n_note, u, u_note)
            rows.append(dict(zip(DOMANDA, values, strict=True)))
    return rows


def comuni_rows(page: Page) -> list[dict[str, object]]:
    f, th = page.figures, page.figures.threshold
    start, end = f.months[0].isoformat(), _last_day(f.months[-1]).isoformat()
    rows: list[dict[str, object]] = []
    for r, key in enumerate(f.comune_keys):
        code = "" if key.startswith("altri:") else key
        for c, slug in enumerate(f.slugs):
            n, note = _value(f.by_comune.cells[r][c], th)
            values = (code, f.by_comune.rows[r], start, end, slug, f.by_month.rows[c], n, note)
            rows.append(dict(zip(COMUNI, values, strict=True)))
    return rows


class OpenData:
    """The open-data routes; `page_of` reads the territory and period a request names (`Site.page_of`)."""

    def __init__(self, page_of: Callable[[Request], Awaitable[Page | None]], figures: Figures, settings: PublicSettings) -> None:
        self.page_of = page_of
        self.figures = figures
        self.settings = settings

    async def dataset(self, request: Request) -> Response:
        name, fmt = request.path_params["name"], request.path_params["fmt"]
        if name not in DATASETS or fmt not in FORMATS:
            return Response("not found", status_code=404, media_type="text/plain")
        page = await self.page_of(request)
        if page is None:
            return Response("not found", status_code=404, media_type="text/plain")
        columns, rows = (DOMANDA, domanda_rows(page)) if name == "domanda" else (COMUNI, comuni_rows(page))
        if fmt == "json":
            return JSONResponse(
                {
                    "territorio": {"livello": page.territory.level.value, "codice": page.territory.code, "nome": page.territory.name},
                    "periodo": {"inizio": page.figures.months[0].isoformat(), "fine": _last_day(page.figures.months[-1]).isoformat()},
                    "soglia": page.figures.threshold,
                    "licenza": {"nome": self.settings.licence_name, "url": self.settings.licence_url},
                    "colonne": list(columns),
                    "righe": rows,
                }
            )
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
        filename = f"ascolto-{name}-{page.territory.level.value}-{page.territory.code}-{page.end_month:%Y-%m}.csv"
        return Response(
            out.getvalue().encode("utf-8"),
            media_type=FORMATS["csv"],
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    async def catalog(self, request: Request) -> Response:
        """DCAT-AP_IT (JSON-LD): one dataset per territory and table, each with its CSV and JSON distributions."""
        s = self.settings
        base = (s.base_url or str(request.base_url)).rstrip("/")
        modified = self.figures.default_end().isoformat()
        publisher = {"@type": ["foaf:Agent", "dcatapit:Agent"], "foaf:name": s.publisher}
        licence = {"@id": s.licence_url, "@type": ["dct:LicenseDocument", "dcatapit:LicenseDocument"], "foaf:name": s.licence_name}
        datasets = []
        for level, places in (await self.figures.places()).items():
            for code, name in places:
                for table in DATASETS:
                    path = f"{base}/dati/{level}/{code}/{table}"
                    datasets.append(
                        {
                            "@id": path,
                            "@type": ["dcat:Dataset", "dcatapit:Dataset"],
                            "dct:identifier": f"ascolto:{table}:{level}:{code}",
                            "dct:title": f"Ascolto: {table} – {Level(level).value} {name}",
                            "dct:description": f"Richieste dei cittadini alle cooperative sociali ({table}), {name}; conteggi sotto {s.threshold} non pubblicati.",
                            "dct:modified": {"@value": modified, "@type": "xsd:date"},
                            "dct:publisher": publisher,
                            "dct:rightsHolder": publisher,
                            "dct:accrualPeriodicity": {"@id": f"{EU}frequency/MONTHLY"},
                            "dcat:theme": {"@id": f"{EU}data-theme/SOCI"},
                            "dct:language": {"@id": f"{EU}language/ITA"},
                            "dcat:landingPage": {"@id": f"{base}/territorio/{level}/{code}"},
                            "dcat:distribution": [
                                {
                                    "@id": f"{path}.{fmt}",
                                    "@type": ["dcat:Distribution", "dcatapit:Distribution"],
                                    "dcat:accessURL": {"@id": f"{path}.{fmt}"},
                                    "dcat:downloadURL": {"@id": f"{path}.{fmt}"},
                                    "dct:format": {"@id": f"{EU}file-type/{fmt.upper()}"},
                                    "dcat:mediaType": FORMATS[fmt].split(";")[0],
                                    "dct:license": licence,
                                }
                                for fmt in FORMATS
                            ],
                        }
                    )
        body = {
            "@context": {
                "dcat": "http://www.w3.org/ns/dcat#",
                "dct": "http://purl.org/dc/terms/",
                "dcatapit": "http://dati.gov.it/onto/dcatapit#",
                "foaf": "http://xmlns.com/foaf/0.1/",
                "xsd": "http://www.w3.org/2001/XMLSchema#",
            },
            "@id": f"{base}/dati/catalogo.jsonld",
            "@type": ["dcat:Catalog", "dcatapit:Catalog"],
            "dct:title": "Ascolto: la domanda sociale dei territori",
            "dct:description": "Bisogni segnalati dai cittadini alle cooperative sociali, aggregati e protetti.",
            "dct:publisher": publisher,
            "dct:modified": {"@value": modified, "@type": "xsd:date"},
            "dct:language": {"@id": f"{EU}language/ITA"},
            "foaf:homepage": {"@id": f"{base}/"},
            "dcat:dataset": datasets,
        }
        return Response(json.dumps(body, ensure_ascii=False, indent=1), media_type="application/ld+json")
