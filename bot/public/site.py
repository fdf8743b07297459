"""The public pages: Starlette routes rendering Jinja2 templates (no JavaScript needed to read anything)."""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path
from typing import Final

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.config import PublicSettings
from bot.public import opendata, views
from bot.public.figures import CACHED, Figures, Page, parse_month
from conversations import Msg, Translator
from conversations.demand import Level
from conversations.disclosure import is_small

logger = logging.getLogger(__name__)

HERE: Final = Path(__file__).resolve().parent
LANGUAGES: Final = ("it", "en")


class Site:
    """Everything a public page needs, built once at start-up (`bot.channels` mounts `routes()`)."""

    def __init__(self, figures: Figures, translator: Translator, settings: PublicSettings, *, language: str = "it") -> None:
        self.figures = figures
        self.translator = translator
        self.settings = settings
        self.language = language
        self._html: OrderedDict[tuple[str, str, str], tuple[Page, bytes]] = OrderedDict()
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(), trim_blocks=True, lstrip_blocks=True)

    def lang(self, request: Request) -> str:
        asked = request.query_params.get("lang", "")
        return asked if asked in LANGUAGES else self.language

    def text(self, lang: str) -> views.Text:
        def t(msgid: str, **params: object) -> str:
            return self.translator.format(Msg(msgid, params), lang)

        return t

    def render(self, request: Request, template: str, status: int = 200, **context: object) -> HTMLResponse:
        lang = self.lang(request)
        suffix = "" if lang == self.language else f"?lang={lang}"
        html = self.env.get_template(template).render(
            t=self.text(lang), lang=lang, q=suffix, path=request.url.path, threshold=self.settings.threshold, **context
        )
        return HTMLResponse(html, status_code=status)

    async def page_of(self, request: Request) -> Page | None:
        try:
            level = Level(request.path_params["level"])
        except ValueError:
            return None
        end = parse_month(request.query_params.get("fine"))
        return await self.figures.page(level, request.path_params["code"], end, self.lang(request))

    async def index(self, request: Request) -> Response:
        return self.render(request, "index.html", places=await self.figures.places())

    async def territory(self, request: Request) -> Response:
        page = await self.page_of(request)
        if page is None:
            return self.render(request, "missing.html", status=404)
        total = page.figures.by_month.total.value
        if total is None or is_small(total, threshold=self.settings.threshold):
            return self.render(request, "small.html", page=page)
        return self.rendered(request, "territory.html", page)

    async def dossier(self, request: Request) -> Response:
        page = await self.page_of(request)
        if page is None:
            return self.render(request, "missing.html", status=404)
        return self.rendered(request, "dossier.html", page)

    def rendered(self, request: Request, template: str, page: Page) -> Response:
        """A page of figures, rendered once per cached `Page`: the tables' numbers are formatted once, not per visit."""
        key = (template, request.url.path, request.url.query)
        hit = self._html.get(key)
        if hit is not None and hit[0] is page:
            return HTMLResponse(hit[1])
        response = self.render(request, template, page=page, v=self.view(page, self.lang(request)), settings=self.settings)
        self._html[key] = (page, bytes(response.body))
        while len(self._html) > CACHED:
            self._html.popitem(last=False)
        return response

    async def data_index(self, request: Request) -> Response:
        return self.render(request, "data.html", places=await self.figures.places(), settings=self.settings)

    def view(self, page: Page, lang: str) -> dict[str, object]:
        t, f = self.text(lang), page.figures
        months = [views.month_label(m, lang) for m in f.months]
        return {
            "period": views.period_label(f.months, lang),
            "by_month": views.table_view(
                f.by_month, caption=t("public.table_by_month"), corner=t("public.category"), columns=months, total=t("public.total"), language=lang
            ),
            "uncovered": views.table_view(
                f.uncovered, caption=t("public.table_uncovered"), corner=t("public.category"), columns=months, total=t("public.total"), language=lang
            ),
            "by_comune": views.table_view(
                f.by_comune, caption=t("public.table_by_comune"), corner=t("public.comune"), columns=f.by_month.rows, total=t("public.total"), language=lang
            ),
            "comune_links": [None if key.startswith("altri:") else key for key in f.comune_keys],
            "category_chart": views.category_chart(
                f, title=t("public.chart_categories"), current=t("public.this_period"), previous=t("public.year_before")
            ),
            "month_chart": views.month_chart(f, title=t("public.chart_months"), series=t("public.needs"), language=lang),
            "uncovered_chart": views.uncovered_chart(f, title=t("public.chart_uncovered"), series=t("public.needs")),
            "trend_rows": views.trend_rows(f, lang),
            "number": lambda x: views.number(x, lang),
        }

    def routes(self) -> list[BaseRoute]:
        data = opendata.OpenData(self.page_of, self.figures, self.settings)
        return [
            Route("/", self.index, methods=["GET"]),
            Route("/territorio/{level}/{code}", self.territory, methods=["GET"]),
            Route("/territorio/{level}/{code}/analisi-dei-bisogni", self.dossier, methods=["GET"]),
            Route("/dati", self.data_index, methods=["GET"]),
            Route("/dati/catalogo.jsonld", data.catalog, methods=["GET"]),
            Route("/dati/{level}/{code}/{name}.{fmt}", data.dataset, methods=["GET"]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ]
