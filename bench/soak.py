"""Soak: the whole system under a realistic mix of deliveries, with faults, then invariants.

`assist serve` + N `assist worker` processes + a private Redis (append-only file) + a private
PostgreSQL + the test forge (GitHub App mode) + a model server answering from the prompt.
For ``--seconds`` a driver opens and updates pull requests, comments commands, pushes and
redelivers, at ``--rate`` deliveries a second; a 503 or a refused connection is retried the way
a forge redelivers. Faults (``--faults``): a worker SIGKILLed in the middle of posting a
review, the forge answering 5xx and rate limits, the model server down, Redis restarted,
PostgreSQL restarted. Then the queues drain and the invariants are checked.

    .venv/bin/python -m bench.soak --seconds 120 --workers 3 --rate 4 --faults

Prints a JSON report; exits 1 when an invariant does not hold.
"""

from __future__ import annotations

import argparse
import json
import queue
import random
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from redis import Redis
from rq.job import Job
from rq.registry import FailedJobRegistry, StartedJobRegistry

from bench.soak_check import Observed, check_invariants, percentile
from bench.soak_parts import DurableRedis, PrivatePostgres, ReplyingModel, Workers
from bot.db.engine import upgrade
from tests.support.payloads import github_comment, github_pull
from tests.support.processes import serve
from tests.support.webhooks import GITHUB_SECRET, dumps, github_examples, github_headers
from tests.testforge import Fault, TestForge
from tests.testforge.fixtures import AppKey
from tests.testforge.server import default_corpora

APP_ID = 4343
BOT = "forge-assist[bot]"
OWNER = "soak"
BASE_FILE = "def compute(price, qty):\n    total = 0\n{lines}    return total\n"


def soak_line(pr: int, k: int, path: str) -> str:
    return f"    total_{pr}_{k} = price * qty  # soak {path}\n"


@dataclass
class Pull:
    repo: str
    repo_id: int
    number: int
    branch: str
    path: str
    head: str
    lines: int


@dataclass
class Delivery:
    id: str
    event: str
    body: bytes
    kind: str
    sent_at: float = 0.0
    attempts: int = 0
    status: int = 0
    jobs: list[str] = field(default_factory=list)
    latency_s: float = 0.0
    redelivery_of: str | None = None


@dataclass(frozen=True)
class SoakConfig:
    seconds: float = 60.0
    workers: int = 3
    rate: float = 4.0
    repos: int = 2
    faults: bool = True
    seed: int = 7
    drain_s: float = 240.0
    senders: int = 4
    # The load goes on past ``seconds`` until this many deliveries were generated and every
    # fault has met its target (a slow machine runs longer; it does not do less).
    min_deliveries: int = 0


class Soak:
    def __init__(self, config: SoakConfig, *, corpora: Path | None = None) -> None:
        self.cfg = config
        self.corpora = corpora or default_corpora()
        self.rng = random.Random(config.seed)
        self.stack = ExitStack()
        self.log_dir = Path(tempfile.mkdtemp(prefix="assist-soak-"))
        self.pulls: list[Pull] = []
        self.deliveries: dict[str, Delivery] = {}
        self.redeliveries: list[Delivery] = []
        self.lock = threading.Lock()
        self.outbox: queue.Queue[Delivery | None] = queue.Queue()
        self.fault_log: list[dict[str, Any]] = []
        self.lost: list[str] = []
        self.next_pr = 0
        self.stop_faults = threading.Event()

    # --- setup ------------------------------------------------------------------------------

    def start(self) -> None:
        self.redis = DurableRedis()
        self.stack.callback(self.redis.close)
        self.redis.start()
        self.pg = PrivatePostgres()
        self.stack.callback(self.pg.close)
        self.pg.start()
        upgrade(self.pg.url)
        self.forge = self.stack.enter_context(TestForge(corpora=self.corpora))
        self.model = ReplyingModel()
        self.model.start()
        self.stack.callback(self.model.stop)
        key = AppKey.generate()
        self.forge.add_app(APP_ID, key.public_pem)
        self.repos: dict[str, int] = {}
        for i in range(self.cfg.repos):
            name = f"{OWNER}/repo{i}"
            created = self.forge.create_repo(
                name, files={"README.md": "# soak\n"}, members={"maint": "maintain"}
            )
            self.repos[name] = int(created["id"])
        self.installation = self.forge.add_installation(APP_ID, list(self.repos))
        self.base_sha = {r: self.forge.refs(r)["main"] for r in self.repos}
        env = {
            "ASSIST_DATABASE_URL": self.pg.url,
            "ASSIST_REDIS_URL": self.redis.url,
            "ASSIST_GITHUB_WEBHOOK_SECRETS": GITHUB_SECRET,
            "ASSIST_LOG_LEVEL": "WARNING",
            "ASSIST_BOT_LOGINS": BOT,
            "ASSIST_JOB_RETRIES": "6",
            "ASSIST_JOB_RETRY_BACKOFF_S": "1,2,4,8,8,8",
            "ASSIST_JOB_TIMEOUT_S": "120",
        }
        self.web_env = env
        self.base = self.stack.enter_context(serve(env, workers=1))
        worker_env = {
            **env,
            "ASSIST_LLM_BASE_URLS": self.model.base_url,
            "ASSIST_LLM_MODEL": "scripted",
            "ASSIST_LLM_MAX_RETRIES": "2",
            "ASSIST_LLM_BACKOFF_BASE_S": "0.2",
            "ASSIST_LLM_TIMEOUT_S": "20",
            "ASSIST_LLM_MAX_CONCURRENCY": "2",
            "ASSIST_LLM_CONTEXT_TOKENS": "16000",
            "ASSIST_GITHUB_WRITE_PAUSE_S": "0",
            "ASSIST_FORGE_TIMEOUT_S": "10",
            "ASSIST_FORGE_RETRY_BACKOFF_S": "0.2",
            "ASSIST_GITHUB_API_URL": self.forge.github_api_url,
            "ASSIST_GITHUB_APP_ID": str(APP_ID),
            "ASSIST_GITHUB_PRIVATE_KEY": key.private_pem,
            "ASSIST_JOB_HEARTBEAT_S": "1",
            "ASSIST_JOB_ABANDON_GRACE_S": "4",
            "ASSIST_WORKER_MAINTENANCE_S": "3",
            "ASSIST_LIMIT_DELAY_S": "1",
            "ASSIST_CACHE_DIR": str(self.log_dir / "cache"),  # absolute, and out of the tree
            "ASSIST_QDRANT_LOCATION": str(self.log_dir / "qdrant"),
        }
        self.workers = Workers(worker_env, self.cfg.workers, self.log_dir)
        self.workers.start()
        self.stack.callback(self.workers.stop)

    def close(self) -> None:
        self.stack.close()

    # --- the load ---------------------------------------------------------------------------

    def _pull_payload(self, p: Pull, action: str, before: str | None = None) -> bytes:
        payload = github_pull(
            self.corpora, repo=p.repo, repo_id=p.repo_id, number=p.number, head_sha=p.head,
            base_sha=self.base_sha[p.repo], action=action, installation=self.installation,
            before=before,
        )  # fmt: skip
        payload["pull_request"]["head"]["ref"] = p.branch
        return dumps(payload)

    def _open(self) -> Delivery:
        repo = self.rng.choice(list(self.repos))
        self.next_pr += 1
        n = self.next_pr
        branch, path = f"soak-{n}", f"soak/mod_{n}.py"
        text = BASE_FILE.format(lines=soak_line(n, 1, path) + soak_line(n, 2, path))
        head = self.forge.commit(repo, branch, {path: text}, f"Soak change {n}")
        number = self.forge.add_pull(repo, head=branch, title=f"Soak {n}", author="alice")
        pull = Pull(repo, self.repos[repo], number, branch, path, head, 2)
        self.pulls.append(pull)
        return self._new("pull_request", self._pull_payload(pull, "opened"), "opened")

    def _update(self) -> Delivery:
        p = self.rng.choice(self.pulls)
        p.lines += 1
        n = int(p.branch.split("-")[1])
        lines = "".join(soak_line(n, k, p.path) for k in range(1, p.lines + 1))
        before = p.head
        p.head = self.forge.commit(
            p.repo, p.branch, {p.path: BASE_FILE.format(lines=lines)}, "More", start=p.branch
        )
        return self._new("pull_request", self._pull_payload(p, "synchronize", before), "updated")

    def _command(self) -> Delivery:
        p = self.rng.choice(self.pulls)
        text, author = self.rng.choice(
            [("/assist review", "maint"), ("/assist ask is this right?", "alice"),
             ("/assist help", "alice")]
        )  # fmt: skip
        comment_id = self.forge.add_comment(p.repo, p.number, text, author=author)
        payload = github_comment(
            self.corpora, repo=p.repo, repo_id=p.repo_id, number=p.number,
            comment_id=comment_id, body=text, author=author, installation=self.installation,
        )  # fmt: skip
        return self._new("issue_comment", dumps(payload), "command")

    def _push(self) -> Delivery:
        repo = self.rng.choice(list(self.repos))
        payload = next(dict(b) for name, b in github_examples(self.corpora) if name == "push")
        payload = json.loads(json.dumps(payload))
        owner, name = repo.split("/")
        payload["repository"].update(
            {"full_name": repo, "name": name, "id": self.repos[repo], "default_branch": "main"}
        )
        payload["repository"]["owner"]["login"] = owner
        payload["installation"] = {"id": self.installation, "node_id": "MDIz"}
        # A push to a pull request's branch (the synchronize delivery does the work); pushes
        # to the default branch start the indexer, which is measured in bench/index.py.
        branch = self.rng.choice(self.pulls).branch
        payload.update(
            {"ref": f"refs/heads/{branch}", "before": "0" * 40, "after": uuid.uuid4().hex + "0" * 8}
        )
        payload["deleted"] = False
        return self._new("push", dumps(payload), "push")

    def _redeliver(self) -> Delivery | None:
        with self.lock:
            done = [d for d in self.deliveries.values() if d.status in (200, 202)]
        if not done:
            return None
        first = self.rng.choice(done)
        again = Delivery(first.id, first.event, first.body, "redelivery", redelivery_of=first.id)
        self.redeliveries.append(again)
        return again

    def _new(self, event: str, body: bytes, kind: str) -> Delivery:
        d = Delivery(str(uuid.uuid4()), event, body, kind)
        with self.lock:
            self.deliveries[d.id] = d
        return d

    def _next(self) -> Delivery | None:
        if len(self.pulls) < 2:
            return self._open()
        actions: list[tuple[float, Callable[[], Delivery | None]]] = [
            (3, self._open), (3, self._update), (2, self._command), (1, self._push),
            (1, self._redeliver),
        ]  # fmt: skip
        pick = self.rng.uniform(0, sum(w for w, _ in actions))
        for weight, action in actions:
            pick -= weight
            if pick <= 0:
                return action()
        return self._open()

    def _send(self, d: Delivery, client: httpx.Client) -> None:
        """POST until answered 2xx, like a forge redelivering a failed delivery."""
        d.sent_at = time.monotonic()
        deadline = d.sent_at + self.cfg.drain_s
        while time.monotonic() < deadline:
            d.attempts += 1
            started = time.monotonic()
            try:
                reply = client.post(
                    self.base + "/webhooks/github",
                    content=d.body,
                    headers=github_headers(d.event, d.body, delivery=d.id),
                )
            except httpx.HTTPError:
                time.sleep(0.5)
                continue
            if reply.status_code in (200, 202):
                d.latency_s = time.monotonic() - started
                d.status = reply.status_code
                d.jobs = list(reply.json().get("jobs", []))
                return
            if reply.status_code != 503:
                d.status = reply.status_code
                self.lost.append(f"{d.id}: answered {reply.status_code} {reply.text[:200]}")
                return
            time.sleep(0.5)
        self.lost.append(f"{d.id}: never accepted")

    def _sender(self) -> None:
        with httpx.Client(timeout=30) as client:
            while (d := self.outbox.get()) is not None:
                self._send(d, client)

    # --- faults -----------------------------------------------------------------------------

    def _fault(self, name: str, action: Callable[[], Any]) -> None:
        started = time.monotonic()
        detail = action()
        self.fault_log.append(
            {"fault": name, "at_s": round(started - self.t0, 1),
             "took_s": round(time.monotonic() - started, 1), "detail": detail}
        )  # fmt: skip

    def _kill_mid_post(self) -> dict[str, Any]:
        """Hold the next review POST at the forge for 3 s and SIGKILL the workers whose jobs
        are running meanwhile: a job dies between sending its review and hearing back."""
        fault = Fault(delay_s=5.0, api="github", method="POST", path=r"/reviews$", times=1)
        self.forge.inject(fault)
        while fault.hits == 0:  # the load goes on until a review is posted
            if self.stop_faults.wait(0.05):
                return {"killed": [], "note": "no review was posted before the soak ended"}
        conn = Redis.from_url(self.redis.url)
        killed = []
        for job_id in StartedJobRegistry("review", connection=conn).get_job_ids():
            with suppress(Exception):
                worker = Job.fetch(job_id, connection=conn).worker_name
                if worker and self.workers.kill(worker):
                    killed.append({"worker": worker, "job": job_id})
        conn.close()
        return {"killed": killed}

    def _forge_errors(self) -> dict[str, Any]:
        self.forge.inject(Fault.server_error(502, times=6, api="github"))
        self.forge.inject(Fault.rate_limit(reset_in_s=2, status=403, times=2, api="github"))
        self.forge.inject(Fault.rate_limit(reset_in_s=1, status=429, times=2, api="github"))
        return {"5xx": 6, "rate_limited": 4}

    def _model_down(self) -> dict[str, Any]:
        """The model is down until a job has met the outage, then 2 s more."""
        started = time.monotonic()
        refused_before = self.model.refused
        self.model.down_until = float("inf")
        try:
            while self.model.refused == refused_before:
                if self.stop_faults.wait(0.05):
                    break
            self.stop_faults.wait(2.0)
        finally:
            self.model.down_until = 0.0
        return {"down_s": round(time.monotonic() - started, 1), "refused": self.model.refused}

    def _redis_restart(self) -> dict[str, Any]:
        self.redis.restart(2.0)
        return {"down_s": 2.0}

    def _pg_restart(self) -> dict[str, Any]:
        self.pg.restart(2.0)
        return {"down_s": 2.0}

    def _faults(self) -> None:
        stop = self.stop_faults
        plan: list[tuple[float, str, Callable[[], Any]]] = [
            (0.15, "worker SIGKILLed mid-post", self._kill_mid_post),
            (0.30, "forge 5xx and rate limits", self._forge_errors),
            (0.45, "model server down", self._model_down),
            (0.60, "Redis restarted", self._redis_restart),
            (0.75, "PostgreSQL restarted", self._pg_restart),
        ]
        for frac, name, action in plan:
            while time.monotonic() - self.t0 < frac * self.cfg.seconds:
                if stop.wait(0.1):
                    return
            self._fault(name, action)

    # --- the run ----------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        self.t0 = time.monotonic()
        senders = [threading.Thread(target=self._sender) for _ in range(self.cfg.senders)]
        for t in senders:
            t.start()
        faults = threading.Thread(target=self._faults)
        if self.cfg.faults:
            faults.start()
        generated = 0
        # Past ``seconds``, the load goes on while it is still needed, up to ``drain_s`` more.
        cap = self.cfg.seconds + self.cfg.drain_s
        while time.monotonic() - self.t0 < cap and (
            time.monotonic() - self.t0 < self.cfg.seconds
            or generated < self.cfg.min_deliveries
            or faults.is_alive()
        ):
            d = self._next()
            if d is not None:
                self.outbox.put(d)
                generated += 1
            self.workers.supervise()
            time.sleep(self.rng.expovariate(self.cfg.rate))
        load_s = time.monotonic() - self.t0
        self.stop_faults.set()
        if faults.is_alive():
            faults.join()
        for _ in senders:
            self.outbox.put(None)
        for t in senders:
            t.join()
        sent_s = time.monotonic() - self.t0
        drained = self._drain()
        return self._report(generated, load_s, sent_s, drained)

    def _drain(self) -> float:
        """Wait until every job of every accepted delivery has ended; seconds it took."""
        started = time.monotonic()
        engine = sa.create_engine(self.pg.url)
        try:
            while time.monotonic() - started < self.cfg.drain_s:
                self.workers.supervise()
                with suppress(Exception), engine.connect() as conn:
                    pending = conn.execute(
                        sa.text(
                            "SELECT count(*) FROM job_runs WHERE status NOT IN "
                            "('done', 'failed', 'superseded', 'deferred')"
                        )
                    ).scalar_one()
                    known = {r[0] for r in conn.execute(sa.text("SELECT job_id FROM job_runs"))}
                    wanted = {j for d in self.deliveries.values() for j in d.jobs}
                    if pending == 0 and wanted <= known and self._queues_empty():
                        return time.monotonic() - started
                time.sleep(0.5)
        finally:
            engine.dispose()
        return time.monotonic() - started

    def _queues_empty(self) -> bool:
        conn = Redis.from_url(self.redis.url)
        try:
            for name in ("review", "index"):
                if conn.llen(f"rq:queue:{name}") or conn.zcard(f"rq:scheduled:{name}"):
                    return False
                if StartedJobRegistry(name, connection=conn).count:
                    return False
            return True
        finally:
            conn.close()

    def _job_times(self, conn: Redis, job_ids: list[str]) -> tuple[list[float], list[float]]:
        waits, runs = [], []
        for job_id in job_ids:
            with suppress(Exception):
                job = Job.fetch(job_id, connection=conn)
                if job.enqueued_at and job.started_at:
                    waits.append((job.started_at - job.enqueued_at).total_seconds())
                if job.started_at and job.ended_at:
                    runs.append((job.ended_at - job.started_at).total_seconds())
        return waits, runs

    def _report(
        self, generated: int, load_s: float, sent_s: float, drain_s: float
    ) -> dict[str, Any]:
        conn = Redis.from_url(self.redis.url)
        accepted = [d for d in self.deliveries.values() if d.status in (200, 202)]
        job_ids = sorted({j for d in accepted for j in d.jobs})
        waits, runs = self._job_times(conn, job_ids)
        rq_status = {}
        for job_id in job_ids:
            try:
                job = Job.fetch(job_id, connection=conn)
                rq_status[job_id] = f"{job.get_status()} in {job.origin}"
            except Exception as exc:
                rq_status[job_id] = type(exc).__name__
        rq_status["intermediate"] = str(conn.lrange("rq:queue:review:intermediate", 0, -1))
        failed_rq = set()
        for name in ("review", "index"):
            failed_rq |= set(FailedJobRegistry(name, connection=conn).get_job_ids())
        conn.close()
        observed = Observed(
            forge=self.forge,
            db_url=self.pg.url,
            deliveries={d.id: d.jobs for d in accepted},
            redeliveries=[(d.id, d.jobs, d.status) for d in self.redeliveries],
            lost=list(self.lost),
            failed_in_rq=failed_rq,
            pulls=[(p.repo, p.number) for p in self.pulls],
            base_sha=self.base_sha,
            rq_status=rq_status,
        )
        invariants = check_invariants(observed)
        latencies = [d.latency_s for d in accepted]
        return {
            "config": self.cfg.__dict__,
            "deliveries": {
                "generated": generated,
                "redeliveries": len(self.redeliveries),
                "accepted": len(accepted),
                "per_s": round(len(accepted) / load_s, 2),
                "http_p50_ms": round(1000 * percentile(latencies, 50), 1),
                "http_p99_ms": round(1000 * percentile(latencies, 99), 1),
                "retried_after_503_or_refusal": sum(1 for d in accepted if d.attempts > 1),
            },
            "jobs": {
                "count": len(job_ids),
                "queue_p50_s": round(percentile(waits, 50), 3),
                "queue_p99_s": round(percentile(waits, 99), 3),
                "run_p50_s": round(percentile(runs, 50), 3),
                "run_p99_s": round(percentile(runs, 99), 3),
                "failed_in_rq": len(failed_rq),
            },
            "drain_s": round(drain_s, 1),
            "load_s": round(load_s, 1),
            "senders_done_s": round(sent_s, 1),
            "faults": self.fault_log,
            "workers": {
                "killed": self.workers.killed,
                "restarted": self.workers.restarts,
                "logs": str(self.log_dir),
            },
            "model": {"requests": len(self.model.chat_requests()), "refused": self.model.refused},
            "invariants": invariants,
        }


@contextmanager
def soak(config: SoakConfig, *, corpora: Path | None = None) -> Iterator[Soak]:
    s = Soak(config, corpora=corpora)
    try:
        s.start()
        yield s
    finally:
        s.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--rate", type=float, default=4.0, help="deliveries per second")
    parser.add_argument("--repos", type=int, default=2)
    parser.add_argument("--faults", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--drain", type=float, default=240.0)
    parser.add_argument("--min-deliveries", type=int, default=0)
    args = parser.parse_args(argv)
    config = SoakConfig(
        seconds=args.seconds, workers=args.workers, rate=args.rate, repos=args.repos,
        faults=args.faults, seed=args.seed, drain_s=args.drain,
        min_deliveries=args.min_deliveries,
    )  # fmt: skip
    with soak(config) as s:
        report = s.run()
    sys.stdout.write(json.dumps(report, indent=2, default=str) + "\n")
    return 0 if report["invariants"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
