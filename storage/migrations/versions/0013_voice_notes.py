"""voice notes: transcription claims with a lease, and the transcript next to its attachment

`voice_note` is the transcriber's queue (`bot/voice.py`, claimed like the media fetcher's
downloads: a conditional update moves `due_at` to the end of a lease) and keeps the words it
heard; `need_attachment.transcript` shows them to operators next to the audio. Both are personal
data: erasure deletes a citizen's notes, retention deletes notes after `privacy.files_days` and
the transcripts with the rest of a need's attachments.

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-03 17:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "voice_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=500), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("step", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=64), nullable=True),
        sa.Column("transcript", sa.Text(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizen.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_voice_note_citizen_id", "voice_note", ["citizen_id"], unique=False)
    op.create_index("ix_voice_note_due", "voice_note", ["status", "due_at"], unique=False)
    with op.batch_alter_table("need_attachment") as batch_op:
        batch_op.add_column(sa.Column("transcript", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("need_attachment") as batch_op:
        batch_op.drop_column("transcript")
    op.drop_index("ix_voice_note_due", table_name="voice_note")
    op.drop_index("ix_voice_note_citizen_id", table_name="voice_note")
    op.drop_table("voice_note")
