"""contacts.updated_at: a contact's OneRoster ``dateLastModified`` moves when the contact is edited, as a
pupil's and a member of staff's do (issue 14).

Until now a contact had only ``created_at``, so its ``dateLastModified`` was the day it was made whatever
changed after (an import renaming it, a new e-mail, its leaving), and a partner asking for
``filter=dateLastModified>'...'`` never heard of an edited parent. The importer now stamps it on every
update and deactivation of a contact, as it does staff and pupils (the application's clock). NULL for
rows last written before: ``dateLastModified`` falls back to ``created_at``, as before.

Revision ID: 0030
Revises: 0029
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("contacts", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("contacts", "updated_at")
