"""Console query benchmark: 100k deliveries and 100k job runs in PostgreSQL, the p95 of each
page's query (the functions the pages and the JSON API call), against a baseline query in the
same run (a primary-key lookup of one delivery).

    .venv/bin/python -m bench.console --rows 100000 --repeat 30 [--without-indexes]

``--without-indexes`` runs everything a second time with the indexes of migration 18_console
dropped, to show what they are for. The database is a fresh one, dropped at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.console import queries  # noqa: E402
from bot.db.engine import make_engine, upgrade  # noqa: E402

PG_ADMIN_URL = os.environ.get(
    "ASSIST_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REPOS = 200


def _fill(engine: sa.Engine, rows: int) -> None:
    """Deliveries and job runs spread over 90 days and 200 repositories, in bulk (SQL)."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                """
                INSERT INTO job_runs (job_id, kind, forge, repo, number, head_sha, status,
                                      attempts, detail, usage, error, started_at, finished_at)
                SELECT 'job-' || g,
                       (ARRAY['review','review','review','index','fix','ask'])[1 + g % 6],
                       CASE WHEN g % 3 = 0 THEN 'gitlab' ELSE 'github' END,
                       'org' || (g % 20) || '/repo' || (g % :repos),
                       1 + (g / :repos) % 500,
                       md5(g::text) || md5((g+1)::text),
                       (ARRAY['done','done','done','done','failed','deferred','superseded',
                              'running'])[1 + g % 8],
                       1 + g % 3,
                       json_build_object('status', 'posted', 'unplaced', g % 4, 'chunks', g % 900,
                                         'commit', md5(g::text)),
                       json_build_object('prompt_tokens', 500 + g % 1500,
                                         'completion_tokens', 50 + g % 400,
                                         'latency_s', (g % 100) / 10.0),
                       CASE WHEN g % 8 = 4 THEN 'RuntimeError: forge said 502' ELSE '' END,
                       now() - make_interval(secs => (g::float / :rows) * 90 * 86400),
                       now() - make_interval(secs => (g::float / :rows) * 90 * 86400 - 30)
                FROM generate_series(1, :rows) AS g
                """
            ),
            {"rows": rows, "repos": REPOS},
        )
        conn.execute(
            sa.text(
                """
                INSERT INTO deliveries (forge, delivery_id, delivery_key, event, repo, outcome,
                                        reason, status_code, job_ids, body_bytes, body_sha256,
                                        received_at, updated_at)
                SELECT CASE WHEN g % 3 = 0 THEN 'gitlab' ELSE 'github' END,
                       'd-' || g, 'd-' || g,
                       (ARRAY['pull_request.opened','pull_request.synchronize','push',
                              'issue_comment.created','star.created'])[1 + g % 5],
                       'org' || (g % 20) || '/repo' || (g % :repos),
                       (ARRAY['queued','queued','ignored','duplicate','unauthorized'])[1 + g % 5],
                       '', 202, json_build_array('job-' || g), 4000, md5(g::text),
                       now() - make_interval(secs => (g::float / :rows) * 90 * 86400),
                       now()
                FROM generate_series(1, :rows) AS g
                """
            ),
            {"rows": rows, "repos": REPOS},
        )
        conn.execute(sa.text("ANALYZE"))


def _time(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    fn()  # warm the cache and the connection pool
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95


def _cases(engine: sa.Engine, rows: int) -> dict[str, Callable[[], Any]]:
    everything = queries.Scope(("*",))
    some = queries.Scope(("org3/*",))
    week = dt.datetime.now(dt.UTC) - dt.timedelta(days=7)
    month = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    repo = "org7/repo7"
    middle = f"job-{rows // 2}"
    F = queries.Filters

    def baseline() -> None:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT * FROM deliveries WHERE id = :i"), {"i": rows // 2}).all()

    return {
        "baseline: delivery by id": baseline,
        "deliveries: newest": lambda: queries.deliveries(engine, F(), everything),
        "deliveries: repo": lambda: queries.deliveries(engine, F(repo=repo), everything),
        "deliveries: outcome+week": lambda: queries.deliveries(
            engine, F(status="unauthorized", since=week), everything
        ),
        "deliveries: scope org3/*": lambda: queries.deliveries(engine, F(), some),
        "deliveries: page 20": lambda: queries.deliveries(
            engine, F(before=rows - 20 * 50), everything
        ),
        "jobs: newest": lambda: queries.jobs(engine, F(), everything),
        "jobs: failed": lambda: queries.jobs(engine, F(status="failed"), everything),
        "jobs: repo+kind": lambda: queries.jobs(engine, F(repo=repo, kind="review"), everything),
        "jobs: failed+week": lambda: queries.jobs(
            engine, F(status="failed", since=week), everything
        ),
        "job: detail": lambda: queries.job(engine, middle, everything),
        "change: timeline": lambda: queries.change(engine, "github", repo, 3, everything),
        "repositories": lambda: queries.repositories(engine, F(), everything),
        "costs: per day, 30 days": lambda: queries.costs(engine, F(since=month), everything),
        "costs: per repo, 30 days": lambda: queries.costs(
            engine, F(since=month), everything, by="repo"
        ),
        "costs: per kind, 7 days": lambda: queries.costs(
            engine, F(since=week), everything, by="kind"
        ),
        "filter choices": lambda: queries.distinct_values(engine, everything),
    }


def _run(engine: sa.Engine, rows: int, repeat: int, label: str) -> dict[str, float]:
    cases = _cases(engine, rows)
    results = {name: _time(fn, repeat) for name, fn in cases.items()}
    base = results["baseline: delivery by id"][1]
    print(f"\n{label}: {rows} deliveries, {rows} job runs, {repeat} runs each")
    print(f"{'query':32} {'p50 ms':>9} {'p95 ms':>9} {'p95/baseline':>13}")
    for name, (p50, p95) in results.items():
        print(f"{name:32} {p50:9.2f} {p95:9.2f} {p95 / base:13.1f}")
    return {name: p95 for name, (_, p95) in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--without-indexes", action="store_true")
    args = parser.parse_args()

    name = f"assist_bench_console_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        engine = make_engine(url, pool_size=2)
        started = time.perf_counter()
        _fill(engine, args.rows)
        print(f"filled in {time.perf_counter() - started:.1f} s")
        with_idx = _run(engine, args.rows, args.repeat, "with the 18_console indexes")
        if args.without_indexes:
            from importlib import import_module

            migration = import_module("bot.db.migrations.versions.0003_console")
            with engine.begin() as conn:
                for index, _table, _cols in migration.INDEXES:
                    conn.execute(sa.text(f"DROP INDEX {index}"))
                conn.execute(sa.text("ANALYZE"))
            without = _run(engine, args.rows, args.repeat, "without them")
            print(f"\n{'query':32} {'p95 without / with':>20}")
            for case, p95 in with_idx.items():
                print(f"{case:32} {without[case] / p95:20.1f}")
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
