"""Need categories: data, so admins can add and rename them without a deploy."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class Category(SQLModel, table=True):
    __tablename__ = "category"

    slug: str = Field(primary_key=True, max_length=32)
    name_it: str = Field(max_length=80)
    name_en: str = Field(max_length=80)
    position: int = 0
    is_active: bool = True

    def name(self, language: str) -> str:
        return self.name_en if language == "en" and self.name_en else self.name_it
