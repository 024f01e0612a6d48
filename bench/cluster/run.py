"""The cluster run: start every part, check what must hold, drive the load through HAProxy
while parts are killed and restarted on a schedule, check again, and stop everything."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import psutil
import psycopg

from app.webhooks.secrets import generate_key
from bench import sync
from bench.cluster import checks
from bench.cluster.analysis import Phase, Window, answers, classify, latency_by_phase
from bench.cluster.parts import HAProxy, Instance, Postgres, Redis, executable
from bench.cluster.reaper import Reaper
from bench.cluster.sampler import ConnectionSampler
from bench.cluster.workers import NOT_BUILT, WebhookWorkers
from bench.load_data import Dataset, email_of, ensure_loaded
from bench.run import bench_users, log_in, preflight, write_tokens
from tests.support.own_pgbouncer import OwnPgBouncer, pgbouncer_executable
from tests.support.servers import free_port

BENCH = Path(__file__).resolve().parents[1]
DATA = BENCH / ".data" / "cluster"
DATABASE = "taskapi"
INSTANCES = 3
STATEMENT_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class Schedule:
    """Seconds of each stretch of the load, in order."""

    steady: float  # before the first fault
    instance_down: float  # from the SIGKILL of an instance to its restart
    settle: float  # after the restart: it boots, HAProxy sees it up, then steady again
    pgbouncer: float  # from the PgBouncer restart on (its latency phase)
    redis_down: float  # Redis stopped
    worker_kill: float  # from the SIGKILL of a webhook worker on
    tail: float  # steady, to the end

    @property
    def load_seconds(self) -> float:
        return sum(asdict(self).values())


SMOKE = Schedule(
    steady=8, instance_down=6, settle=12, pgbouncer=8, redis_down=6, worker_kill=6, tail=6
)
FULL = Schedule(
    steady=30, instance_down=20, settle=20, pgbouncer=20, redis_down=20, worker_kill=15, tail=20
)


@dataclass(frozen=True)
class Settings:
    smoke: bool
    schedule: Schedule
    users: int  # simulated users of the load (one bench user each)
    rate: float  # offered requests a second, in all
    tasks_per_user: int
    workers_per_instance: int
    pool_size: int  # PgBouncer's server connections per pool
    rate_limit: int  # RATELIMIT_DEFAULT, per user and minute
    seed: int


def log(message: str) -> None:
    print(f"[cluster {time.strftime('%H:%M:%S')}] {message}", flush=True)


def sleep_until(when: float) -> None:
    delay = when - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def instance_env(settings: Settings, bouncer: OwnPgBouncer, redis_url: str) -> dict[str, str]:
    """The production configuration of every instance, through PgBouncer, limits in Redis.
    Every simulated client is 127.0.0.1, so the per-address login limit is lifted."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DB_", "RATELIMIT_", "TEST_", "JWT_", "PROMETHEUS_"))
        and name not in {"DATABASE_URL", "GUNICORN_CMD_ARGS", "WEB_CONCURRENCY", "PORT"}
    }
    env.update(
        {
            "APP_ENV": "production",
            "HOST": "127.0.0.1",
            "DATABASE_URL": bouncer.url,
            "DB_TRANSACTION_POOLER": "true",
            "DB_STATEMENT_TIMEOUT_MS": str(STATEMENT_TIMEOUT_MS),
            "JWT_SECRET_KEY": secrets.token_urlsafe(48),
            # A Fernet key: production seals webhook secrets with it (and refuses to start
            # without one).
            "WEBHOOK_SECRET_KEY": generate_key(),
            "JWT_ACCESS_TOKEN_MINUTES": "120",
            "RATELIMIT_STORAGE_URI": redis_url,
            "RATELIMIT_KEY_PREFIX": f"cluster-{uuid.uuid4().hex[:8]}",
            "RATELIMIT_DEFAULT": f"{settings.rate_limit} per minute",
            "RATELIMIT_AUTH": "10000 per minute",
            "TRUSTED_PROXY_COUNT": "1",
            "WEB_CONCURRENCY": str(settings.workers_per_instance),
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def start_load(
    base: str,
    tokens: Path,
    settings: Settings,
    marker: str,
    start_at: float,
    reaper: Reaper,
) -> tuple[subprocess.Popen, Path, Path]:
    """bench/paced.py in a process (and session) of its own, starting at `start_at`."""
    out, events = DATA / "paced.json", DATA / "events.jsonl"
    for path in (out, events):
        path.unlink(missing_ok=True)
    command = [sys.executable, str(BENCH / "paced.py"), "--base", base, "--tokens", str(tokens)]
    command += ["--out", str(out), "--events", str(events), "--marker", marker]
    command += ["--users", str(settings.users), "--seconds", str(settings.schedule.load_seconds)]
    command += ["--rate", str(settings.rate / settings.users), "--seed", str(settings.seed)]
    command += ["--start-at", f"{start_at:.6f}"]
    with open(DATA / "paced.log", "wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    reaper.add_group("load", process)
    return process, out, events


class Run:
    """One cluster run; `execute()` returns the report (bench/cluster/report.py prints it)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.reaper = Reaper()
        self.reaper.log = log
        self.root = Path(tempfile.mkdtemp(prefix="taskapi-cluster-"))
        self.timeline: list[dict[str, Any]] = []
        self.windows: list[Window] = []
        self.phases: list[Phase] = []
        self.pids: set[int] = set()
        self.t0 = 0.0

    def note(self, action: str, at: float, **details: Any) -> None:
        """One line of the timeline, its time relative to the start of the load."""
        entry = {"t": round(at - self.t0, 2), "action": action, **details}
        self.timeline.append(entry)
        log(f"t={entry['t']:6.1f}s {action} {details or ''}")

    def execute(self) -> dict[str, Any]:
        self.reaper.install()
        DATA.mkdir(parents=True, exist_ok=True)
        try:
            return self._execute()
        finally:
            self.reaper.stop_all()
            self._keep_logs()
            shutil.rmtree(self.root, ignore_errors=True)

    def _keep_logs(self) -> None:
        """The parts' logs, kept in bench/.data/cluster/logs (the rest is deleted)."""
        target = DATA / "logs"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for path in self.root.rglob("*.log"):
            shutil.copy(path, target / f"{path.parent.name}-{path.name}")
        for path in self.root.glob("**/*.cfg"):
            shutil.copy(path, target / path.name)
        for path in self.root.glob("**/pgbouncer.ini"):
            shutil.copy(path, target / path.name)

    def _execute(self) -> dict[str, Any]:
        settings, schedule = self.settings, self.settings.schedule
        began = time.monotonic()
        for program in ("redis-server", "haproxy"):
            executable(program)
        try:
            pgbouncer_executable()
        except RuntimeError as missing:
            raise SystemExit(str(missing)) from None

        postgres = Postgres(self.root / "postgresql", free_port())
        self.reaper.add("postgresql", postgres.stop)
        postgres.start()
        self.pids.add(postgres.pid() or 0)
        direct_url = postgres.url(DATABASE)
        dataset = Dataset(settings.users, settings.tasks_per_user, growth=(), heavy=())
        ensure_loaded(direct_url, dataset)
        postgres.set_statement_timeout(DATABASE, STATEMENT_TIMEOUT_MS)
        log(f"PostgreSQL on 127.0.0.1:{postgres.port}, {dataset.total_tasks:,} tasks loaded")

        bouncer = OwnPgBouncer(
            self.root / "pgbouncer",
            direct_url,
            pool_size=settings.pool_size,
            max_client_conn=500,
            new_session=True,
        )
        self.reaper.add("pgbouncer", bouncer.stop)
        bouncer.start()
        self.pids.add(bouncer.pid or 0)
        redis = Redis(self.root / "redis", free_port(), self.reaper)
        redis.start()
        self.pids.add(redis.process.pid if redis.process else 0)
        log(f"PgBouncer on {bouncer.port} (transaction mode), Redis on {redis.port}")

        env = instance_env(settings, bouncer, redis.url)
        instances = [
            Instance(
                f"instance-{n}",
                free_port(),
                env,
                self.root / f"instance-{n}" / "gunicorn.log",
                self.reaper,
            )
            for n in range(1, INSTANCES + 1)
        ]
        for instance in instances:
            instance.log_path.parent.mkdir(parents=True, exist_ok=True)
            instance.launch()
        for instance in instances:
            instance.wait_ready()
            self.pids.update(instance.pids())
        haproxy = HAProxy(
            self.root / "haproxy",
            free_port(),
            free_port(),
            [(i.name, i.port) for i in instances],
            self.reaper,
        )
        haproxy.start()
        self.pids.add(haproxy.process.pid if haproxy.process else 0)
        log(f"3 instances ({', '.join(str(i.port) for i in instances)}) behind {haproxy.base}")
        workers = WebhookWorkers(self.reaper, env, direct_url, self.root / "workers")
        workers_started = workers.start()

        sampler = ConnectionSampler(postgres.url(), DATABASE, bouncer)
        sampler.start()
        self.reaper.add("sampler", sampler.stop)

        emails = [email_of(i) for i in range(1, settings.users + 1)]
        logged = log_in(haproxy.base, emails)
        tokens = DATA / "tokens.txt"
        users = bench_users(direct_url, logged, emails)
        # The preflight (and the mix) sync from each user's latest token, as bench/run.py does.
        latest = sync.since_tokens(haproxy.base, [(u.id, u.token) for u in users])
        users = [replace(u, since=latest[u.id]) for u in users]
        write_tokens(tokens, users)
        preflight(haproxy.base, users[0])
        direct = {i.name: i.base for i in instances}
        before = {
            "rate_limit": checks.shared_rate_limit(haproxy.base, settings.rate_limit),
            "logout": checks.logout_everywhere(haproxy.base, direct),
        }
        log(f"checks before the load: {_holds(before)}")
        setup_seconds = time.monotonic() - began

        marker = f"c{uuid.uuid4().hex[:6]}-"
        self.t0 = time.monotonic() + 1.0
        load, load_out, events_path = start_load(
            haproxy.base, tokens, settings, marker, self.t0, self.reaper
        )
        self.pids.add(load.pid)
        log(
            f"load: {settings.users} users, {settings.rate:g} req/s for "
            f"{schedule.load_seconds:g} s through HAProxy"
        )
        self._faults(schedule, instances[1], haproxy, bouncer, redis, workers)
        end = self.t0 + schedule.load_seconds
        try:
            load.wait(timeout=max(0.0, end - time.monotonic()) + 60)
        except subprocess.TimeoutExpired:
            raise SystemExit("bench/paced.py did not finish in time") from None
        if load.returncode != 0 or not events_path.exists():
            raise SystemExit(f"bench/paced.py failed ({load.returncode}): see {DATA / 'paced.log'}")
        sampler.stop()

        after = {
            "rate_limit": checks.shared_rate_limit(haproxy.base, settings.rate_limit),
            "logout": checks.logout_everywhere(haproxy.base, direct),
        }
        log(f"checks after the load: {_holds(after)}")
        events = checks.read_events(events_path)
        lost = checks.nothing_lost(events, direct_url, marker)
        webhooks = workers.check()
        stats = haproxy.stats()
        server_errors = _server_errors([i.log_path for i in instances])
        versions = _versions(postgres, bouncer)
        for instance in instances:
            self.pids.update(instance.pids())
        self.reaper.stop_all()
        leftover = sorted(pid for pid in self.pids if pid and _alive(pid))
        return {
            "settings": {**asdict(settings), "load_seconds": schedule.load_seconds},
            "topology": {
                "postgresql": {"port": postgres.port, "version": versions["postgresql"]},
                "pgbouncer": {
                    "port": bouncer.port,
                    "version": versions["pgbouncer"],
                    "pool_mode": "transaction",
                    "default_pool_size": settings.pool_size,
                    "query_wait_timeout_s": 3,
                },
                "redis": {"port": redis.port},
                "instances": {
                    i.name: {"port": i.port, "workers": settings.workers_per_instance}
                    for i in instances
                },
                "haproxy": {"port": haproxy.port, "version": versions["haproxy"]},
                "webhook_workers": workers_started,
            },
            "setup_seconds": round(setup_seconds, 1),
            "wall_seconds": round(time.monotonic() - began, 1),
            "timeline": self.timeline,
            "requests": len(events),
            "answers": answers(events),
            "failures": classify(events, self.windows),
            "latency": latency_by_phase(events, self.phases, schedule.load_seconds),
            "haproxy": _haproxy_figures(stats),
            "connections": sampler.summary(self.t0, end),
            "checks": {"before": before, "after": after, "nothing_lost": lost},
            "webhooks": webhooks,
            "server_errors": server_errors,
            "leftover_processes": leftover,
            "generator": _generator(load_out),
            "machine": {"cores": os.cpu_count(), "load_average": os.getloadavg()},
        }

    def _faults(
        self,
        schedule: Schedule,
        victim: Instance,
        haproxy: HAProxy,
        bouncer: OwnPgBouncer,
        redis: Redis,
        workers: WebhookWorkers,
    ) -> None:
        """The fault schedule; each fault waits (bounded) for the previous one's recovery."""
        t = self.t0 + schedule.steady
        sleep_until(t)
        # At this light load an instance is idle most of the time; a crash that hits requests
        # in flight is the case worth seeing, so the kill waits (up to 2 s) for one.
        deadline = time.monotonic() + 2
        in_flight = haproxy.sessions(victim.name)
        while not in_flight and time.monotonic() < deadline:
            time.sleep(0.002)
            in_flight = haproxy.sessions(victim.name)
        killed = time.monotonic()
        victim.kill()
        self.windows.append(Window(f"{victim.name} SIGKILL: in flight there", killed))
        self.note(f"SIGKILL {victim.name} (master and workers)", killed, in_flight=in_flight)
        down = haproxy.wait_status(victim.name, "DOWN", schedule.instance_down)
        self.note(f"HAProxy marks {victim.name} DOWN", killed + down)
        sleep_until(killed + schedule.instance_down)
        self.note(f"start {victim.name} again", time.monotonic())
        victim.launch()
        victim.wait_ready()
        self.pids.update(victim.pids())
        haproxy.wait_status(victim.name, "UP", 30)
        up = time.monotonic()
        self.phases.append(Phase("instance down", killed, up))
        self.note(f"HAProxy marks {victim.name} UP", up)

        t = max(killed + schedule.instance_down + schedule.settle, up + 2)
        sleep_until(t)
        stopped = time.monotonic()
        self.note("restart PgBouncer (SIGINT, its service unit's stop: safe shutdown)", stopped)
        bouncer.stop(safe=True)
        bouncer.start()
        back = time.monotonic()
        self.pids.add(bouncer.pid or 0)
        self.windows.append(Window("PgBouncer restart: stop until it accepts", stopped, back))
        self.phases.append(Phase("PgBouncer restart", stopped, stopped + schedule.pgbouncer))
        self.note("PgBouncer accepts again", back, gap_ms=round((back - stopped) * 1000))

        sleep_until(stopped + schedule.pgbouncer)
        redis_stopped = time.monotonic()
        redis.stop()
        self.note("stop Redis (SIGTERM)", redis_stopped)
        sleep_until(redis_stopped + schedule.redis_down)
        redis.start()
        redis_back = time.monotonic()
        self.pids.add(redis.process.pid if redis.process else 0)
        self.phases.append(Phase("Redis down", redis_stopped, redis_back))
        self.note("Redis started again", redis_back)

        worker_killed = workers.kill_one_mid_delivery()
        if worker_killed is None:
            self.note("SIGKILL one webhook worker mid-delivery", time.monotonic(), status=NOT_BUILT)
        else:
            self.windows.append(Window("webhook worker SIGKILL: in flight there", worker_killed))
            self.phases.append(
                Phase("worker killed", worker_killed, worker_killed + schedule.worker_kill)
            )
            self.note("SIGKILL one webhook worker mid-delivery", worker_killed)
        if time.monotonic() > self.t0 + schedule.load_seconds:
            self.note("the faults outlasted the load", time.monotonic())


def _holds(result: dict[str, Any]) -> str:
    return ", ".join(f"{name} {'holds' if r['holds'] else 'FAILS'}" for name, r in result.items())


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _server_errors(logs: list[Path]) -> dict[str, Any]:
    """ERROR lines of the instances' logs, by message (their first 120 characters)."""
    import json
    from collections import Counter

    messages: Counter[str] = Counter()
    unhandled = 0
    for path in logs:
        for line in path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                if "[ERROR]" in line or "[CRITICAL]" in line:
                    messages[line.split("]", 3)[-1].strip()[:120]] += 1
                continue
            if isinstance(record, dict) and record.get("level") in {"ERROR", "CRITICAL"}:
                message = str(record.get("message", ""))[:120]
                messages[message] += 1
                unhandled += message == "unhandled exception"
    return {"by_message": dict(messages.most_common(10)), "unhandled_exceptions": unhandled}


def _haproxy_figures(stats: list[dict[str, str]]) -> dict[str, Any]:
    """Retries and redispatches (a retry sent elsewhere), answers by class, per server and for
    the backend."""

    def figures(row: dict[str, str]) -> dict[str, Any]:
        names = ("wretr", "wredis", "econ", "eresp", "hrsp_2xx", "hrsp_4xx", "hrsp_5xx")
        return {name: int(row.get(name) or 0) for name in names} | {"status": row.get("status")}

    rows = [row for row in stats if row["pxname"] == "instances"]
    return {row["svname"]: figures(row) for row in rows}


def _versions(postgres: Postgres, bouncer: OwnPgBouncer) -> dict[str, str]:
    with psycopg.connect(postgres.url(), connect_timeout=5) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    haproxy = subprocess.run([executable("haproxy"), "-v"], capture_output=True, text=True)
    bouncer_version = subprocess.run(
        [pgbouncer_executable(), "--version"], capture_output=True, text=True
    )
    return {
        "postgresql": str(row[0]) if row else "?",
        "haproxy": haproxy.stdout.split("\n")[0].split(" ")[2] if haproxy.stdout else "?",
        "pgbouncer": bouncer_version.stdout.split("\n")[0].split(" ")[-1],
    }


def _generator(out: Path) -> dict[str, Any]:
    import json

    summary = json.loads(out.read_text())["summary"]
    return {key: summary[key] for key in ("late_ms", "late_max_ms", "cpu_seconds")}
