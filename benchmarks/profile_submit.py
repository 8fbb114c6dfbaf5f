"""One process, no concurrency: the CPU and the queries of a read submission, end to end.

Where ``bench_reads.py`` measures the server under load, this measures what one reader's
case costs when nothing else competes inside the process: it calls the WSGI application
(config.wsgi, every middleware, as gunicorn does) directly, in one thread, for readers who
each serve their next case and submit it (and resend 15 % of submissions with the same
``client_event_id``, as the benchmark does). It reports, per submission (serve + submit +
retries, the benchmark's unit): the process's CPU milliseconds, the CPU milliseconds of
the PostgreSQL backend that served it, and the statements of each request; ``--profile``
adds cProfile's top functions. CPU time, not wall time, so a busy machine inflates it
less (it still does: caches and hyperthreads are shared).

    .venv/bin/python benchmarks/profile_submit.py                  # 40 readers x 10 cases
    .venv/bin/python benchmarks/profile_submit.py --profile 40     # and the top 40 by cumtime
    .venv/bin/python benchmarks/profile_submit.py --queries        # print one submit's SQL

Before and after (issue 19): the same script run from a worktree of the commit the issue
was filed against measures "before" with the same seed and workload:

    git worktree add /tmp/before afa6fbc && cp benchmarks/profile_submit.py /tmp/before/benchmarks/
    (cd /tmp/before && /work/main/.venv/bin/python benchmarks/profile_submit.py --readers 40)

Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust); creates database
``$FONTANELLE_BENCH_DB`` (default ``fontanelle_profile``; dropped first) and seeds it with
``bench_reads.seed``. Settings as the benchmark's (config.settings.base, persistent
connections; sessions and cache from FONTANELLE_SESSION_ENGINE / DJANGO_CACHE_URL).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import secrets
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RETRY_PROBABILITY = 0.15


def _configure(db_name: str) -> None:
    os.environ.update(
        {
            "FONTANELLE_BENCH_DB": db_name,
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{db_name}?conn_max_age=600",
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50),
            "DJANGO_LOG_LEVEL": "ERROR",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_SECURE_COOKIES": "false",
            "DJANGO_STATICFILES_STORAGE": "django.contrib.staticfiles.storage.StaticFilesStorage",
        }
    )


class Caller:
    """Calls the WSGI application as a reader's browser would (session cookie and CSRF)."""

    def __init__(self, application, reader) -> None:
        self.application = application
        self.cookie = f"sessionid={reader.cookie}; csrftoken={reader.csrf}"
        self.csrf = reader.csrf

    def post(self, path: str, body: dict | None) -> tuple[int, bytes]:
        payload = json.dumps(body or {}).encode()
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8765",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1:8765",
            "HTTP_COOKIE": self.cookie,
            "HTTP_X_CSRFTOKEN": self.csrf,
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(payload)),
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.input": io.BytesIO(payload),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        answer: dict = {}

        def start_response(status: str, headers: list, exc_info=None) -> None:
            answer["status"] = int(status.split(" ", 1)[0])

        chunks = self.application(environ, start_response)
        try:
            body_out = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        return answer["status"], body_out


def one_case(caller: Caller, reader, rng: random.Random) -> tuple[int, int]:
    """Serve and submit one case; (submissions, retries); (0, 0) when the session is done."""
    status, payload = caller.post(f"/api/reading/sessions/{reader.session_id}/next/", None)
    if status != 200:
        return 0, 0
    token = json.loads(payload)["token"]
    answer = {
        "client_event_id": str(uuid.uuid4()),
        "severe": rng.random() < 0.3,
        "confidence": rng.randrange(101),
    }
    path = f"/api/reading/assignments/{token}/read/"
    status, first = caller.post(path, answer)
    if status != 201:
        raise RuntimeError(f"submit answered {status}: {first[:300]!r}")
    retries = 0
    while rng.random() < RETRY_PROBABILITY and retries < 3:
        retries += 1
        status, again = caller.post(path, answer)
        if status != 200 or json.loads(again) != json.loads(first):
            raise RuntimeError(f"retry answered {status}: {again[:300]!r}")
    return 1, retries


def _backend_cpu() -> float:
    """CPU seconds of this process's PostgreSQL backend (same machine, /proc)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=40)
    parser.add_argument("--per-reader", type=int, default=10, help="cases each reader reads")
    parser.add_argument("--profile", type=int, default=0, help="print the top N by cumtime")
    parser.add_argument("--dump", default="", help="write the cProfile stats to this file")
    parser.add_argument("--queries", action="store_true", help="print one submission's SQL")
    parser.add_argument("--db", default=os.environ.get("FONTANELLE_BENCH_DB", "fontanelle_profile"))
    args = parser.parse_args()
    _configure(args.db)
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_reads

    bench_reads.DB_NAME = args.db
    bench_reads.prepare_database(os.environ.copy())
    readers = bench_reads.seed(args.readers, args.per_reader + 3)

    from django.db import connection, connections
    from django.test.utils import CaptureQueriesContext

    connections.close_all()
    from config.wsgi import application

    rng = random.Random(1)
    callers = [Caller(application, reader) for reader in readers]
    # Warm up (imports, compiled templates, the connection) on the first reader's first case.
    one_case(callers[0], readers[0], rng)

    with CaptureQueriesContext(connection) as serve_sql:
        _status, payload = callers[1].post(
            f"/api/reading/sessions/{readers[1].session_id}/next/", None
        )
    token = json.loads(payload)["token"]
    answer = {"client_event_id": str(uuid.uuid4()), "severe": True, "confidence": 50}
    with CaptureQueriesContext(connection) as submit_sql:
        callers[1].post(f"/api/reading/assignments/{token}/read/", answer)
    with CaptureQueriesContext(connection) as replay_sql:
        callers[1].post(f"/api/reading/assignments/{token}/read/", answer)
    print(
        f"statements per request: serve {len(serve_sql)}, submit {len(submit_sql)},"
        f" replay {len(replay_sql)}"
    )
    if args.queries:
        for name, captured in (
            ("serve", serve_sql),
            ("submit", submit_sql),
            ("replay", replay_sql),
        ):
            print(f"{name}:")
            for query in captured.captured_queries:
                print(f"  {query['sql'][:240]}")

    def a_round() -> tuple[int, int]:
        done = again = 0
        for caller, reader in zip(callers[2:], readers[2:], strict=True):
            one, retried = one_case(caller, reader, rng)
            done += one
            again += retried
        return done, again

    submissions = retries = 0
    db_before, cpu_before, wall_before = _backend_cpu(), time.process_time(), time.perf_counter()
    for _round in range(args.per_reader):
        done, again = a_round()
        submissions += done
        retries += again
    cpu = time.process_time() - cpu_before
    wall = time.perf_counter() - wall_before
    database = _backend_cpu() - db_before
    print(
        f"{submissions} submissions ({retries} retried) in {wall:.1f} s wall;"
        f" load average {'/'.join(f'{v:.2f}' for v in os.getloadavg())}"
    )
    print(
        f"CPU ms per submission (serve + submit + retries): application"
        f" {1000 * cpu / submissions:.2f}, database {1000 * database / submissions:.2f};"
        f" wall {1000 * wall / submissions:.2f}"
    )
    # One more round under cProfile: Python function calls per submission are a measure of
    # the application's work that a busy machine does not inflate.
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    done, _again = a_round()
    profiler.disable()
    stats = pstats.Stats(profiler)
    print(f"Python function calls per submission: {stats.total_calls / done:.0f} ({done} profiled)")
    if args.dump:
        stats.dump_stats(args.dump)
    if args.profile:
        stats.sort_stats("cumulative").print_stats(args.profile)
        stats.sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()
