"""category synonyms: words people use for each category, matched by lemma at the category question

Admins edit them with `/sinonimi_categoria SLUG parole, …`. The seeded categories get the words
below; categories added later start with none (their names are matched anyway).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Spelled out, not imported: a migration must not change when the code does. Comma-separated
# phrases; Italian and English alike (every word is lemmatised, so one form of a word is enough).
SYNONYMS = {
    "anziani": "anziano, anziana, vecchio, nonno, nonna, badante, assistenza domiciliare, igiene personale, "
    "lavarsi, vestirsi, pasti a domicilio, non autosufficiente, allettato, demenza, alzheimer, ricovero, "
    "casa di riposo, elderly, old",
    "disabilita": "disabile, invalido, invalidità, handicap, carrozzina, sedia a rotelle, autismo, autistico, "
    "sordo, cieco, non vedente, sindrome di down, legge 104, barriere architettoniche, wheelchair, disabled",
    "famiglia": "figlio, figlia, bambino, bimbo, neonato, ragazzo, minorenne, asilo, scuola, compiti, "
    "doposcuola, genitore, gravidanza, incinta, pannolino, babysitter, child, children, kids",
    "salute": "medico, dottore, farmaco, medicina, pillola, ricetta, farmacia, visita medica, esame, ospedale, "
    "malattia, malato, terapia, infermiere, pressione, diabete, stampella, dentista, occhiali, doctor, medicine",
    "spesa": "cibo, mangiare, alimentare, pane, pacco alimentare, supermercato, negozio, fame, generi alimentari, "
    "fare la spesa, market, food, groceries",
    "casa": "affitto, sfratto, bolletta, riscaldamento, appartamento, alloggio, senza casa, senzatetto, trasloco, "
    "muffa, riparazione, condominio, padrone di casa, housing, rent",
    "lavoro": "impiego, disoccupato, licenziato, curriculum, formazione, tirocinio, colloquio, stipendio, contratto, "
    "corso di italiano, job, work",
    "solitudine": "solitudine, compagnia, sentirsi solo, sentirsi sola, vivo solo, vivo sola, nessuno con cui parlare, "
    "fare due chiacchiere, chiacchierare, isolato, abbandonato, triste, tristezza, amicizia, lonely, alone",
    "trasporto": "accompagnare, accompagnamento, passaggio, macchina, autobus, pullman, taxi, navetta, "
    "spostarsi, ride, transport, lift",
    "altro": "",
}


def upgrade() -> None:
    with op.batch_alter_table("category") as batch_op:
        batch_op.add_column(sa.Column("synonyms", sa.String(length=2000), nullable=False, server_default=""))
    category = sa.table("category", sa.column("slug", sa.String), sa.column("synonyms", sa.String))
    for slug, words in SYNONYMS.items():
        op.execute(category.update().where(category.c.slug == slug).values(synonyms=words))


def downgrade() -> None:
    with op.batch_alter_table("category") as batch_op:
        batch_op.drop_column("synonyms")
