"""tiles.prediction_views: how many test-time views made the tile's stored prediction (its heatmap and pending
footprints), so the Review page previews thresholds on the scale that prediction was thresholded on

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('tiles', sa.Column('prediction_views', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tiles') as batch:
        batch.drop_column('prediction_views')
