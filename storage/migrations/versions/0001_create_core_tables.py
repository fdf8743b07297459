"""create core tables

Revision ID: 0001
Revises:
Create Date: 2026-11-23 20:31:19.648586
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The categories the cooperatives started with (issue 3); admins manage them later.
CATEGORIES = [
    ("anziani", "Assistenza domiciliare e anziani", "Home care and older people"),
    ("disabilita", "Disabilità", "Disability"),
    ("famiglia", "Famiglia e infanzia", "Family and children"),
    ("salute", "Salute, farmaci e dispositivi", "Health, medicines and aids"),
    ("spesa", "Spesa e beni di prima necessità", "Shopping and essentials"),
    ("casa", "Casa e abitare", "Home and housing"),
    ("lavoro", "Lavoro e formazione", "Work and training"),
    ("solitudine", "Solitudine e compagnia", "Loneliness and company"),
    ("trasporto", "Trasporto e accompagnamento", "Transport and accompaniment"),
    ("altro", "Altro", "Other"),
]


def upgrade() -> None:

    op.create_table('category',
    sa.Column('slug', sa.String(length=32), nullable=False),
    sa.Column('name_it', sa.String(length=80), nullable=False),
    sa.Column('name_en', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('slug')
    )
    op.create_table('citizen',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('consent_version', sa.Integer(), nullable=True),
    sa.Column('consent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('is_unreachable', sa.Boolean(), nullable=False),
    sa.Column('last_inbound_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('channel', 'external_id', name='uq_citizen_channel_external')
    )
    op.create_table('comune',
    sa.Column('istat_code', sa.String(length=6), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('province_code', sa.String(length=2), nullable=False),
    sa.Column('province_name', sa.String(length=80), nullable=False),
    sa.Column('region', sa.String(length=40), nullable=False),
    sa.Column('caps', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('istat_code')
    )
    with op.batch_alter_table('comune', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comune_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_comune_province_code'), ['province_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_comune_region'), ['region'], unique=False)

    op.create_table('conversation',
    sa.Column('citizen_id', sa.Integer(), nullable=False),
    sa.Column('flow_id', sa.String(length=32), nullable=True),
    sa.Column('flow_version', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.String(length=32), nullable=True),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('history', sa.JSON(), nullable=False),
    sa.Column('misses', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizen.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('citizen_id')
    )
    op.create_table('inbound_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('citizen_id', sa.Integer(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizen.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('channel', 'external_id', name='uq_inbound_channel_external')
    )
    op.create_table('need',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('ticket', sa.String(length=8), nullable=False),
    sa.Column('citizen_id', sa.Integer(), nullable=True),
    sa.Column('category_slug', sa.String(length=32), nullable=False),
    sa.Column('description', sa.String(length=1000), nullable=False),
    sa.Column('comune_istat', sa.String(length=6), nullable=False),
    sa.Column('urgency', sa.String(length=8), nullable=False),
    sa.Column('contact_method', sa.String(length=16), nullable=False),
    sa.Column('contact_phone', sa.String(length=20), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['category_slug'], ['category.slug'], ),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizen.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['comune_istat'], ['comune.istat_code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ticket')
    )
    with op.batch_alter_table('need', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_need_category_slug'), ['category_slug'], unique=False)
        batch_op.create_index(batch_op.f('ix_need_citizen_id'), ['citizen_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_need_comune_istat'), ['comune_istat'], unique=False)
        batch_op.create_index(batch_op.f('ix_need_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_need_status'), ['status'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('recipient', sa.String(length=64), nullable=False),
    sa.Column('citizen_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('number_hint', sa.String(length=200), nullable=False),
    sa.Column('conversation_version', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('provider_message_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizen.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_provider_message_id'), ['provider_message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_recipient'), ['recipient'], unique=False)

    op.create_table('need_attachment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('need_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('ref', sa.String(length=500), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['need_id'], ['need.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('need_attachment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_need_attachment_need_id'), ['need_id'], unique=False)

    op.create_table('need_status_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('need_id', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=20), nullable=True),
    sa.Column('to_status', sa.String(length=20), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('note', sa.String(length=1000), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['need_id'], ['need.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('need_status_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_need_status_change_need_id'), ['need_id'], unique=False)



    category = sa.table(
        "category",
        sa.column("slug", sa.String),
        sa.column("name_it", sa.String),
        sa.column("name_en", sa.String),
        sa.column("position", sa.Integer),
        sa.column("is_active", sa.Boolean),
    )
    op.bulk_insert(
        category,
        [
            {"slug": slug, "name_it": it, "name_en": en, "position": i, "is_active": True}
            for i, (slug, it, en) in enumerate(CATEGORIES, start=1)
        ],
    )


def downgrade() -> None:

    with op.batch_alter_table('need_status_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_need_status_change_need_id'))

    op.drop_table('need_status_change')
    with op.batch_alter_table('need_attachment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_need_attachment_need_id'))

    op.drop_table('need_attachment')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_recipient'))
        batch_op.drop_index(batch_op.f('ix_outbox_provider_message_id'))
        batch_op.drop_index('ix_outbox_due')

    op.drop_table('outbox')
    with op.batch_alter_table('need', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_need_status'))
        batch_op.drop_index(batch_op.f('ix_need_created_at'))
        batch_op.drop_index(batch_op.f('ix_need_comune_istat'))
        batch_op.drop_index(batch_op.f('ix_need_citizen_id'))
        batch_op.drop_index(batch_op.f('ix_need_category_slug'))

    op.drop_table('need')
    op.drop_table('inbound_event')
    op.drop_table('conversation')
    with op.batch_alter_table('comune', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comune_region'))
        batch_op.drop_index(batch_op.f('ix_comune_province_code'))
        batch_op.drop_index(batch_op.f('ix_comune_name'))

    op.drop_table('comune')
    op.drop_table('citizen')
    op.drop_table('category')

