"""cooperatives and operators: territory, categories, invites, routing, follow-ups, digests, audit log

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 21:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('need_id', sa.String(length=32), nullable=True),
    sa.Column('cooperative_id', sa.Integer(), nullable=True),
    sa.Column('operator_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.String(length=120), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_need_id'), ['need_id'], unique=False)

    op.create_table('cooperative',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('digest_cron', sa.String(length=64), nullable=False),
    sa.Column('timezone', sa.String(length=40), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('slug')
    )
    op.create_table('cooperative_category',
    sa.Column('cooperative_id', sa.Integer(), nullable=False),
    sa.Column('category_slug', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['category_slug'], ['category.slug'], ),
    sa.ForeignKeyConstraint(['cooperative_id'], ['cooperative.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('cooperative_id', 'category_slug')
    )
    op.create_table('cooperative_territory',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cooperative_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['cooperative_id'], ['cooperative.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('cooperative_id', 'kind', 'code', name='uq_territory_coop_kind_code')
    )
    with op.batch_alter_table('cooperative_territory', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cooperative_territory_code'), ['code'], unique=False)

    op.create_table('digest_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cooperative_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('period_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['cooperative_id'], ['cooperative.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('cooperative_id', 'period_start', name='uq_digest_run_coop_period')
    )
    op.create_table('operator',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cooperative_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('citizen_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizen.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['cooperative_id'], ['cooperative.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('channel', 'external_id', name='uq_operator_channel_external')
    )
    with op.batch_alter_table('operator', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_operator_cooperative_id'), ['cooperative_id'], unique=False)

    op.create_table('invite',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('cooperative_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('used_by_operator_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['cooperative_id'], ['cooperative.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['used_by_operator_id'], ['operator.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_table('follow_up',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('need_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answer', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['need_id'], ['need.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('need_id', 'kind', name='uq_follow_up_need_kind')
    )
    op.create_table('need_assignment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('need_id', sa.String(length=32), nullable=False),
    sa.Column('cooperative_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('routed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('declined_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('declined_by_operator_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['cooperative_id'], ['cooperative.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['declined_by_operator_id'], ['operator.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['need_id'], ['need.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('need_id', 'cooperative_id', name='uq_assignment_need_coop')
    )
    with op.batch_alter_table('need_assignment', schema=None) as batch_op:
        batch_op.create_index('ix_assignment_coop_routed', ['cooperative_id', 'routed_at'], unique=False)

    op.create_table('need_note',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('need_id', sa.String(length=32), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.String(length=1000), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['need_id'], ['need.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['operator_id'], ['operator.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('need_note', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_need_note_need_id'), ['need_id'], unique=False)

    with op.batch_alter_table('need', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by_cooperative_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('claimed_by_operator_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('follow_up_answer', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('satisfaction', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('satisfaction_comment', sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column('anonymised_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_need_claimed_by_cooperative_id'), ['claimed_by_cooperative_id'], unique=False)
        batch_op.create_foreign_key('fk_need_claimed_by_cooperative', 'cooperative', ['claimed_by_cooperative_id'], ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key('fk_need_claimed_by_operator', 'operator', ['claimed_by_operator_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attachment_path', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('attachment_type', sa.String(length=64), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('attachment_type')
        batch_op.drop_column('attachment_path')

    with op.batch_alter_table('need', schema=None) as batch_op:
        batch_op.drop_constraint('fk_need_claimed_by_operator', type_='foreignkey')
        batch_op.drop_constraint('fk_need_claimed_by_cooperative', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_need_claimed_by_cooperative_id'))
        batch_op.drop_column('anonymised_at')
        batch_op.drop_column('satisfaction_comment')
        batch_op.drop_column('satisfaction')
        batch_op.drop_column('follow_up_answer')
        batch_op.drop_column('closed_at')
        batch_op.drop_column('resolved_at')
        batch_op.drop_column('claimed_at')
        batch_op.drop_column('claimed_by_operator_id')
        batch_op.drop_column('claimed_by_cooperative_id')

    with op.batch_alter_table('need_note', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_need_note_need_id'))

    op.drop_table('need_note')
    with op.batch_alter_table('need_assignment', schema=None) as batch_op:
        batch_op.drop_index('ix_assignment_coop_routed')

    op.drop_table('need_assignment')
    op.drop_table('follow_up')
    op.drop_table('invite')
    with op.batch_alter_table('operator', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_operator_cooperative_id'))

    op.drop_table('operator')
    op.drop_table('digest_run')
    with op.batch_alter_table('cooperative_territory', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cooperative_territory_code'))

    op.drop_table('cooperative_territory')
    op.drop_table('cooperative_category')
    op.drop_table('cooperative')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_need_id'))
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')
