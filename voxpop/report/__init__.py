"""The competitor report: SQL aggregates (queries), figures, comparisons, headline, where-we-lose, summary,
rendering (HTML, Markdown, CSV, JSON) and the report mail."""

from __future__ import annotations

from voxpop.report.build import build_report
from voxpop.report.queries import DEFAULT_QUERY_THREADS, ReportError

__all__ = ["DEFAULT_QUERY_THREADS", "ReportError", "build_report"]
