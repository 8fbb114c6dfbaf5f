"""Build the demo and print the demo logins.

The demo is the one place that composes every app (trials, readers, inference, analysis),
so its command lives in the app that may read all of them. It builds, from phantom cases:

1. "NCLS demo reader study": 60 cases at three sites; the AI's material from the shipped
   demo models; reads filled by the reader simulator; locked and unblinded, so every
   analysis report shows.
2. "NCLS demo blinded source trial": AI and junior material, a committed allocation, open
   for the senior's blinded review; its blinding audit is printed.
3. "NCLS demo — reading practice": open, no washout, for trying the workstation.

Everything here is a demo model on phantom data — not for clinical use.
"""

import time
from typing import Any

from django.core.management.base import BaseCommand

from analysis.demo import fill_demo_reads
from inference.demo import demo_model_version, run_ai_on_study
from readers.demo import build_practice_study, build_source_trial_demo
from trials.demo import DEMO_PASSWORD, DEMO_USERS, build_demo_study


class Command(BaseCommand):
    help = "Build the demo studies from phantom cases (demo users included) and print the logins."

    def step(self, message: str) -> None:
        self.stdout.write(f"[{time.perf_counter() - self.started:6.0f} s] {message}", ending="\n")
        self.stdout.flush()

    def handle(self, *args: Any, **options: Any) -> None:
        self.started = time.perf_counter()
        self.step("Building the demo (phantom cases; demo models, not for clinical use) ...")
        result = build_demo_study()
        self.step(f"Demo reader study: {result.cases} cases imported.")
        model = demo_model_version()
        if model is None:
            self.step("No shipped demo models: the reader simulator stands in for the AI.")
        else:
            self.step(f"Running {model} on the demo cases ...")
            complete, failed = run_ai_on_study(study=result.study, model_version=model, progress=self.step)
            self.step(f"AI material: {complete} cases complete, {failed} failed.")
        filled = fill_demo_reads(result.study)
        if filled.skipped:
            self.step(f"Simulated reads: skipped ({filled.skipped}).")
        else:
            self.step(
                f"Simulated reads: {filled.reads} reads, {filled.blinded_reviews} blinded reviews, "
                f"{filled.qualitative_reads} qualitative assessments; the study is unblinded."
            )
        trial = build_source_trial_demo()
        self.step(f"Blinded source trial: {trial.cases} cases, open for senior1's review.")
        audit = trial.audit
        if audit.result is not None:
            r = audit.result
            self.step(
                f"Blinding audit ({audit.scope}): AUC {r.auc:.3f} "
                f"(95% CI {r.ci.low:.3f}–{r.ci.high:.3f}) — "
                + ("sources DISTINGUISHABLE: " + r.warning if r.distinguishable else "no machine-detectable source cue")
            )
        else:
            self.step(f"Blinding audit not run: {audit.problem}")
        practice = build_practice_study()
        self.step(f"Reading practice study: {practice.cases.count()} cases, open, no washout.")
        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
        for username, role, tier in DEMO_USERS:
            self.stdout.write(f"  {username:<14} {role}{' (' + tier + ')' if tier else ''}")
        self.stdout.write("\nOpen http://127.0.0.1:8000 and log in.\n")
