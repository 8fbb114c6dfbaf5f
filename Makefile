# Fontanelle: two commands for a fresh machine with Python 3.11.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1:8000

## Every Python dependency is pinned in requirements.lock (made by uv from pyproject.toml's
## ranges, dev and onnx extras included). Refresh it with `make lock`; `make lock-check`
## (run by CI) fails when the lock and pyproject.toml disagree.
LOCK := requirements.lock
LOCK_ARGS := pyproject.toml --extra dev --extra onnx --python-version 3.11 \
	--python-platform x86_64-unknown-linux-gnu --no-emit-package fontanelle \
	--custom-compile-command "make lock" --quiet

.PHONY: install system-deps demo test lint lock lock-check clean messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python system-deps
	$(BIN)/pip install --quiet -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/pip check

## Re-resolve the newest releases that pyproject.toml allows and pin them.
lock: $(BIN)/python
	$(BIN)/pip install --quiet "$$(grep -E '^uv==' $(LOCK) || echo uv)"
	$(BIN)/uv pip compile $(LOCK_ARGS) --upgrade -o $(LOCK)

## Fails when requirements.lock no longer satisfies pyproject.toml (a dependency added,
## removed or re-ranged without `make lock`): re-resolving keeps every pin that still fits.
lock-check: install
	@tmp=$$(mktemp) && cp $(LOCK) $$tmp && $(BIN)/uv pip compile $(LOCK_ARGS) -o $$tmp \
	  && diff -u $(LOCK) $$tmp && rm -f $$tmp && echo "$(LOCK) agrees with pyproject.toml" \
	  || { echo "$(LOCK) disagrees with pyproject.toml: run make lock and commit it"; exit 1; }

## Headless Chromium for the browser tests (Debian packages; needs root, skipped otherwise).
system-deps:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	  || echo "chromium not installed: browser tests will be skipped"; }
	@command -v xgettext >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext >/dev/null) \
	  || echo "gettext not installed: the translation catalog test will be skipped"; }

## Refresh the translation catalogs (docs: locale/GLOSSARY.md): extract every marked string,
## translate the new msgids in locale/zh_Hans/LC_MESSAGES/*.po (tests/i18n lists any left
## untranslated), compile, and commit the .po and the .mo (CI does not compile them).
MESSAGES_ARGS := -l zh_Hans --no-obsolete --ignore=.venv --ignore=var --ignore=tests \
	--ignore=benchmarks --ignore=staticfiles --ignore=build --ignore=docs --ignore=demo-data --ignore="*.min.js"
messages:
	$(BIN)/python manage.py makemessages $(MESSAGES_ARGS)
	$(BIN)/python manage.py makemessages -d djangojs $(MESSAGES_ARGS)
	$(BIN)/python manage.py compilemessages -l zh_Hans --ignore=.venv

## Install everything, migrate the embedded default (SQLite, tasks eager) and serve at once;
## the demo studies are built meanwhile by a second process that stops with the server
## (serve_demo; progress on the home page; a second make demo reuses what was built).
demo: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py serve_demo $(HOST)

## Install everything and run the whole test suite in one run on two xdist workers. Tests of
## one xdist_group go to one worker: the tests that start real Celery workers run one after
## another there, beside the rest, and each expensive model fixture is built once.
test: install
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: install lock-check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py spectacular --fail-on-warn --file /dev/null

clean:
	rm -rf $(VENV) var staticfiles
