"""kb: the knowledge base (categories, sections, articles, revisions, votes, follows, comments,
follower notifications) and its full-text search index.

The search index is dialect-specific and not described by the models (``kb.models.UNMANAGED_TABLES``):
- SQLite: ``kb_search``, an FTS5 table (porter stemming, prefix indexes, bm25 weighting title
  and labels above the body), one row per published article, rowid = article id; ``promoted``
  is carried unindexed for ranking. ``kb_search_titles`` indexes titles and labels
  alone.
- PostgreSQL: ``kb_search``, a table with a stored, weighted tsvector (title A, labels B, body C)
  and a GIN index on it, and a second one of the title and labels alone.
Beside it, on both, ``kb_search_words``: the distinct words of the indexed articles with the
number of articles using each, kept in byte order, so a half-typed word can be completed.
``kb.search`` keeps both up to date; ``flask --app wsgi kb reindex`` rebuilds them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 23:05:12.721166
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE kb_search USING fts5(title, labels, body, promoted UNINDEXED, "
    "tokenize = 'porter unicode61 remove_diacritics 2', prefix = '2 3 4')",
    # Title hits weigh ten times a body hit, label hits five times.
    "INSERT INTO kb_search(kb_search, rank) VALUES ('rank', 'bm25(10.0, 5.0, 1.0, 0.0)')",
    # Titles and labels alone: small, so quick to search.
    "CREATE VIRTUAL TABLE kb_search_titles USING fts5(title, labels, promoted UNINDEXED, "
    "tokenize = 'porter unicode61 remove_diacritics 2', prefix = '2 3 4')",
    "CREATE TABLE kb_search_words (word TEXT PRIMARY KEY, articles INTEGER NOT NULL) WITHOUT ROWID",
)
POSTGRESQL_SEARCH = (
    """CREATE TABLE kb_search (
        article_id integer PRIMARY KEY REFERENCES kb_articles (id) ON DELETE CASCADE,
        title text NOT NULL,
        labels text NOT NULL,
        body text NOT NULL,
        promoted boolean NOT NULL DEFAULT false,
        document tsvector GENERATED ALWAYS AS (
            setweight(to_tsvector('english', title), 'A')
            || setweight(to_tsvector('english', labels), 'B')
            || setweight(to_tsvector('english', body), 'C')
        ) STORED,
        title_document tsvector GENERATED ALWAYS AS (
            setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', labels), 'B')
        ) STORED
    )""",
    "CREATE INDEX ix_kb_search_document ON kb_search USING gin (document)",
    "CREATE INDEX ix_kb_search_title_document ON kb_search USING gin (title_document)",
    'CREATE TABLE kb_search_words (word text COLLATE "C" PRIMARY KEY, articles integer NOT NULL)',
)


def upgrade() -> None:
    op.create_table('kb_categories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('slug', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kb_categories')),
    sa.UniqueConstraint('slug', name=op.f('uq_kb_categories_slug'))
    )
    op.create_table('kb_sections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('slug', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['kb_categories.id'], name=op.f('fk_kb_sections_category_id_kb_categories'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kb_sections')),
    sa.UniqueConstraint('category_id', 'slug', name='uq_kb_sections_category_slug')
    )
    with op.batch_alter_table('kb_sections', schema=None) as batch_op:
        batch_op.create_index('ix_kb_sections_category_position', ['category_id', 'position'], unique=False)

    op.create_table('kb_articles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('section_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('slug', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('keys', sa.JSON(), nullable=False),
    sa.Column('promoted', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('comments_enabled', sa.Boolean(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('published_at', sa.DateTime(), nullable=True),
    sa.Column('view_count', sa.Integer(), nullable=False),
    sa.Column('votes_up', sa.Integer(), nullable=False),
    sa.Column('votes_down', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'published', 'archived')", name=op.f('ck_kb_articles_status')),
    sa.ForeignKeyConstraint(['author_id'], ['agents.id'], name=op.f('fk_kb_articles_author_id_agents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['section_id'], ['kb_sections.id'], name=op.f('fk_kb_articles_section_id_kb_sections'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kb_articles')),
    sa.UniqueConstraint('slug', name=op.f('uq_kb_articles_slug'))
    )
    with op.batch_alter_table('kb_articles', schema=None) as batch_op:
        batch_op.create_index('ix_kb_articles_section_status_position', ['section_id', 'status', 'position'], unique=False)
        batch_op.create_index('ix_kb_articles_promoted_status', ['promoted', 'status'], unique=False)

    op.create_table('kb_article_slugs',
    sa.Column('slug', sa.String(length=200), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['kb_articles.id'], name=op.f('fk_kb_article_slugs_article_id_kb_articles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('slug', name=op.f('pk_kb_article_slugs'))
    )
    with op.batch_alter_table('kb_article_slugs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kb_article_slugs_article_id'), ['article_id'], unique=False)

    op.create_table('kb_article_tags',
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('value', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['kb_articles.id'], name=op.f('fk_kb_article_tags_article_id_kb_articles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('article_id', 'kind', 'value', name=op.f('pk_kb_article_tags'))
    )
    with op.batch_alter_table('kb_article_tags', schema=None) as batch_op:
        batch_op.create_index('ix_kb_article_tags_kind_value', ['kind', 'value', 'article_id'], unique=False)

    op.create_table('kb_comments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('practice_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('author_name', sa.String(length=200), nullable=False),
    sa.Column('author_email', sa.String(length=320), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('moderated_at', sa.DateTime(), nullable=True),
    sa.Column('moderated_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'published', 'rejected')", name=op.f('ck_kb_comments_status')),
    sa.ForeignKeyConstraint(['article_id'], ['kb_articles.id'], name=op.f('fk_kb_comments_article_id_kb_articles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['moderated_by_id'], ['agents.id'], name=op.f('fk_kb_comments_moderated_by_id_agents'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kb_comments'))
    )
    with op.batch_alter_table('kb_comments', schema=None) as batch_op:
        batch_op.create_index('ix_kb_comments_article_status_time', ['article_id', 'status', 'created_at'], unique=False)
        batch_op.create_index('ix_kb_comments_status_time', ['status', 'created_at'], unique=False)

    op.create_table('kb_follows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=True),
    sa.Column('section_id', sa.Integer(), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=True),
    sa.Column('practice_id', sa.String(length=64), nullable=True),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('(article_id IS NULL) <> (section_id IS NULL)', name=op.f('ck_kb_follows_one_target')),
    sa.ForeignKeyConstraint(['article_id'], ['kb_articles.id'], name=op.f('fk_kb_follows_article_id_kb_articles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['section_id'], ['kb_sections.id'], name=op.f('fk_kb_follows_section_id_kb_sections'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kb_follows')),
    sa.UniqueConstraint('article_id', 'email', name='uq_kb_follows_article_email'),
    sa.UniqueConstraint('section_id', 'email', name='uq_kb_follows_section_email'),
    sa.UniqueConstraint('token', name=op.f('uq_kb_follows_token'))
    )
    with op.batch_alter_table('kb_follows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kb_follows_section_id'), ['section_id'], unique=False)

    op.create_table('kb_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('author_name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('changed', sa.JSON(), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('slug', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('keys', sa.JSON(), nullable=False),
    sa.Column('section_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('promoted', sa.Boolean(), nullable=False),
    sa.Column('comments_enabled', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['kb_articles.id'], name=op.f('fk_kb_revisions_article_id_kb_articles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['author_id'], ['agents.id'], name=op.f('fk_kb_revisions_author_id_agents'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kb_revisions')),
    sa.UniqueConstraint('article_id', 'number', name='uq_kb_revisions_article_number')
    )
    op.create_table('kb_votes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('voter', sa.String(length=200), nullable=False),
    sa.Column('helpful', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['kb_articles.id'], name=op.f('fk_kb_votes_article_id_kb_articles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kb_votes')),
    sa.UniqueConstraint('article_id', 'voter', name='uq_kb_votes_article_voter')
    )
    op.create_table('kb_notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=True),
    sa.Column('follow_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('unfollow_url', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('failed_at', sa.DateTime(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['article_id'], ['kb_articles.id'], name=op.f('fk_kb_notifications_article_id_kb_articles'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['follow_id'], ['kb_follows.id'], name=op.f('fk_kb_notifications_follow_id_kb_follows'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kb_notifications'))
    )
    with op.batch_alter_table('kb_notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kb_notifications_article_id'), ['article_id'], unique=False)
        batch_op.create_index('ix_kb_notifications_pending', ['sent_at', 'id'], unique=False)

    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE_SEARCH, "postgresql": POSTGRESQL_SEARCH}.get(dialect, ()):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS kb_search_words")
    op.execute("DROP TABLE IF EXISTS kb_search_titles")
    op.execute("DROP TABLE IF EXISTS kb_search")
    with op.batch_alter_table('kb_notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_kb_notifications_pending')
        batch_op.drop_index(batch_op.f('ix_kb_notifications_article_id'))

    op.drop_table('kb_notifications')
    op.drop_table('kb_votes')
    op.drop_table('kb_revisions')
    with op.batch_alter_table('kb_follows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kb_follows_section_id'))

    op.drop_table('kb_follows')
    with op.batch_alter_table('kb_comments', schema=None) as batch_op:
        batch_op.drop_index('ix_kb_comments_status_time')
        batch_op.drop_index('ix_kb_comments_article_status_time')

    op.drop_table('kb_comments')
    with op.batch_alter_table('kb_article_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_kb_article_tags_kind_value')

    op.drop_table('kb_article_tags')
    with op.batch_alter_table('kb_article_slugs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kb_article_slugs_article_id'))

    op.drop_table('kb_article_slugs')
    with op.batch_alter_table('kb_articles', schema=None) as batch_op:
        batch_op.drop_index('ix_kb_articles_promoted_status')
        batch_op.drop_index('ix_kb_articles_section_status_position')

    op.drop_table('kb_articles')
    with op.batch_alter_table('kb_sections', schema=None) as batch_op:
        batch_op.drop_index('ix_kb_sections_category_position')

    op.drop_table('kb_sections')
    op.drop_table('kb_categories')
