"""Concurrent read submission against gunicorn + PostgreSQL on loopback, as readers read.

Simulated readers (one asyncio task and one keep-alive connection each) ask the API for
their next case (which serves it) and submit a read with a fresh ``client_event_id``; at
random they retry a submission with the same id (a lost response, a double click). Two
arrival models, each at every reader count:

- closed: every reader asks for the next case as soon as his last one is answered (the
  server's capacity; latency grows with the queue);
- open: cases arrive as a Poisson process at ``--rate`` submissions/s, whoever is idle
  reads them; between cases a reader thinks (``readers / rate`` seconds on average). The
  latency an arrival waited for an idle reader is reported apart (it means saturation).

The load generator runs as its own process (``--generate``, started by this one), so its
CPU is its own and reported; this process only seeds, starts gunicorn and measures. For
each level it prints submissions/s, the p50/p95/p99 latency of the submissions, checks
that no acknowledged read was lost and none duplicated, and where the CPU went, per
submission: the application (gunicorn master and workers, /proc), the database (the
PostgreSQL backends connected to the benchmark's database, from pg_stat_activity and
/proc: other databases on the same server are not counted), the load generator, and the
rest of the machine, with the load averages. On a loaded machine trust the CPU ms per
submission more than the throughput.

    .venv/bin/python benchmarks/bench_reads.py              # 50 and 200 readers, both models
    .venv/bin/python benchmarks/bench_reads.py --readers 50 200 --seconds 15 --rate 100
    .venv/bin/python benchmarks/bench_reads.py --models closed --workers 4   # another shape
    .venv/bin/python benchmarks/bench_reads.py --session-engine cache \
        --cache-url redis://127.0.0.1:6379/7                # sessions in Redis

Issue 19's report (run on an idle machine; every figure with the command that made it):

    # submissions/s and p50/p95/p99 at 50 and 200 readers, both arrival models, and the CPU
    # ms per submission (application, database), at 1, 2 and 4 gunicorn worker processes:
    .venv/bin/python benchmarks/bench_reads.py --readers 50 200 --models closed open \
        --workers 1 2 4 --seconds 20 --rate 300 --json var/bench_reads.json
    # the same with sessions in Redis (what production runs with a shared cache):
    .venv/bin/python benchmarks/bench_reads.py --readers 50 200 --workers 1 2 4 --rate 300 \
        --cache-url redis://127.0.0.1:6379/5 --session-engine cached_db
    # one process, no concurrency: CPU ms, Python function calls and statements per submission
    .venv/bin/python benchmarks/profile_submit.py --readers 30 --per-reader 4

Throughput stops growing with workers where the machine's cores are busy (application +
database + load generator ~ cores x elapsed in the CPU line), or earlier where latency is
held by a lock (the study's audit chain: every submission of a study appends to it).

Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust); creates database
``fontanelle_bench`` (``$FONTANELLE_BENCH_DB``; dropped first), migrates, seeds, starts
gunicorn on port 8765 (``$FONTANELLE_BENCH_PORT``; config.wsgi, gthread workers,
persistent database connections).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Overridable so that several people can benchmark on one machine at once.
DB_NAME = os.environ.get("FONTANELLE_BENCH_DB", "fontanelle_bench")
HOST = "127.0.0.1"
PORT = int(os.environ.get("FONTANELLE_BENCH_PORT", "8765"))
RETRY_PROBABILITY = 0.15
CLK_TCK = os.sysconf("SC_CLK_TCK")
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _pg(sql: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def prepare_database(env: dict[str, str]) -> None:
    _pg(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    _pg(f"CREATE DATABASE {DB_NAME}")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


@dataclass
class Reader:
    username: str
    session_id: str
    cookie: str
    csrf: str


def seed(n_readers: int, n_cases: int) -> list[Reader]:
    """A standalone study with ``n_cases`` cases and ``n_readers`` enrolled, logged-in readers."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client

    from readers.models import ReadingSession
    from readers.services import reader_enrol, session_create_for_design
    from trials.models import Case, Dataset, GoldStandard, Membership, Role, Study

    coordinator = get_user_model().objects.create_user("bench-coordinator")
    study = Study.objects.create(title="Benchmark", design="standalone", status="open")
    Membership.objects.create(study=study, user=coordinator, role=Role.COORDINATOR)
    dataset = Dataset.objects.create(study=study, name="bench", kind="internal")
    for index in range(n_cases):
        case = Case.objects.create(study=study, dataset=dataset, code=f"B{index:05d}")
        GoldStandard.objects.create(case=case, conditions=["normal"], severe=False)
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"bench-reader-{i:04d}") for i in range(n_readers)
    )
    for user in users:
        reader_enrol(actor=coordinator, study=study, user=user, tier="junior")
    session_create_for_design(actor=coordinator, study=study, seed=1)
    readers = []
    for user in users:
        client = Client()
        client.force_login(user)
        session = ReadingSession.objects.get(study=study, reader=user)
        readers.append(
            Reader(
                user.username,
                str(session.pk),
                client.cookies["sessionid"].value,
                secrets.token_hex(16),
            )
        )
    return readers


# ------------------------------------------------------------ the load generator process


@dataclass
class Tally:
    submit_latencies: list[float] = field(default_factory=list)
    serve_latencies: list[float] = field(default_factory=list)
    start_delays: list[float] = field(default_factory=list)  # open model: waits for an idle reader
    acked: dict[str, str] = field(default_factory=dict)  # client_event_id -> token
    retries: int = 0
    retry_mismatches: int = 0
    finished_readers: int = 0
    errors: list[str] = field(default_factory=list)


class Connection:
    """One keep-alive HTTP/1.1 connection (reopened when the server closes it)."""

    def __init__(self, reader: Reader) -> None:
        self.head = (
            f"Host: {HOST}:{PORT}\r\n"
            f"Cookie: sessionid={reader.cookie}; csrftoken={reader.csrf}\r\n"
            f"X-CSRFToken: {reader.csrf}\r\n"
            "Content-Type: application/json\r\n"
        )
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, body: dict | None) -> tuple[int, bytes, float]:
        payload = json.dumps(body or {}).encode()
        request = (
            f"POST {path} HTTP/1.1\r\n{self.head}Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        started = time.perf_counter()
        if self.streams is None:
            self.streams = await asyncio.open_connection(HOST, PORT)
        stream_in, stream_out = self.streams
        stream_out.write(request)
        head = await stream_in.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        data = await stream_in.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, data, time.perf_counter() - started

    async def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def read_one_case(reader: Reader, conn: Connection, tally: Tally, rng: random.Random) -> bool:
    """Serve the reader's next case and answer it; False when his session is done or failed."""
    status, payload, took = await conn.post(
        f"/api/reading/sessions/{reader.session_id}/next/", None
    )
    if status in (204, 403):
        tally.finished_readers += 1
        return False  # session done
    if status != 200:
        tally.errors.append(f"next {status} {payload[:200]!r}")
        return False
    token = json.loads(payload)["token"]
    event_id = str(uuid.uuid4())
    answer = {
        "client_event_id": event_id,
        "severe": rng.random() < 0.3,
        "confidence": rng.randrange(101),
    }
    path = f"/api/reading/assignments/{token}/read/"
    status, first, took_submit = await conn.post(path, answer)
    if status not in (200, 201):
        tally.errors.append(f"submit {status} {first[:200]!r}")
        return False
    attempts = 0
    while rng.random() < RETRY_PROBABILITY and attempts < 3:  # a lost response: resend
        attempts += 1
        status, again, _ = await conn.post(path, answer)
        if status != 200 or json.loads(again) != json.loads(first):
            tally.retry_mismatches += 1
    tally.serve_latencies.append(took)
    tally.submit_latencies.append(took_submit)
    tally.acked[event_id] = token
    tally.retries += attempts
    return True


async def closed_loop(readers: list[Reader], seconds: float, tally: Tally) -> None:
    deadline = time.monotonic() + seconds

    async def one(reader: Reader, rng: random.Random) -> None:
        conn = Connection(reader)
        try:
            while time.monotonic() < deadline and await read_one_case(reader, conn, tally, rng):
                pass
        except Exception as exc:  # reported, never hidden
            tally.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            await conn.close()

    await asyncio.gather(*(one(r, random.Random(i)) for i, r in enumerate(readers)))


async def open_arrivals(readers: list[Reader], seconds: float, rate: float, tally: Tally) -> None:
    """Poisson arrivals at ``rate``/s, each read by an idle reader (the others think)."""
    rng = random.Random(7)
    idle: asyncio.Queue[int] = asyncio.Queue()
    order = list(range(len(readers)))
    rng.shuffle(order)
    for index in order:
        idle.put_nowait(index)
    conns = [Connection(r) for r in readers]
    rngs = [random.Random(i) for i in range(len(readers))]
    done = [False] * len(readers)
    running: set[asyncio.Task] = set()

    async def arrival(index: int, scheduled: float) -> None:
        tally.start_delays.append(time.monotonic() - scheduled)
        try:
            if await read_one_case(readers[index], conns[index], tally, rngs[index]):
                idle.put_nowait(index)
            else:
                done[index] = True
        except Exception as exc:
            tally.errors.append(f"{type(exc).__name__}: {exc}")

    deadline = time.monotonic() + seconds
    next_at = time.monotonic()
    while True:
        next_at += rng.expovariate(rate)
        if next_at >= deadline:
            break
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        if all(done):
            break
        try:  # waits only when every reader is busy (saturation)
            index = await asyncio.wait_for(idle.get(), max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            break
        task = asyncio.create_task(arrival(index, next_at))
        running.add(task)
        task.add_done_callback(running.discard)
    if running:
        await asyncio.gather(*running)
    for conn in conns:
        await conn.close()


def generate(args: argparse.Namespace) -> None:
    """The load generator: readers from stdin's first line, 'go' on the next; results to stdout."""
    readers = [Reader(**r) for r in json.loads(sys.stdin.readline())]
    print("ready", flush=True)
    sys.stdin.readline()
    tally = Tally()
    cpu_before, started = os.times(), time.monotonic()
    if args.model == "closed":
        asyncio.run(closed_loop(readers, args.seconds, tally))
    else:
        asyncio.run(open_arrivals(readers, args.seconds, args.rate, tally))
    elapsed, cpu_after = time.monotonic() - started, os.times()
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    print(json.dumps(asdict(tally) | {"elapsed": elapsed, "cpu": cpu}), flush=True)


# ------------------------------------------------------------------- CPU accounting


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(child) for child in children.read().split()]
    except OSError:
        return []


def _machine_busy() -> float:
    """Busy CPU seconds of the whole machine since boot (all cores)."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLK_TCK


class DatabaseBackends:
    """The PostgreSQL backends serving the benchmark's database (not this monitor's own)."""

    def __init__(self) -> None:
        import psycopg

        self.conn = psycopg.connect(ADMIN_URL, autocommit=True)

    def pids(self) -> list[int]:
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [DB_NAME],
        ).fetchall()
        return [row[0] for row in rows]


@dataclass
class CpuSnapshot:
    server: dict[int, float]
    database: dict[int, float]
    machine: float


def cpu_snapshot(server_pid: int, backends: DatabaseBackends) -> CpuSnapshot:
    server = [server_pid, *_children(server_pid)]
    return CpuSnapshot(
        server={pid: _cpu_seconds(pid) for pid in server},
        database={pid: _cpu_seconds(pid) for pid in backends.pids()},
        machine=_machine_busy(),
    )


def _spent(before: dict[int, float], after: dict[int, float]) -> float:
    # A process that appeared during the level counts from zero; none should disappear
    # (gunicorn workers and persistent connections live through the run).
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


# ------------------------------------------------------------------------- a level


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def verify(acked: dict[str, str], usernames: list[str]) -> tuple[int, int, int]:
    """(reads in the database, acked reads missing, reads not acked) for these readers."""
    from readers.models import Read

    stored = {
        str(event_id): token
        for event_id, token in Read.objects.filter(reader__username__in=usernames).values_list(
            "client_event_id", "assignment__token"
        )
    }
    lost = [e for e, token in acked.items() if stored.get(e) != token]
    extra = [e for e in stored if e not in acked]
    return len(stored), len(lost), len(extra)


def _loads() -> str:
    return "/".join(f"{value:.2f}" for value in os.getloadavg())


def run_level(
    readers: list[Reader],
    model: str,
    args: argparse.Namespace,
    server_pid: int,
    backends: DatabaseBackends,
) -> dict:
    generator = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--generate",
            "--model",
            model,
            "--seconds",
            str(args.seconds),
            "--rate",
            str(args.rate),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert generator.stdin is not None and generator.stdout is not None
    generator.stdin.write(json.dumps([asdict(r) for r in readers]) + "\n")
    generator.stdin.flush()
    assert generator.stdout.readline().strip() == "ready"
    loads_before = _loads()
    before = cpu_snapshot(server_pid, backends)
    generator.stdin.write("go\n")
    generator.stdin.flush()
    result = json.loads(generator.stdout.readline())
    after = cpu_snapshot(server_pid, backends)
    loads_after = _loads()
    generator.wait(timeout=30)
    elapsed, n = result["elapsed"], len(result["submit_latencies"])
    stored, lost, extra = verify(result["acked"], [r.username for r in readers])
    app, database = _spent(before.server, after.server), _spent(before.database, after.database)
    client, machine = result["cpu"], after.machine - before.machine
    title = f"{model} loop" if model == "closed" else f"open, Poisson arrivals at {args.rate:g}/s"
    think = f", mean think {len(readers) / args.rate:.2f} s" if model == "open" else ""
    print(
        f"\n== {len(readers)} readers, {title}{think}; {elapsed:.1f} s;"
        f" load average {loads_before} -> {loads_after}"
    )
    row = {
        "readers": len(readers),
        "model": model,
        "elapsed": elapsed,
        "submissions": n,
        "load_before": loads_before,
        "load_after": loads_after,
    }
    if n:
        lat = result["submit_latencies"]
        row |= {
            "rate": n / elapsed,
            "p50": 1000 * statistics.median(lat),
            "p95": 1000 * percentile(lat, 95),
            "p99": 1000 * percentile(lat, 99),
            "app_ms": 1000 * app / n,
            "db_ms": 1000 * database / n,
            "client_ms": 1000 * client / n,
        }
        print(
            f"submissions: {n} ({result['retries']} retried with the same id)"
            f"  ->  {row['rate']:.0f} submissions/s"
        )
        print(
            f"submit latency  p50 {row['p50']:.1f} ms  p95 {row['p95']:.1f} ms  p99 {row['p99']:.1f} ms"
        )
        serve = result["serve_latencies"]
        print(
            f"serve latency   p50 {1000 * statistics.median(serve):.1f} ms"
            f"  p99 {1000 * percentile(serve, 99):.1f} ms"
        )
        if result["start_delays"]:
            delays = result["start_delays"]
            print(
                f"arrivals waiting for an idle reader: {sum(d > 0.01 for d in delays)} of {len(delays)}"
                f" (p99 wait {1000 * percentile(delays, 99):.0f} ms)"
            )
    print(
        f"reads stored {stored}; acknowledged but lost {lost}; duplicated/unacknowledged {extra};"
        f" retry answers differing from the first {result['retry_mismatches']};"
        f" readers whose session ran out {result['finished_readers']}"
    )
    other = machine - client - app - database
    print(
        f"CPU s over {elapsed:.1f} s x {os.cpu_count()} cores: application (gunicorn) {app:.1f},"
        f" database (its backends) {database:.1f}, load generator {client:.1f},"
        f" rest of the machine {other:.1f} (machine busy {machine:.1f})"
    )
    if n:
        print(
            f"CPU ms per submission (serve + submit + retries): application {row['app_ms']:.2f},"
            f" database {row['db_ms']:.2f}, load generator {row['client_ms']:.2f}"
        )
    if result["errors"]:
        print(f"errors ({len(result['errors'])}): {result['errors'][:3]}")
    return row


def audit_check() -> None:
    from trials.audit import audit_verify

    result = audit_verify()
    print(
        f"\naudit chains: {result.rows} rows in {result.chains} chains,"
        f" {'intact' if result.ok else f'BROKEN at row {result.first_broken}: {result.problem}'}"
    )


def start_server(args: argparse.Namespace) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "-b",
            f"{HOST}:{PORT}",
            "--workers",
            str(args.workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(args.threads),
            "--backlog",
            "2048",
            "--log-level",
            "warning",
            "--preload",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
        start_new_session=True,
    )
    ready = 0
    for _ in range(600):  # until every worker has answered a few requests
        try:
            probe = http.client.HTTPConnection(HOST, PORT, timeout=5)
            probe.request("GET", "/api/reading/sessions/")
            ready += probe.getresponse().status == 403
            probe.close()
        except OSError:
            time.sleep(0.2)
        if ready >= 8 * args.workers:
            break
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, nargs="+", default=[50, 200])
    parser.add_argument(
        "--models", nargs="+", choices=["closed", "open"], default=["closed", "open"]
    )
    parser.add_argument(
        "--model", choices=["closed", "open"], default="closed", help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--rate", type=float, default=100.0, help="open model: submissions/s offered"
    )
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--cases", type=int, default=80)
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[2],
        help="gunicorn worker processes; several: one run per count",
    )
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--session-engine",
        default="",
        help="FONTANELLE_SESSION_ENGINE for the server (db, cached_db, cache, signed_cookies)",
    )
    parser.add_argument("--cache-url", default="", help="DJANGO_CACHE_URL for the server")
    parser.add_argument("--json", default="", help="also write the rows to this file")
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up (gunicorn) on a timeout
    if args.generate:
        generate(args)
        return

    sys.path.insert(0, str(ROOT))
    os.environ.update(
        {
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}?conn_max_age=600",
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50),
            "DJANGO_LOG_LEVEL": "ERROR",
            # Plain HTTP on loopback: production's HTTPS redirect and secure cookies off.
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_SECURE_COOKIES": "false",
            "DJANGO_STATICFILES_STORAGE": "django.contrib.staticfiles.storage.StaticFilesStorage",
        }
    )
    if args.session_engine:
        os.environ["FONTANELLE_SESSION_ENGINE"] = args.session_engine
    if args.cache_url:
        os.environ["DJANGO_CACHE_URL"] = args.cache_url
    prepare_database(os.environ.copy())
    per_run = len(args.models) * sum(args.readers)
    t0 = time.monotonic()
    readers = seed(per_run * len(args.workers), args.cases)
    print(
        f"seeded {len(readers)} readers x {args.cases} cases in {time.monotonic() - t0:.0f} s;"
        f" session engine {args.session_engine or 'default'}, cache {args.cache_url or 'default'}"
    )
    from django.db import connections

    connections.close_all()
    backends = DatabaseBackends()
    rows = []
    offset = 0
    for workers in args.workers:
        args_run = argparse.Namespace(**vars(args) | {"workers": workers})
        server = start_server(args_run)
        try:
            print(
                f"\ngunicorn: {workers} workers x {args.threads} threads (gthread), PostgreSQL on loopback,"
                f" {os.cpu_count()} CPUs shared with the load generator; load average {_loads()}"
            )
            for model in args.models:
                for level in args.readers:
                    row = run_level(
                        readers[offset : offset + level], model, args, server.pid, backends
                    )
                    rows.append(row | {"workers": workers, "threads": args.threads})
                    offset += level
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
    audit_check()
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
