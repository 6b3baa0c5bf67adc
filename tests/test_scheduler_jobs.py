"""The APScheduler wiring: registered jobs, a schedule that survives a restart, the run listener, status.

Job functions are run directly or by a paused scheduler woken on purpose; nothing sleeps on the clock.
"""

from __future__ import annotations

import pickle
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

import scheduler
from store.db import Store
from store.models import JobRun
from voxpop import operations
from voxpop.config import ConfigError, load_config

CONFIG = """
database_url = "{db}"

[schedule]
classify_every_minutes = 7
detect_every_minutes = 45
deliver_every_minutes = 3
timezone = "Europe/Berlin"

[[products]]
slug = "notely"
  [[products.sources]]
  name = "appstore"
  spider = "appstore"
  params = {{ app_id = "1" }}
  every_minutes = 90
  [[products.sources]]
  name = "forum"
  spider = "discourse"
  params = {{ base_url = "http://127.0.0.1:1" }}

[[products]]
slug = "jotter"
  [[products.sources]]
  name = "appstore"
  spider = "appstore"
  params = {{ app_id = "2" }}

[[reports]]
name = "weekly"
cron = "mon 07:00"
{extra}
"""


def write_config(tmp_path: Path, db_url: str, extra: str = "", name: str = "voxpop.toml") -> Path:
    path = tmp_path / name
    path.write_text(CONFIG.format(db=db_url, extra=extra), encoding="utf-8")
    return path


@pytest.fixture
def config_path(tmp_path: Path, db_url: str) -> Path:
    return write_config(tmp_path, db_url)


def test_registered_jobs(config_path: Path) -> None:
    config = load_config(config_path)
    sched = scheduler.build_scheduler(config)
    try:
        jobs = {job.id: job for job in sched.get_jobs()}
        assert set(jobs) == {"crawl:notely:appstore", "crawl:notely:forum", "crawl:jotter:appstore",
                             "classify", "detect", "deliver", "report:weekly"}
        for job in jobs.values():
            assert job.max_instances == 1 and job.coalesce is True and job.misfire_grace_time >= 60
            assert job.func_ref.startswith("scheduler:job_")
            # Only plain strings and flags go into the job store, and they pickle.
            assert all(isinstance(arg, (str, bool)) for arg in job.args)
            pickle.dumps(job.__getstate__())
        crawl = jobs["crawl:notely:appstore"]
        assert crawl.args == (str(config_path.resolve()), "notely", "appstore")
        assert crawl.trigger.interval == timedelta(minutes=90)
        assert jobs["crawl:jotter:appstore"].trigger.interval == timedelta(minutes=360)  # the default
        assert jobs["classify"].trigger.interval == timedelta(minutes=7)
        assert jobs["detect"].trigger.interval == timedelta(minutes=45)
        assert jobs["deliver"].args[1] is False
        weekly = jobs["report:weekly"]
        assert str(weekly.trigger) == "cron[day_of_week='mon', hour='7', minute='0']"
        assert str(weekly.trigger.timezone) == "Europe/Berlin"
        assert weekly.next_run_time.weekday() == 0 and weekly.next_run_time.hour == 7
        # New crawl jobs start soon and staggered instead of one interval from now.
        crawl_times = sorted(j.next_run_time for i, j in jobs.items() if i.startswith("crawl:"))
        assert crawl_times[-1] - crawl_times[0] >= timedelta(seconds=40)
        assert crawl_times[-1] - datetime.now(UTC) < timedelta(minutes=5)
    finally:
        sched.shutdown(wait=False)


def test_digest_mode_schedules_a_daily_digest(tmp_path: Path, sqlite_url: str) -> None:
    path = write_config(tmp_path, sqlite_url, '[alerts]\ndigest = true\n')
    text = path.read_text().replace('timezone = "Europe/Berlin"', 'timezone = "UTC"\ndigest_at = "08:30"')
    path.write_text(text)
    sched = scheduler.build_scheduler(load_config(path))
    try:
        jobs = {job.id: job for job in sched.get_jobs()}
        assert "deliver" not in jobs
        digest = jobs["digest"]
        assert digest.args[1] is True
        assert (digest.next_run_time.hour, digest.next_run_time.minute) == (8, 30)
    finally:
        sched.shutdown(wait=False)


def test_schedule_survives_a_restart(tmp_path: Path, db_url: str) -> None:
    path = write_config(tmp_path, db_url)
    sched = scheduler.build_scheduler(load_config(path))
    before = scheduler.describe_jobs(sched)
    sched.shutdown()
    scheduler._STORES.clear()  # as a new process would

    sched = scheduler.build_scheduler(load_config(path))
    try:
        assert scheduler.describe_jobs(sched) == before
        assert sched.voxpop_changes["added"] == [] and sched.voxpop_changes["removed"] == []
    finally:
        sched.shutdown()

    # Edit the config: one source dropped, one interval changed, one report added.
    text = path.read_text()
    text = text.replace('  [[products.sources]]\n  name = "forum"\n  spider = "discourse"\n'
                        '  params = { base_url = "http://127.0.0.1:1" }\n', "")
    text = text.replace("every_minutes = 90", "every_minutes = 30")
    text += '\n[[reports]]\nname = "daily"\ncron = "daily 06:15"\n'
    path.write_text(text)
    scheduler._STORES.clear()
    sched = scheduler.build_scheduler(load_config(path))
    try:
        after = {j["id"]: j for j in scheduler.describe_jobs(sched)}
        old = {j["id"]: j for j in before}
        assert "crawl:notely:forum" not in after
        assert sched.voxpop_changes["removed"] == ["crawl:notely:forum"]
        assert set(sched.voxpop_changes["added"]) == {"crawl:notely:appstore", "report:daily"}
        assert after["classify"] == old["classify"] and after["report:weekly"] == old["report:weekly"]
        assert sched.get_job("crawl:notely:appstore").trigger.interval == timedelta(minutes=30)
    finally:
        sched.shutdown()


def sample_ok(n: int) -> dict[str, int]:
    return {"n": n}


def sample_boom() -> None:
    raise RuntimeError("the site answered 503")


def _run_now_and_wait(sched, jobs: dict[str, tuple[str, list]], expect: int) -> None:  # type: ignore[no-untyped-def]
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED

    done = threading.Semaphore(0)
    sched.add_listener(lambda _e: done.release(), EVENT_JOB_ERROR | EVENT_JOB_EXECUTED | EVENT_JOB_MISSED)
    for job_id, (func, args) in jobs.items():
        sched.add_job(func, "interval", minutes=60, args=args, id=job_id, replace_existing=True,
                      next_run_time=datetime.now(UTC))
    sched.resume()
    for _ in range(expect):
        assert done.acquire(timeout=30), "a job did not finish"


def test_listener_records_runs_errors_and_misses(tmp_path: Path, db_url: str) -> None:
    config = load_config(write_config(tmp_path, db_url))
    store = Store(db_url)
    sched = scheduler.build_scheduler(config, store)
    for job in sched.get_jobs():
        sched.remove_job(job.id)
    try:
        _run_now_and_wait(sched, {"ok": ("tests.test_scheduler_jobs:sample_ok", [3]),
                                  "boom": ("tests.test_scheduler_jobs:sample_boom", [])}, 2)
        # A run far in the past, beyond its grace time: reported as missed, scheduler still alive.
        sched.add_job("tests.test_scheduler_jobs:sample_ok", "interval", minutes=60, args=[1], id="late",
                      misfire_grace_time=1, next_run_time=datetime.now(UTC) - timedelta(minutes=90))
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        while datetime.now(UTC) < deadline:
            with store.sessions() as session:
                if session.scalar(select(JobRun).where(JobRun.job_id == "late")):
                    break
            threading.Event().wait(0.05)
        _run_now_and_wait(sched, {"boom": ("tests.test_scheduler_jobs:sample_boom", [])}, 1)
        assert sched.running
    finally:
        sched.shutdown(wait=True)
    with store.sessions() as session:
        runs = {(r.job_id, r.status): r for r in session.scalars(select(JobRun))}
    assert runs[("ok", "ok")].result == {"n": 3}
    assert runs[("ok", "ok")].finished_at >= runs[("ok", "ok")].started_at
    assert runs[("boom", "error")].error == "RuntimeError: the site answered 503"
    assert runs[("late", "missed")].error.startswith("missed its run at")

    status = operations.status(store, config)
    jobs = status["jobs"]
    assert jobs["boom"]["failures"] == 2 and jobs["boom"]["status"] == "error"
    assert jobs["boom"]["error"] == "RuntimeError: the site answered 503"
    assert jobs["ok"]["failures"] == 0 and jobs["ok"]["result"] == {"n": 3} and jobs["ok"]["last_ok"]
    assert jobs["ok"]["next_run"] is not None  # read from the job store table
    store.dispose()


def test_status_shows_next_runs_without_a_running_scheduler(config_path: Path) -> None:
    config = load_config(config_path)
    sched = scheduler.build_scheduler(config)
    expected = {j["id"]: j["next_run"] for j in scheduler.describe_jobs(sched)}
    sched.shutdown()
    store = operations.open_store(config)
    status = operations.status(store, config)
    for job_id, next_run in expected.items():
        got = datetime.fromisoformat(status["jobs"][job_id]["next_run"])
        assert abs(got - datetime.fromisoformat(next_run)) < timedelta(seconds=1)
        assert status["jobs"][job_id]["status"] == "never run"
    assert set(status["crawl_backlog"]["sources_due"]) == {"notely/appstore", "notely/forum", "jotter/appstore"}
    assert status["undelivered"] == 0
    store.dispose()


@pytest.mark.parametrize("expr,expected", [
    ("mon 07:00", "cron[day_of_week='mon', hour='7', minute='0']"),
    ("mon,thu 18:30", "cron[day_of_week='mon,thu', hour='18', minute='30']"),
    ("daily 06:05", "cron[day_of_week='*', hour='6', minute='5']"),
    ("06:05", "cron[day_of_week='*', hour='6', minute='5']"),
    ("0 7 * * 1", "cron[month='*', day='*', day_of_week='1', hour='7', minute='0']"),
])
def test_cron_expressions(expr: str, expected: str) -> None:
    assert str(scheduler.cron_trigger(expr, "UTC", "reports[0].cron")) == expected


@pytest.mark.parametrize("expr", ["monday at seven", "mon 25:00", "someday 07:00", "07:00:00"])
def test_bad_cron_names_the_key(expr: str) -> None:
    with pytest.raises(ConfigError, match=r"reports\[0\]\.cron"):
        scheduler.cron_trigger(expr, "UTC", "voxpop.toml: reports[0].cron")


def test_bad_timezone_is_a_config_error(tmp_path: Path, sqlite_url: str) -> None:
    path = write_config(tmp_path, sqlite_url)
    path.write_text(path.read_text().replace("Europe/Berlin", "Mars/Olympus"))
    with pytest.raises(ConfigError, match="timezone"):
        scheduler.build_scheduler(load_config(path))


def test_leader_jobs_skip_while_another_process_holds_the_lock(config_path: Path) -> None:
    from store.locks import leader_lock

    config = load_config(config_path)
    store = operations.open_store(config)
    other = Store(config.database_url)  # another "process": its own engine and connections
    with leader_lock(other, "alert") as held:
        assert held
        assert scheduler.job_deliver(str(config_path)) == {"skipped": "another process holds the alert lock"}
    with leader_lock(other, "detect") as held:
        assert held
        assert scheduler.job_detect(str(config_path)) == {"skipped": "another process holds the detect lock"}
    with leader_lock(other, "crawl:notely:forum") as held:
        assert held
        assert "skipped" in scheduler.job_crawl(str(config_path), "notely", "forum")
    other.dispose()
    store.dispose()
