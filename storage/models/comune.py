"""The ISTAT list of comuni, copied from the shipped package so needs can reference it."""

from __future__ import annotations

from sqlalchemy import Text
from sqlmodel import Field, SQLModel


class ComuneRow(SQLModel, table=True):
    __tablename__ = "comune"

    istat_code: str = Field(primary_key=True, max_length=6)
    name: str = Field(max_length=80, index=True)
    province_code: str = Field(max_length=2, index=True)
    province_name: str = Field(max_length=80)
    region: str = Field(max_length=40, index=True)
    caps: str = Field(default="", sa_type=Text)
    """Space-separated CAPs."""
