"""Need categories: data, so admins can add and rename them without a deploy."""

from __future__ import annotations

from sqlmodel import Field, SQLModel

from conversations.understanding.meaning import split_synonyms


class Category(SQLModel, table=True):
    __tablename__ = "category"

    slug: str = Field(primary_key=True, max_length=32)
    name_it: str = Field(max_length=80)
    name_en: str = Field(max_length=80)
    position: int = 0
    is_active: bool = True
    synonyms: str = Field(default="", max_length=2000, sa_column_kwargs={"server_default": ""})
    """Comma-separated words people use for it ("sola, compagnia, nessuno con cui parlare"), matched by lemma."""

    def words(self) -> tuple[str, ...]:
        return split_synonyms(self.synonyms)

    def name(self, language: str) -> str:
        return self.name_en if language == "en" and self.name_en else self.name_it
