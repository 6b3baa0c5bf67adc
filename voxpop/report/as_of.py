"""The posts as they stood at a date, for an as-of report (``build_report(..., as_of=...)``, issue 31).

:func:`posts_as_of` is an aliased subquery named ``posts`` that stands in for the ``posts`` table in the
report's queries (:mod:`voxpop.report.queries`, :mod:`voxpop.report.jobmap_queries`): the same columns, with
the text, title, rating and app version of each post's version in force at ``as_of`` (``store.revisions``),
and without the posts first seen after ``as_of``. The model's reading and people's labels are the current
ones. The rollups hold current values only, so an as-of report always scans the posts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased

from store.models import Post
from store.revisions import as_of_view

_VERSIONED = ("text", "title", "rating", "version")


def posts_as_of(as_of: datetime) -> Any:
    """An ORM alias of :class:`Post` over the posts as they stood at ``as_of`` (named ``posts`` in SQL)."""
    v = as_of_view(as_of)
    first_seen = v.value(v.revision.seen_at, Post.fetched_at)  # the in-force version was fetched by then
    columns = [v.read(column, column.name) if column.name in _VERSIONED else column
               for column in Post.__table__.c]
    view = v.join(select(*columns).select_from(Post)).where(first_seen <= as_of)
    return aliased(Post, view.subquery("posts"), adapt_on_names=True)


__all__ = ["posts_as_of"]
