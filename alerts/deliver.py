"""Deliver queued alerts by SMTP and webhooks: claimed, sent, marked; retried with backoff; never twice.

Each delivery row (one alert to one target) goes pending -> sending -> sent, or back to pending with
``next_attempt_at`` after a failure, and to failed after ``max_attempts``. The claim (mark 'sending')
is committed before anything goes out and carries a lease; a process that dies after sending but
before marking leaves the row 'sending', and once the lease runs out the row is sent again with the
SAME Message-ID (derived from the row), so mail clients and webhook receivers can drop the repeat.
Nothing is ever silently dropped: failed rows stay visible in ``voxpop status``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from alerts.render import build_email, json_message, render_alert, render_digest, slack_message
from alerts.signing import SIGNATURE_HEADER, signature
from store.db import Store
from store.models import Alert, Delivery
from voxpop.config import Config, SmtpSpec, WebhookSpec, secret
from voxpop.core.errors import DeliveryError
from voxpop.core.text import header_safe

log = logging.getLogger(__name__)
ReleaseWatchReader = Callable[[str, datetime], Mapping[str, Any]]

LEASE_S = 300.0  # a 'sending' row older than this is taken to belong to a dead process
MAX_BACKOFF_S = 6 * 3600.0
WEBHOOK_TIMEOUT_S = 15.0


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    messages: int = 0
    eml_paths: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form for the CLI."""
        return asdict(self)


# ---------------------------------------------------------------- queueing (inside the detect transaction)


def message_id_for(alert_id: int, target: str) -> str:
    """A stable Message-ID for one alert to one target."""
    digest = hashlib.sha256(f"{alert_id}\0{target}".encode()).hexdigest()[:16]
    return f"<voxpop-alert-{alert_id}-{digest}@voxpop>"


def targets_for(config: Config, product_slug: str) -> list[str]:
    """Where a product's alerts go: its own recipients (else the global ones) and the matching webhooks."""
    recipients: tuple[str, ...] = ()
    for spec in config.products:
        if spec.slug == product_slug:
            recipients = spec.recipients
    recipients = recipients or config.alerts.recipients
    out = [f"mailto:{header_safe(r)}" for r in recipients]
    out += [f"webhook:{w.name}" for w in config.webhooks if not w.products or product_slug in w.products]
    return list(dict.fromkeys(out))


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def queue_deliveries(session: Session, config: Config, alert: Alert, product_slug: str) -> int:
    """Add one pending delivery row per target of the alert (idempotent on ``(alert_id, target)``)."""
    now = datetime.now(UTC)
    rows = [{"alert_id": alert.id, "target": t, "status": "pending", "attempts": 0, "next_attempt_at": now,
             "message_id": message_id_for(alert.id, t), "created_at": now} for t in targets_for(config, product_slug)]
    if rows:
        session.execute(_insert(session)(Delivery).on_conflict_do_nothing(index_elements=["alert_id", "target"]), rows)
    return len(rows)


# ---------------------------------------------------------------- sending


class PermanentDeliveryError(DeliveryError):
    """The target refused for good (SMTP 5xx, a webhook 4xx other than 408/429): retrying cannot help."""


def smtp_send(spec: SmtpSpec, message: EmailMessage, recipients: Sequence[str]) -> None:
    """Send one message: STARTTLS or SSL per ``spec.security``, login when a username is set.

    The password never crosses the network in clear text: with ``security = "none"`` a login is
    refused unless ``allow_plaintext_auth = true``. A permanent refusal (5xx) raises
    :class:`PermanentDeliveryError`, which is not retried.
    """
    if spec.username and spec.security == "none" and not spec.allow_plaintext_auth:
        raise PermanentDeliveryError(
            "smtp: refusing to send the password without TLS: set [smtp] security = \"starttls\" or \"ssl\" "
            "(or allow_plaintext_auth = true for a trusted local relay)")
    context = ssl.create_default_context()
    client: smtplib.SMTP
    try:
        if spec.security == "ssl":
            client = smtplib.SMTP_SSL(spec.host, spec.port, timeout=spec.timeout_s, context=context)
        else:
            client = smtplib.SMTP(spec.host, spec.port, timeout=spec.timeout_s)
        with client:
            client.ehlo()
            if spec.security == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if spec.username:
                client.login(spec.username, secret(spec.password_env) or "")
            refused = client.send_message(message, from_addr=spec.sender, to_addrs=list(recipients))
    except smtplib.SMTPResponseException as exc:
        if 500 <= exc.smtp_code < 600:
            detail = _smtp_text(exc.smtp_error)
            raise PermanentDeliveryError(f"smtp: permanent refusal {exc.smtp_code}: {detail}") from exc
        raise
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(500 <= code < 600 for code in codes):
            raise PermanentDeliveryError(f"smtp: recipients refused for good: {sorted(exc.recipients)}") from exc
        raise
    if refused:
        raise DeliveryError(f"recipients refused: {sorted(refused)}")


def _smtp_text(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return " ".join(text.split())[:200]


def sign(body: bytes, key: str, timestamp: int | None = None) -> str:
    """The ``X-Voxpop-Signature`` value ``t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`` (see alerts.signing)."""
    return signature(body, key, timestamp)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: a webhook that answers 3xx did not accept the alert."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def webhook_send(spec: WebhookSpec, body: dict[str, Any], delivery_id: str, timeout: float = WEBHOOK_TIMEOUT_S) -> None:
    """POST a JSON body; generic JSON bodies are signed with a timestamped HMAC when ``secret_env`` is set.

    Only a 2xx answer counts as delivered. Redirects are not followed (a 3xx is a failure, retried);
    a 4xx other than 408 and 429 is permanent.
    """
    if urlsplit(spec.url).scheme not in ("http", "https"):
        raise PermanentDeliveryError(f"webhook {spec.name}: only http and https URLs are allowed")
    data = json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")
    headers = {"Content-Type": "application/json", "User-Agent": "voxpop-alerts",
               "X-Voxpop-Delivery": header_safe(delivery_id)}
    if spec.secret_env:
        key = secret(spec.secret_env)
        if not key:
            raise DeliveryError(f"webhook {spec.name}: secret variable {spec.secret_env} is not set")
        headers[SIGNATURE_HEADER] = sign(data, key)
    request = urllib.request.Request(spec.url, data=data, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
        exc.close()
    if 200 <= status < 300:
        return
    if 300 <= status < 400:
        raise DeliveryError(f"webhook {spec.name}: HTTP {status} (redirects are not followed)")
    if 400 <= status < 500 and status not in (408, 425, 429):
        raise PermanentDeliveryError(f"webhook {spec.name}: HTTP {status}")
    raise DeliveryError(f"webhook {spec.name}: HTTP {status}")


def _record_sent(store: Store, ids: list[int], eml: str | None, report: DeliveryReport) -> None:
    """After one message went out: mark its delivery rows sent and count it.

    A crash between the send and ``_mark_sent`` leaves the rows ``sending``; after the lease they are
    sent once more with the same Message-ID (tests crash a real process at exactly this seam).
    """
    _mark_sent(store, ids, eml)
    report.sent += len(ids)
    report.messages += 1
    if eml:
        report.eml_paths.append(eml)


# ---------------------------------------------------------------- the delivery run


def _due(session: Session, now: datetime, limit: int) -> list[Delivery]:
    query = (
        select(Delivery).where(or_(Delivery.alert_id.is_not(None), Delivery.report_id.is_not(None)), or_(
            Delivery.status == "pending",
            Delivery.status == "sending",
        ), or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now))
        .order_by(Delivery.id).limit(limit)
    )
    return list(session.scalars(query))


def _claim(store: Store, row: Delivery, now: datetime) -> bool:
    """Mark a row 'sending' with a lease, only if nobody else changed it since we read it."""
    with store.transaction() as session:
        result = session.execute(
            update(Delivery).where(Delivery.id == row.id, Delivery.status == row.status,
                                   Delivery.attempts == row.attempts)
            .values(status="sending", attempts=row.attempts + 1, next_attempt_at=now + timedelta(seconds=LEASE_S))
        )
        claimed = bool(getattr(result, "rowcount", 0))
    if claimed:
        row.attempts += 1
    return claimed


def _mark_sent(store: Store, ids: Sequence[int], eml_path: str | None, message_id: str | None = None) -> None:
    with store.transaction() as session:
        values: dict[str, Any] = {"status": "sent", "sent_at": datetime.now(UTC), "last_error": None,
                                  "next_attempt_at": None, "eml_path": eml_path}
        if message_id:
            values["message_id"] = message_id
        session.execute(update(Delivery).where(Delivery.id.in_(list(ids))).values(**values))


def _mark_failed(store: Store, config: Config, rows: Sequence[Delivery], error: str, now: datetime,
                 report: DeliveryReport, *, permanent: bool = False) -> None:
    spec = config.alerts
    with store.transaction() as session:
        for row in rows:
            if permanent or row.attempts >= spec.max_attempts:
                values: dict[str, Any] = {"status": "failed", "next_attempt_at": None}
                report.failed += 1
            else:
                delay = min(MAX_BACKOFF_S, spec.retry_base_s * 2 ** (row.attempts - 1))
                values = {"status": "pending", "next_attempt_at": now + timedelta(seconds=delay)}
                report.retrying += 1
            session.execute(update(Delivery).where(Delivery.id == row.id).values(last_error=error[:1000], **values))
    report.errors.append(error[:300])


def _write_eml(outbox_dir: str, name: str, message: EmailMessage) -> str:
    folder = Path(outbox_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.eml"
    tmp = path.with_suffix(".eml.tmp")
    tmp.write_bytes(bytes(message))
    os.replace(tmp, path)
    return str(path.resolve())


def _webhook(config: Config, name: str) -> WebhookSpec:
    for spec in config.webhooks:
        if spec.name == name:
            return spec
    raise DeliveryError(f"webhook {name!r} is no longer configured")


def _describe(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {exc}".replace("\r", " ").replace("\n", " ")


def _fail(store: Store, config: Config, rows: Sequence[Delivery], exc: BaseException, now: datetime,
          report: DeliveryReport) -> None:
    """Record a failed send: a permanent refusal fails the rows now, anything else is retried later."""
    _mark_failed(store, config, rows, _describe(exc), now, report, permanent=isinstance(exc, PermanentDeliveryError))


def deliver_pending(store: Store, config: Config, now: datetime | None = None, *, digest: bool | None = None,
                    limit: int = 500, release_watch: ReleaseWatchReader | None = None) -> DeliveryReport:
    """Send every due delivery; failures are retried later with exponential backoff.

    Args:
        store: the database.
        config: SMTP, webhooks and retry settings.
        now: the moment to act as of (tests move it forward to skip backoff and leases).
        digest: one message per recipient for all due email alerts (default: ``[alerts] digest``).
        limit: most rows handled in one run.
        release_watch: ``(product slug, now) -> release watch`` (``alerts.release_store.release_watch``
            bound to the store and config): a digest then ends with each alerted product's newest release
            ("Since version v"). Passed in by the caller, so delivery depends on nothing that detects.
    """
    now = now or datetime.now(UTC)
    digest = config.alerts.digest if digest is None else digest
    report = DeliveryReport()
    with store.sessions() as session:
        rows = _due(session, now, limit)
        alerts = {a.id: a for a in session.scalars(select(Alert).where(Alert.id.in_({r.alert_id for r in rows})))}
    reports = [r for r in rows if r.alert_id is None]
    rows = [r for r in rows if r.alert_id is not None]
    for row in reports:
        _send_report_mail(store, config, row, now, report)
    mail = [r for r in rows if r.target.startswith("mailto:")]
    hooks = [r for r in rows if r.target.startswith("webhook:")]
    if digest:
        _send_digests(store, config, mail, alerts, now, report, release_watch)
    else:
        for row in mail:
            _send_one_mail(store, config, row, alerts[row.alert_id], now, report)  # type: ignore[index]
    for row in hooks:
        _send_one_hook(store, config, row, alerts[row.alert_id], now, report)  # type: ignore[index]
    for row in rows:
        if not (row.target.startswith("mailto:") or row.target.startswith("webhook:")):
            if _claim(store, row, now):
                _mark_failed(store, config, [row], f"unknown target kind: {row.target}", now, report)
    return report


def _send_one_mail(store: Store, config: Config, row: Delivery, alert: Alert, now: datetime,
                   report: DeliveryReport) -> None:
    if not _claim(store, row, now):
        return
    recipient = row.target[len("mailto:"):]
    try:
        rendered = render_alert(alert.kind, alert.payload or {}, alert_id=alert.id, base_url=config.ui.base_url)
        message = build_email(rendered, sender=config.smtp.sender, to=[recipient], message_id=row.message_id,
                              date=alert.created_at, headers={"X-Voxpop-Alert": str(alert.id)})
        eml = _write_eml(config.alerts.outbox_dir, f"alert-{alert.id}-{row.id}", message)
        smtp_send(config.smtp, message, [recipient])
    except Exception as exc:  # noqa: BLE001 - every failure is recorded and retried
        _fail(store, config, [row], exc, now, report)
        return
    _record_sent(store, [row.id], eml, report)


def _send_one_hook(store: Store, config: Config, row: Delivery, alert: Alert, now: datetime,
                   report: DeliveryReport) -> None:
    if not _claim(store, row, now):
        return
    try:
        spec = _webhook(config, row.target[len("webhook:"):])
        if spec.kind == "slack":
            body = slack_message(alert.kind, alert.payload or {})
        else:
            body = json_message(alert.id, alert.kind, alert.payload or {}, delivery_id=row.message_id,
                                created_at=alert.created_at)
        webhook_send(spec, body, row.message_id)
    except Exception as exc:  # noqa: BLE001
        _fail(store, config, [row], exc, now, report)
        return
    _record_sent(store, [row.id], None, report)


def _send_digests(store: Store, config: Config, rows: Sequence[Delivery], alerts: dict[int, Alert], now: datetime,
                  report: DeliveryReport, release_watch: ReleaseWatchReader | None = None) -> None:
    """One message per recipient; a group that was already tried keeps its Message-ID and its rows."""
    groups: dict[tuple[str, str | None], list[Delivery]] = defaultdict(list)
    for row in rows:
        kept = row.message_id if row.message_id.startswith("<voxpop-digest-") else None
        groups[(row.target, kept)].append(row)
    watches = _release_watches(store, release_watch, {a.product_id for a in alerts.values()}, now)
    for (target, kept), members in groups.items():
        claimed = [r for r in members if _claim(store, r, now)]
        if not claimed:
            continue
        ids = sorted(r.id for r in claimed)
        message_id = kept or "<voxpop-digest-{}@voxpop>".format(
            hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:20])
        with store.transaction() as session:  # bind the rows to this digest before anything goes out
            session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(message_id=message_id))
        recipient = target[len("mailto:"):]
        try:
            items = [(r.alert_id, alerts[r.alert_id].kind, alerts[r.alert_id].payload or {})  # type: ignore[index]
                     for r in sorted(claimed, key=lambda r: r.alert_id or 0)]
            listed = ",".join(str(i[0]) for i in items)
            mine = [watches[alerts[r.alert_id].product_id] for r in claimed  # type: ignore[index]
                    if alerts[r.alert_id].product_id in watches]  # type: ignore[index]
            mine = list({id(w): w for w in mine}.values())
            message = build_email(render_digest(items, base_url=config.ui.base_url, releases=mine),
                                  sender=config.smtp.sender,
                                  to=[recipient], message_id=message_id, headers={"X-Voxpop-Alerts": listed})
            eml = _write_eml(config.alerts.outbox_dir, "digest-" + message_id.strip("<>").split("@")[0][-20:], message)
            smtp_send(config.smtp, message, [recipient])
        except Exception as exc:  # noqa: BLE001
            _fail(store, config, claimed, exc, now, report)
            continue
        _record_sent(store, ids, eml, report)


def _release_watches(store: Store, release_watch: ReleaseWatchReader | None, product_ids: set[int],
                     now: datetime) -> dict[int, Any]:
    """The release watch of each product with alerts in a digest, by product id (a product whose watch
    cannot be read is left out, logged: the alerts still go)."""
    from store.models import Product

    out: dict[int, Any] = {}
    ids = sorted(product_ids)
    if not ids or release_watch is None:
        return out
    with store.sessions() as session:
        slugs: dict[int, str] = {r[0]: r[1] for r in session.execute(
            select(Product.id, Product.slug).where(Product.id.in_(ids)))}
    for pid, slug in slugs.items():
        try:
            out[pid] = release_watch(slug, now)
        except Exception:  # noqa: BLE001 - the digest's alerts matter more than its release section
            log.exception("release watch of %s left out of the digest", slug)
    return out


# ---------------------------------------------------------------- comparison reports by email


def report_recipients(config: Config, products: Sequence[str]) -> list[str]:
    """Recipients of a comparison report: those of every ``[[reports]]`` entry covering its products,
    else the alert recipients."""
    chosen: list[str] = []
    for spec in config.reports:
        if not spec.products or set(products) <= set(spec.products):
            chosen += list(spec.recipients)
    return list(dict.fromkeys(chosen or list(config.alerts.recipients)))


def send_report(store: Store, config: Config, report_id: int, data: Any,
                path: str | os.PathLike[str]) -> DeliveryReport:
    """Queue a written comparison report to its recipients (one delivery row each) and send it now.

    Failures stay queued and are retried by :func:`deliver_pending` like alerts.
    """
    from store.models import Report

    now = datetime.now(UTC)
    with store.transaction() as session:
        row = session.get(Report, report_id)
        if row is None:
            raise DeliveryError(f"report {report_id} not found")
        rows = [{"report_id": report_id, "target": f"mailto:{header_safe(r)}", "status": "pending", "attempts": 0,
                 "next_attempt_at": now, "created_at": now,
                 "message_id": "<voxpop-report-{}-{}@voxpop>".format(
                     report_id, hashlib.sha256(f"{report_id}\0{r}".encode()).hexdigest()[:16])}
                for r in report_recipients(config, [str(p) for p in row.products or []])]
        if rows:
            session.execute(_insert(session)(Delivery).on_conflict_do_nothing(), rows)
        queued = list(session.scalars(select(Delivery).where(Delivery.report_id == report_id,
                                                             Delivery.status == "pending")))
    report = DeliveryReport()
    for delivery in queued:
        _send_report_mail(store, config, delivery, now, report)
    return report


def _send_report_mail(store: Store, config: Config, row: Delivery, now: datetime, report: DeliveryReport) -> None:
    import mimetypes

    from alerts.render import InlineImage, Rendered
    from store.models import Report

    if not _claim(store, row, now):
        return
    try:
        if not row.target.startswith("mailto:"):
            raise DeliveryError(f"reports go by email only, not to {row.target}")
        with store.sessions() as session:
            rec = session.get(Report, row.report_id)
        if rec is None or not rec.path or not Path(rec.path).exists():
            raise DeliveryError(f"report {row.report_id}: file missing")
        mail = (rec.summary or {}).get("mail") if isinstance(rec.summary, dict) else None
        if mail:
            # Rendered when the report was written (voxpop.report.mail): body, inline PNG charts, attachments.
            images = tuple(InlineImage(cid=str(i["cid"]), png=base64.b64decode(i["png"]), alt=str(i.get("alt", "")))
                           for i in mail.get("images") or [])
            rendered = Rendered(subject=str(mail["subject"]), text=str(mail["text"]), html=str(mail["html"]),
                                images=images)
            files = [Path(a) for a in mail.get("attachments") or [rec.path]]
        else:
            names = ", ".join(str(p) for p in rec.products or []) or "all products"
            period = f"{rec.period_start.date()} to {rec.period_end.date()}"
            text = f"Comparison report for {names}, {period}.\nThe full report ({rec.format}) is attached.\n"
            html = f"<p>Comparison report for {escape(names)}, {period}.</p><p>The full report is attached.</p>"
            rendered = Rendered(subject=f"[voxpop] Comparison report: {names}, {period}", text=text, html=html)
            files = [Path(rec.path)]
        message = build_email(rendered, sender=config.smtp.sender, to=[row.target[len("mailto:"):]],
                              message_id=row.message_id, headers={"X-Voxpop-Report": str(rec.id)})
        for file in files:
            if not file.exists():
                raise DeliveryError(f"report {row.report_id}: attachment {file} missing")
            ctype = (mimetypes.guess_type(file.name)[0] or "application/octet-stream").split("/", 1)
            message.add_attachment(file.read_bytes(), maintype=ctype[0], subtype=ctype[1], filename=file.name)
        eml = _write_eml(config.alerts.outbox_dir, f"report-{rec.id}-{row.id}", message)
        try:
            smtp_send(config.smtp, message, [row.target[len("mailto:"):]])
        except Exception as exc:  # noqa: BLE001
            # Name the server; keep "permanent" so a 5xx refusal is not retried.
            kind = PermanentDeliveryError if isinstance(exc, PermanentDeliveryError) else DeliveryError
            raise kind(f"SMTP server {config.smtp.host}:{config.smtp.port} did not take the report mail: "
                       f"{_describe(exc)}") from exc
    except Exception as exc:  # noqa: BLE001
        _fail(store, config, [row], exc, now, report)
        return
    _record_sent(store, [row.id], eml, report)


# ---------------------------------------------------------------- status


def undelivered_summary(session: Session, limit: int = 20) -> dict[str, Any]:
    """Counts of deliveries not sent yet by status, and the failed ones with their last error."""
    counts = {status: int(n) for status, n in session.execute(
        select(Delivery.status, func.count()).where(Delivery.status != "sent").group_by(Delivery.status))}
    failed = [
        {"delivery": d.id, "alert": d.alert_id, "kind": kind, "target": d.target, "attempts": d.attempts,
         "error": d.last_error}
        for d, kind in session.execute(
            select(Delivery, Alert.kind).outerjoin(Alert, Alert.id == Delivery.alert_id)
            .where(Delivery.status == "failed").order_by(Delivery.id.desc()).limit(limit))
    ]
    retrying = [
        {"delivery": d.id, "target": d.target, "attempts": d.attempts, "error": d.last_error,
         "next_attempt_at": d.next_attempt_at.isoformat() if d.next_attempt_at else None}
        for d in session.scalars(select(Delivery).where(Delivery.status == "pending", Delivery.attempts > 0)
                                 .order_by(Delivery.id).limit(limit))
    ]
    return {"pending": counts.get("pending", 0), "sending": counts.get("sending", 0),
            "failed": counts.get("failed", 0), "failed_rows": failed, "retrying": retrying}
