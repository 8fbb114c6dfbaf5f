"""``make demo``: the demo logins at once, the site served, the demo studies built meanwhile.

Creates the demo accounts (so the printed logins work at once), then runs two processes
together (:func:`analysis.supervise.run_with_builder`): ``manage.py runserver`` in the
foreground and the builder ``manage.py load_demo --background``. Stopping the server
(Ctrl-C) stops the builder; a build stopped midway is resumed by the next ``make demo``.
The home and login pages show what is being built and what is ready.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from analysis.demo_build import records_prepare, records_stop_unfinished
from analysis.management.commands.load_demo import print_logins
from analysis.supervise import run_with_builder
from trials.demo import demo_users


class Command(BaseCommand):
    help = "Serve the site and build the demo studies in a second process (what make demo runs)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args: Any, **options: Any) -> None:
        addrport = options["addrport"]
        demo_users()
        records_prepare(pid=os.getpid())
        print_logins(self.stdout, url=f"http://{addrport}")
        self.stdout.write(
            "The demo studies are built in the background "
            "(about 15–25 minutes on 2 cores); the home "
            "page shows their progress, and each can be used as soon as it is ready.\n"
        )
        self.stdout.flush()
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]

        def builder_exit(code: int) -> None:
            if code != 0:
                records_stop_unfinished(
                    f"The builder exited with code {code}; the next `make demo` resumes."
                )

        code = run_with_builder(
            # The checks ran for this command already.
            server=[*manage, "runserver", "--noreload", "--skip-checks", addrport],
            builder=[*manage, "load_demo", "--background"],
            on_builder_exit=builder_exit,
            builder_delay=5.0,
        )
        if code not in (0, 130, 143):
            raise CommandError(f"the server exited with code {code}")
