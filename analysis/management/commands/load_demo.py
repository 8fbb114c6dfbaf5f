"""Build the demo and print the demo logins.

The demo is the one place that composes every app (trials, readers, inference, analysis),
so its command lives in the app that may read all of them. It builds, from phantom cases
(:mod:`analysis.demo_build`, the smallest study first):

1. "NCLS demo — reading practice": open, no washout, for trying the workstation.
2. "NCLS demo blinded source trial": AI and junior material, a committed allocation, open
   for the senior's blinded review; its blinding audit is printed.
3. "NCLS demo reader study": 60 cases at three sites; the AI's material from the shipped
   demo models; reads filled by the reader simulator; locked and unblinded, so every
   analysis report shows.

Studies built already are reused; one left half-built by an interrupted run is resumed.
Progress goes to the terminal and to the home and login pages. ``--background`` is how
``manage.py serve_demo`` (``make demo``) runs it next to the server: no logins printed,
and it stops when its parent process ends.

Everything here is a demo model on phantom data — not for clinical use.
"""

import os
import signal
import sys
import threading
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from analysis.demo_build import build_all, records_stop_unfinished
from trials.demo import DEMO_PASSWORD, DEMO_USERS


def _ignore_further_stops() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


def _exit_on_sigterm(signum: int, _frame: Any) -> None:
    _ignore_further_stops()  # the server's Ctrl-C and the wrapper's SIGTERM both arrive
    raise SystemExit(128 + signum)


def _watch_parent(parent: int) -> None:
    """SIGTERM this process once its parent is gone (the server stopped without stopping it)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(2)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def print_logins(stdout: Any, url: str = "http://127.0.0.1:8000") -> None:
    stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
    for username, role, tier in DEMO_USERS:
        stdout.write(f"  {username:<14} {role}{' (' + tier + ')' if tier else ''}")
    stdout.write(f"\nOpen {url} and log in.\n")


class Command(BaseCommand):
    help = "Build the demo studies from phantom cases (demo users included) and print the logins."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--background",
            action="store_true",
            help="run as make demo's builder: no logins printed; stops with its parent process",
        )

    def step(self, message: str) -> None:
        prefix = "demo build " if self.background else ""
        self.stdout.write(
            f"[{prefix}{time.perf_counter() - self.started:6.0f} s] {message}", ending="\n"
        )
        self.stdout.flush()

    def handle(self, *args: Any, **options: Any) -> None:
        self.started = time.perf_counter()
        self.background = options["background"]
        if self.background:
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
            _watch_parent(os.getppid())
        self.step("Building the demo (phantom cases; demo models, not for clinical use) ...")
        try:
            ok = build_all(log=self.step)
        except (KeyboardInterrupt, SystemExit) as stop:
            if not self.background:
                raise
            _ignore_further_stops()
            records_stop_unfinished("The build was stopped; the next `make demo` resumes it.")
            self.step("Stopped; the next `make demo` resumes the build.")
            code = stop.code if isinstance(stop, SystemExit) else 130
            sys.exit(code if isinstance(code, int) else 1)
        if not self.background:
            print_logins(self.stdout)
        if not ok:
            raise CommandError(
                "Some demo studies failed to build (see above); run it again to retry them."
            )
        self.step("Every demo study is ready.")
