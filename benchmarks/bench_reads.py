"""Concurrent read submission against gunicorn + PostgreSQL on loopback.

Simulated readers (one thread and one keep-alive connection each) ask the API for their
next case (which serves it) and submit a read with a fresh ``client_event_id``; at random
they retry a submission with the same id (a lost response, a double click). Reports
submissions/s and p50/p99 latency of the submissions at each concurrency, and checks
that no acknowledged read was lost and none duplicated.

    .venv/bin/python benchmarks/bench_reads.py            # 50 and 200 readers, 15 s each
    .venv/bin/python benchmarks/bench_reads.py --readers 50 200 --seconds 15 --workers 4

Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust); creates database
``fontanelle_bench`` (dropped first), migrates, seeds, starts gunicorn (config.wsgi).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "fontanelle_bench"
PORT = 8765
RETRY_PROBABILITY = 0.15


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
    lock: threading.Lock = field(default_factory=threading.Lock)


def _request(conn: http.client.HTTPConnection, reader: Reader, path: str, body: dict | None):
    headers = {
        "Cookie": f"sessionid={reader.cookie}; csrftoken={reader.csrf}",
        "X-CSRFToken": reader.csrf,
        "Content-Type": "application/json",
        "Host": f"127.0.0.1:{PORT}",
    }
    started = time.perf_counter()
    conn.request("POST", path, body=json.dumps(body or {}), headers=headers)
    response = conn.getresponse()
    payload = response.read()
    return response.status, payload, time.perf_counter() - started


def reader_loop(reader: Reader, deadline: float, tally: Tally, rng: random.Random) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    try:
        while time.monotonic() < deadline:
            status, payload, took = _request(conn, reader, f"/api/reading/sessions/{reader.session_id}/next/", None)
            if status == 204 or status == 403:
                return  # session done
            if status != 200:
                tally.errors.append(f"next {status} {payload[:200]!r}")
                return
            token = json.loads(payload)["token"]
            event_id = str(uuid.uuid4())
            answer = {"client_event_id": event_id, "severe": rng.random() < 0.3,
                      "confidence": rng.randrange(101)}
            path = f"/api/reading/assignments/{token}/read/"
            status, first, took_submit = _request(conn, reader, path, answer)
            if status not in (200, 201):
                tally.errors.append(f"submit {status} {first[:200]!r}")
                return
            attempts = 0
            while rng.random() < RETRY_PROBABILITY and attempts < 3:  # a lost response: resend
                attempts += 1
                status, again, _ = _request(conn, reader, path, answer)
                if status != 200 or json.loads(again) != json.loads(first):
                    with tally.lock:
                        tally.retry_mismatches += 1
            with tally.lock:
                tally.serve_latencies.append(took)
                tally.submit_latencies.append(took_submit)
                tally.acked[event_id] = token
                tally.retries += attempts
    except Exception as exc:  # reported below, never hidden
        tally.errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()


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


def run_level(readers: list[Reader], seconds: float) -> None:
    tally = Tally()
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=reader_loop, args=(r, deadline, tally, random.Random(i)))
               for i, r in enumerate(readers)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    n = len(tally.submit_latencies)
    stored, lost, extra = verify(tally, [r.username for r in readers])
    print(f"\n== {len(readers)} concurrent readers, {elapsed:.1f} s")
    if n:
        print(f"submissions: {n} ({tally.retries} retried with the same id)  ->  {n / elapsed:.0f} submissions/s")
        print(f"submit latency  p50 {1000 * statistics.median(tally.submit_latencies):.1f} ms"
              f"  p99 {1000 * percentile(tally.submit_latencies, 99):.1f} ms")
        print(f"serve latency   p50 {1000 * statistics.median(tally.serve_latencies):.1f} ms"
              f"  p99 {1000 * percentile(tally.serve_latencies, 99):.1f} ms")
        print(f"serve+submit cycles/s: {n / elapsed:.0f} (= {2 * n / elapsed:.0f} requests/s, retries excluded)")
    print(f"reads stored {stored}; acknowledged but lost {lost}; duplicated/unacknowledged {extra};"
          f" retry answers differing from the first {tally.retry_mismatches}")
    if tally.errors:
        print(f"errors ({len(tally.errors)}): {tally.errors[:3]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--cases", type=int, default=120)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    url = prepare_database()
    os.environ.update({"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.base",
                       "DJANGO_LOG_LEVEL": "WARNING",
                       "DJANGO_STATICFILES_STORAGE": "django.contrib.staticfiles.storage.StaticFilesStorage"})
    t0 = time.monotonic()
    readers = seed(sum(args.readers), args.cases)
    print(f"seeded {len(readers)} readers x {args.cases} cases in {time.monotonic() - t0:.0f} s")
    from django.db import connections

    connections.close_all()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{PORT}",
         "--workers", str(args.workers), "--worker-class", "gthread", "--threads", str(args.threads),
         "--backlog", "2048", "--log-level", "warning", "--preload"],
        cwd=ROOT, env=os.environ.copy(), start_new_session=True,
    )
    try:
        ready = 0
        for _ in range(600):  # until every worker has answered a few requests
            try:
                probe = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
                probe.request("GET", "/api/reading/sessions/")
                ready += probe.getresponse().status == 403
                probe.close()
            except OSError:
                time.sleep(0.2)
            if ready >= 8 * args.workers:
                break
        print(f"gunicorn: {args.workers} workers x {args.threads} threads (gthread), PostgreSQL on loopback,"
              f" {os.cpu_count()} CPUs shared with the clients")
        offset = 0
        for level in args.readers:
            run_level(readers[offset:offset + level], args.seconds)
            offset += level
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
