"""File mode: classify a JSON-lines file of posts into a JSON-lines file of predictions, in input order."""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classify.jobs import Job

if TYPE_CHECKING:
    from classify.pipeline import Classifier, Prediction

CHUNK = 256


class JobsFileError(ValueError):
    """A jobs.toml file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class FileModeResult:
    """Counts of one file-mode run."""

    rows: int
    ok: int  # rows classified
    errors: int  # rows that could not be read (broken JSON, no text)
    skipped: int = 0  # rows read but not classified (a language the heads are not trusted on)

    def as_dict(self) -> dict[str, int]:
        """The counts as a plain dict (for ``--json`` output)."""
        return {"rows": self.rows, "ok": self.ok, "skipped": self.skipped, "errors": self.errors}


def load_jobs(path: str | Path) -> list[Job]:
    """Read ``[[jobs]]`` entries (``id``, ``statement``, optional ``examples``) from a TOML file.

    Raises:
        JobsFileError: the file is missing or malformed; the message names the file and the key.
    """
    jobs, _ = load_taxonomy(path, jobs_required=True)
    return jobs


def load_taxonomy(path: str | Path, *, jobs_required: bool = False) -> tuple[list[Job], list[Job]]:
    """Read ``[[jobs]]`` and ``[[steps]]`` (same keys: ``id``, ``statement``, optional ``examples``) from TOML.

    Either may be absent, not both (unless ``jobs_required``, then ``[[jobs]]`` must be there). Without
    ``[[steps]]`` the steps list is empty and the default steps (``classify.steps.DEFAULT_STEPS``) apply.

    Raises:
        JobsFileError: the file is missing or malformed; the message names the file and the key.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise JobsFileError(f"{path}: file not found") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise JobsFileError(f"{path}: not valid TOML: {exc}") from exc
    if (jobs_required or "steps" not in data) and (not isinstance(data.get("jobs"), list) or not data["jobs"]):
        raise JobsFileError(f"{path}: key 'jobs' must be a non-empty array of tables ([[jobs]])")
    return _entries(path, data, "jobs"), _entries(path, data, "steps")


def _entries(path: Path, data: dict[str, Any], key: str) -> list[Job]:
    entries = data.get(key, [])
    if not isinstance(entries, list) or (key in data and not entries):
        raise JobsFileError(f"{path}: key '{key}' must be a non-empty array of tables ([[{key}]])")
    jobs: list[Job] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"{path}: {key}[{i}]"
        if not isinstance(entry, dict):
            raise JobsFileError(f"{where} must be a table")
        job_id, statement = entry.get("id"), entry.get("statement")
        if not isinstance(job_id, str) or not job_id.strip():
            raise JobsFileError(f"{where}.id must be a non-empty string")
        if job_id in seen:
            raise JobsFileError(f"{where}.id {job_id!r} is repeated")
        if not isinstance(statement, str) or not statement.strip():
            raise JobsFileError(f"{where}.statement must be a non-empty string")
        examples = entry.get("examples", [])
        if not isinstance(examples, list) or not all(isinstance(e, str) for e in examples):
            raise JobsFileError(f"{where}.examples must be an array of strings")
        unknown = set(entry) - {"id", "statement", "examples"}
        if unknown:
            raise JobsFileError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        seen.add(job_id)
        jobs.append(Job(job_id.strip(), statement.strip(), tuple(e.strip() for e in examples if e.strip())))
    return jobs


# Why a row was not classified (the ``reason`` of a ``classified: false`` row).
REASON_LANGUAGE = "unsupported_language"
REASON_INPUT = "invalid_input"
# The reading fields: null on a row that was not classified, so a placeholder never passes for a prediction.
READING_FIELDS = ("sentiment", "sentiment_score", "need_type", "need_score", "unmet_need", "evidence", "mixed",
                  "step", "step_score")


def prediction_row(post_id: Any, p: Prediction) -> dict[str, Any]:
    """The output row of one prediction.

    Every row says ``classified`` and ``language``. A post in a language the heads are not trusted on is
    ``classified: false`` with a ``reason`` and null sentiment, need and evidence, and no jobs.
    """
    if not p.classified:
        return {"id": post_id, "classified": False, "language": p.language,
                "reason": f"{REASON_LANGUAGE}: {p.language}", **dict.fromkeys(READING_FIELDS),
                "jobs": [], "sentences": [], "model_version": p.model_version}
    return {"id": post_id, "classified": True, "language": p.language,
            "sentiment": p.sentiment, "sentiment_score": p.sentiment_score,
            "need_type": p.need_type, "need_score": p.need_score, "unmet_need": p.unmet_need,
            "jobs": [{"job": j.job, "score": j.score, "evidence": j.evidence} for j in p.jobs], "evidence": p.evidence,
            "step": p.step, "step_score": p.step_score,
            "mixed": p.mixed, "sentences": p.sentence_sentiments(),
            "model_version": p.model_version}


def error_row(post_id: Any, message: str | None) -> dict[str, Any]:
    """The output row of an input line that could not be read: not classified, with the reason and the error."""
    return {"id": post_id, "classified": False, "language": None, "reason": REASON_INPUT, "error": message}


def _parse(line: str, lineno: int) -> tuple[Any, dict[str, Any] | None, str | None]:
    """(id, usable row or None, error message or None) for one input line."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, None, f"line {lineno}: broken JSON: {exc.msg}"
    if not isinstance(row, dict):
        return None, None, f"line {lineno}: not a JSON object"
    post_id = row.get("id")
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        return post_id, None, f"line {lineno}: 'text' must be a non-empty string"
    title = row.get("title")
    rating = row.get("rating")
    if not isinstance(title, str):
        title = None
    if isinstance(rating, bool) or not isinstance(rating, int | float) or not math.isfinite(rating):
        rating = None
    return post_id, {"text": text, "title": title, "rating": rating}, None


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                yield lineno, line


def classify_file(input_path: str | Path, output_path: str | Path, jobs_path: str | Path | None,
                  classifier: Classifier, progress: Callable[[int], None] | None = None) -> FileModeResult:
    """Classify every row of ``input_path`` into ``output_path`` (JSON lines, same order).

    Input rows are ``{"id", "text", optional "title", "rating"}``. Every output row has ``classified`` and
    ``language``; a row with broken JSON or an empty/non-string text becomes ``{"id": ..., "classified": false,
    "reason": "invalid_input", "error": "..."}``, a post in an unsupported language ``classified: false`` with
    ``reason`` and null readings (see ``prediction_row``); the run never stops for one row.

    Args:
        input_path: JSON-lines posts.
        output_path: where to write the predictions (replaced).
        jobs_path: optional jobs.toml: ``[[jobs]]`` and/or ``[[steps]]`` (default steps without them).
        classifier: a loaded Classifier.
        progress: called after each chunk with the number of rows it held (an increment, like
            ``click.progressbar``'s ``update``).
    """
    jobs, steps = load_taxonomy(jobs_path) if jobs_path else ([], [])
    rows = ok = errors = skipped = 0
    output_path = Path(output_path)
    tmp = output_path.with_name(output_path.name + ".part")
    with open(tmp, "w", encoding="utf-8") as out:
        pending: list[tuple[Any, dict[str, Any] | None, str | None]] = []

        def flush() -> None:
            nonlocal ok, errors, skipped
            good = [p for p in pending if p[1] is not None]
            preds = iter(classifier.predict([g[1]["text"] for g in good], jobs,  # type: ignore[index]
                                            titles=[g[1]["title"] for g in good],  # type: ignore[index]
                                            ratings=[g[1]["rating"] for g in good],  # type: ignore[index]
                                            steps=steps or None) if good else [])
            for post_id, row, err in pending:
                if row is None:
                    errors += 1
                    record: dict[str, Any] = error_row(post_id, err)
                else:
                    pred = next(preds)
                    ok += pred.classified
                    skipped += not pred.classified
                    record = prediction_row(post_id, pred)
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            done = len(pending)
            pending.clear()
            if progress is not None and done:
                progress(done)

        for lineno, line in _lines(Path(input_path)):
            rows += 1
            pending.append(_parse(line, lineno))
            if len(pending) >= CHUNK:
                flush()
        flush()
    tmp.replace(output_path)
    return FileModeResult(rows=rows, ok=ok, errors=errors, skipped=skipped)
