"""Concurrent read submission against gunicorn + PostgreSQL on loopback.

Simulated readers (one asyncio task and one keep-alive connection each, all in this
process) ask the API for their next case (which serves it) and submit a read with a fresh
``client_event_id``; at random they retry a submission with the same id (a lost
response, a double click). Reports submissions/s and p50/p99 latency of the submissions
at each concurrency, checks that no acknowledged read was lost and none duplicated, and
that the audit chains verify. Also reports where the CPU went during each level: this
client, gunicorn, PostgreSQL, and everything else on the machine, with the load average.

    .venv/bin/python benchmarks/bench_reads.py            # 50 and 200 readers, 15 s each
    .venv/bin/python benchmarks/bench_reads.py --readers 50 200 --seconds 10 --cases 120
    .venv/bin/python benchmarks/bench_reads.py --workers 4 --threads 4   # another gunicorn shape

Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust); creates database
``fontanelle_bench`` (dropped first), migrates, seeds, starts gunicorn (config.wsgi,
gthread workers, persistent database connections). The default shape, 2 workers x 8
threads, did best on 2 cores: a process per core, and threads enough to cover the waits
for commits and for the study's audit-chain lock.
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
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "fontanelle_bench"
HOST = "127.0.0.1"
PORT = 8765
RETRY_PROBABILITY = 0.15
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _pg(sql: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(sql)


def prepare_database() -> str:
    _pg(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    _pg(f"CREATE DATABASE {DB_NAME}")
    url = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}?conn_max_age=600"
    env = os.environ | {"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.base"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
                   cwd=ROOT, env=env, check=True)
    return url


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
        readers.append(Reader(user.username, str(session.pk), client.cookies["sessionid"].value,
                              secrets.token_hex(16)))
    return readers


@dataclass
class Tally:
    submit_latencies: list[float] = field(default_factory=list)
    serve_latencies: list[float] = field(default_factory=list)
    acked: dict[str, str] = field(default_factory=dict)  # client_event_id -> token
    retries: int = 0
    retry_mismatches: int = 0
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
        request = (f"POST {path} HTTP/1.1\r\n{self.head}Content-Length: {len(payload)}\r\n\r\n"
                   .encode() + payload)
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


async def reader_loop(reader: Reader, deadline: float, tally: Tally, rng: random.Random) -> None:
    conn = Connection(reader)
    try:
        while time.monotonic() < deadline:
            status, payload, took = await conn.post(f"/api/reading/sessions/{reader.session_id}/next/", None)
            if status in (204, 403):
                return  # session done
            if status != 200:
                tally.errors.append(f"next {status} {payload[:200]!r}")
                return
            token = json.loads(payload)["token"]
            event_id = str(uuid.uuid4())
            answer = {"client_event_id": event_id, "severe": rng.random() < 0.3,
                      "confidence": rng.randrange(101)}
            path = f"/api/reading/assignments/{token}/read/"
            status, first, took_submit = await conn.post(path, answer)
            if status not in (200, 201):
                tally.errors.append(f"submit {status} {first[:200]!r}")
                return
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
    except Exception as exc:  # reported below, never hidden
        tally.errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        await conn.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def verify(tally: Tally, usernames: list[str]) -> tuple[int, int, int]:
    """(reads in the database, acked reads missing, reads not acked) for these readers."""
    from readers.models import Read

    stored = dict(Read.objects.filter(reader__username__in=usernames)
                  .values_list("client_event_id", "assignment__token"))
    stored = {str(k): v for k, v in stored.items()}
    lost = [e for e, token in tally.acked.items() if stored.get(e) != token]
    extra = [e for e in stored if e not in tally.acked]
    return len(stored), len(lost), len(extra)


# ------------------------------------------------------------------- CPU accounting


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _pids_named(name: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as comm:
                    if comm.read().strip() == name:
                        found.append(int(entry))
            except OSError:
                continue
    return found


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


@dataclass
class CpuSnapshot:
    client: float
    server: float
    database: float
    machine: float


def cpu_snapshot(server_pid: int, database_pids: list[int]) -> CpuSnapshot:
    server = [server_pid, *_children(server_pid)]
    return CpuSnapshot(
        client=time.process_time(),
        server=sum(_cpu_seconds(pid) for pid in server),
        database=sum(_cpu_seconds(pid) for pid in database_pids),
        machine=_machine_busy(),
    )


# ------------------------------------------------------------------------- a level


async def _run_readers(readers: list[Reader], seconds: float, tally: Tally) -> None:
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(reader_loop(r, deadline, tally, random.Random(i)) for i, r in enumerate(readers)))


def run_level(readers: list[Reader], seconds: float, server_pid: int) -> None:
    tally = Tally()
    database_pids = _pids_named("postgres")  # backends persist (conn_max_age), so listed once
    before = cpu_snapshot(server_pid, database_pids)
    started = time.monotonic()
    asyncio.run(_run_readers(readers, seconds, tally))
    elapsed = time.monotonic() - started
    database_pids = sorted(set(database_pids) | set(_pids_named("postgres")))
    after = cpu_snapshot(server_pid, database_pids)
    n = len(tally.submit_latencies)
    stored, lost, extra = verify(tally, [r.username for r in readers])
    print(f"\n== {len(readers)} concurrent readers, {elapsed:.1f} s")
    if n:
        print(f"submissions: {n} ({tally.retries} retried with the same id)  ->  {n / elapsed:.0f} submissions/s")
        print(f"submit latency  p50 {1000 * statistics.median(tally.submit_latencies):.1f} ms"
              f"  p99 {1000 * percentile(tally.submit_latencies, 99):.1f} ms")
        print(f"serve latency   p50 {1000 * statistics.median(tally.serve_latencies):.1f} ms"
              f"  p99 {1000 * percentile(tally.serve_latencies, 99):.1f} ms")
        requests = 2 * n + tally.retries
        print(f"requests/s: {requests / elapsed:.0f} (serve + submit + retries)")
    print(f"reads stored {stored}; acknowledged but lost {lost}; duplicated/unacknowledged {extra};"
          f" retry answers differing from the first {tally.retry_mismatches}")
    client, server = after.client - before.client, after.server - before.server
    database, machine = after.database - before.database, after.machine - before.machine
    other = machine - client - server - database
    print(f"CPU s over {elapsed:.1f} s x {os.cpu_count()} cores: client {client:.1f}, gunicorn {server:.1f},"
          f" postgres {database:.1f}, rest of the machine {other:.1f} (machine busy {machine:.1f});"
          f" load average {os.getloadavg()[0]:.2f}")
    if n:
        print(f"CPU ms per submission (serve + submit + retries): gunicorn {1000 * server / n:.1f},"
              f" postgres {1000 * database / n:.1f}, client {1000 * client / n:.1f}")
    if tally.errors:
        print(f"errors ({len(tally.errors)}): {tally.errors[:3]}")


def audit_check() -> None:
    from trials.audit import audit_verify

    result = audit_verify()
    print(f"\naudit chains: {result.rows} rows in {result.chains} chains,"
          f" {'intact' if result.ok else f'BROKEN at row {result.first_broken}: {result.problem}'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--cases", type=int, default=120)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    url = prepare_database()
    os.environ.update({"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.base",
                       "DJANGO_LOG_LEVEL": "ERROR",
                       "DJANGO_STATICFILES_STORAGE": "django.contrib.staticfiles.storage.StaticFilesStorage"})
    t0 = time.monotonic()
    readers = seed(sum(args.readers), args.cases)
    print(f"seeded {len(readers)} readers x {args.cases} cases in {time.monotonic() - t0:.0f} s")
    from django.db import connections

    connections.close_all()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"{HOST}:{PORT}",
         "--workers", str(args.workers), "--worker-class", "gthread", "--threads", str(args.threads),
         "--backlog", "2048", "--log-level", "warning", "--preload"],
        cwd=ROOT, env=os.environ.copy(), start_new_session=True,
    )
    try:
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
        print(f"gunicorn: {args.workers} workers x {args.threads} threads (gthread), PostgreSQL on loopback,"
              f" {os.cpu_count()} CPUs shared with the client; load average before {os.getloadavg()[0]:.2f}")
        offset = 0
        for level in args.readers:
            run_level(readers[offset:offset + level], args.seconds, server.pid)
            offset += level
        audit_check()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
