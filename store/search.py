"""Full-text search over posts: SQLite FTS5 (an external-content table kept by triggers) or PostgreSQL
full text (a GIN expression index). Migration ``0007`` creates both; this module holds their SQL and turns
a user's words into a query that cannot be a syntax error."""

from __future__ import annotations

import math
import re
from typing import Any

from sqlalchemy import ColumnElement, column, exists, func, literal_column, select, table
from sqlalchemy.orm import Session

from store.models import Post

FTS_TABLE = "posts_fts"
PG_INDEX = "ix_posts_fts"
PG_CONFIG = "english"
# Tables and indexes that Alembic must not compare against the models (they are not SQLAlchemy tables).
UNMODELLED_PREFIXES = (FTS_TABLE,)
MIN_PROBE_THRESHOLD = 2000
_FTS = table(FTS_TABLE, column("rowid"))

SQLITE_CREATE = [
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(title, text, content='posts', content_rowid='id', "
    "tokenize='porter unicode61 remove_diacritics 2')",
    f"CREATE TRIGGER IF NOT EXISTS posts_fts_ai AFTER INSERT ON posts BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    f"CREATE TRIGGER IF NOT EXISTS posts_fts_ad AFTER DELETE ON posts BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, text) VALUES ('delete', old.id, old.title, old.text); END",
    f"CREATE TRIGGER IF NOT EXISTS posts_fts_au AFTER UPDATE OF title, text ON posts BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, text) VALUES ('delete', old.id, old.title, old.text); "
    f"INSERT INTO {FTS_TABLE}(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS posts_fts_ai", "DROP TRIGGER IF EXISTS posts_fts_ad", "DROP TRIGGER IF EXISTS posts_fts_au",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
]
PG_DOCUMENT = f"to_tsvector('{PG_CONFIG}', coalesce(title, '') || ' ' || text)"
PG_CREATE = [f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON posts USING gin (({PG_DOCUMENT}))"]
PG_DROP = [f"DROP INDEX IF EXISTS {PG_INDEX}"]

_TOKEN = re.compile(r'"([^"]*)"|(\S+)')
_WORD = re.compile(r"[\w']+\*?", re.UNICODE)


def include_name(name: str | None, type_: str, _parents: Any = None) -> bool:
    """Alembic ``include_name`` hook: leave the search index's own tables and index out of comparisons."""
    if name is None:
        return True
    return not (name.startswith(UNMODELLED_PREFIXES) or name == PG_INDEX)


def fts5_query(words: str) -> str | None:
    """The user's words as an FTS5 query: every word or "quoted phrase" must occur; ``word*`` is a prefix.

    Each term is quoted, so FTS5 operators and punctuation in the input are only ever text.
    None when nothing searchable is left.
    """
    terms = []
    for phrase, word in _TOKEN.findall(words):
        if phrase:
            parts = [w.rstrip("*") for w in _WORD.findall(phrase)]
            if parts:
                terms.append('"' + " ".join(parts).replace('"', '""') + '"')
            continue
        for w in _WORD.findall(word):
            prefix = w.endswith("*")
            w = w.rstrip("*").strip("'")
            if w:
                terms.append('"' + w.replace('"', '""') + '"' + ("*" if prefix else ""))
    return " ".join(terms) or None


def match_clause(session: Session, words: str, row_id: Any = None, *, probe: bool = True
                 ) -> ColumnElement[bool] | None:
    """A WHERE clause on ``posts`` matching ``words``, or None when the words hold nothing to search.

    SQLite: a rare term is best as ``posts.id IN (matching rowids)`` (a short list, then the other filters); a
    common one as a per-row ``EXISTS`` probe while walking the posts in the page's order, which stops after a
    page of hits instead of collecting every match. The first ``probe_threshold`` matches decide which.
    ``probe=False`` always lists (a count visits every match, so probing never stops early).
    ``row_id`` is the post id the probe compares with: an expression over joined tables (equal to
    ``posts.id``) makes SQLite probe only after the filters on those tables passed, so selective
    filters are applied first and the costly probe runs on the few rows left.
    """
    if not words.strip():
        return None
    if session.get_bind().dialect.name == "postgresql":
        return literal_column(PG_DOCUMENT).op("@@")(func.websearch_to_tsquery(PG_CONFIG, words))
    query = fts5_query(words)
    if query is None:
        return None
    matches = literal_column(FTS_TABLE).op("MATCH")(query)
    if not probe:
        return Post.id.in_(select(_FTS.c.rowid).where(matches))
    threshold = probe_threshold(session)
    first = select(_FTS.c.rowid).where(matches).limit(threshold).subquery()
    common = (session.scalar(select(func.count()).select_from(first)) or 0) >= threshold
    if common:
        return exists(select(_FTS.c.rowid).where(matches, _FTS.c.rowid == (Post.id if row_id is None else row_id)))
    return Post.id.in_(select(_FTS.c.rowid).where(matches))


def probe_threshold(session: Session) -> int:
    """Matches above which probing beats listing: about sqrt(1200 x posts).

    Listing costs about 2.7 us a match, a probe about 65 us a post walked, and a page of 50 hits walks about
    50 x posts / matches posts (measured on 1M posts, bench/dashboard.py); the two meet at sqrt(50 x 24 x posts).
    """
    highest = session.scalar(select(func.max(Post.id))) or 0
    return max(MIN_PROBE_THRESHOLD, int(math.sqrt(1200 * highest)))


__all__ = ["FTS_TABLE", "PG_INDEX", "fts5_query", "include_name", "match_clause", "probe_threshold"]
