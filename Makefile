# The two commands a newcomer needs: `make run` and `make test`. Both set themselves up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The browser test drives Debian's Chromium: Playwright cannot download its own browsers here.
CHROMIUM := /usr/bin/chromium
# The email channel's IMAP tests run against Debian's Dovecot (tests/doubles/dovecot.py).
DOVECOT := /usr/sbin/dovecot
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
export LITELLM_LOCAL_MODEL_COST_MAP := True
export SWITCHBOARD_PEOPLE ?= deploy/people.demo.toml
# Some machines set PYTHONDONTWRITEBYTECODE: then each `switchboard` process a test starts compiles
# everything it imports afresh (2 s instead of 0.7). The virtual environment keeps its bytecode.
unexport PYTHONDONTWRITEBYTECODE
# Test processes, twice the cores: many tests wait on a server, a browser or a mail server.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) * 2 )))

.PHONY: run test lint typecheck pytest bench chaos reset clean

$(STAMP): pyproject.toml client/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing Python packages into $(VENV): the project, its client, dependencies and dev tools"
	@echo "  (with uv, from PyPI; log: $(VENV)/install.log)"
	@$(BIN)/python -m pip install -q uv > $(VENV)/install.log 2>&1 || true
	@if test -x $(BIN)/uv; then \
		$(BIN)/uv pip install --python $(BIN)/python -e '.[dev]' -e './client[mcp]' >> $(VENV)/install.log 2>&1; \
	else \
		echo "  uv is not to be had: pip instead, slower"; \
		$(BIN)/python -m pip install -e '.[dev]' -e './client[mcp]' >> $(VENV)/install.log 2>&1; \
	fi || (cat $(VENV)/install.log; exit 1)
	@echo "  installed: $$(grep -c '' <($(BIN)/python -m pip list --format=freeze 2>/dev/null)) packages"
	touch $@

run: $(STAMP)
	$(BIN)/switchboard serve

# The type check runs beside the tests: they leave a core idle while they wait.
test: $(STAMP) | $(CHROMIUM) $(DOVECOT)
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory -j2 typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) | $(CHROMIUM) $(DOVECOT)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal

# The binary is the stamp: installed once, and again only if it goes missing.
$(CHROMIUM): | $(STAMP)
	@if command -v apt-get > /dev/null; then \
		echo "installing Debian's chromium for the browser test (log: $(VENV)/chromium.log)"; \
		( $(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -q --no-install-recommends chromium ) > $(VENV)/chromium.log 2>&1 \
			|| { cat $(VENV)/chromium.log; exit 1; }; \
	else \
		echo "no $(CHROMIUM) and no apt-get: tests/test_browser.py will be skipped"; \
	fi

$(DOVECOT): | $(STAMP)
	@if command -v apt-get > /dev/null; then \
		echo "installing Debian's dovecot-imapd for the IMAP tests (log: $(VENV)/dovecot.log)"; \
		( $(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -q --no-install-recommends dovecot-imapd ) > $(VENV)/dovecot.log 2>&1 \
			|| { cat $(VENV)/dovecot.log; exit 1; }; \
		if [ -d /run/systemd/system ]; then \
			echo "stopping the system-wide Dovecot the package started: the tests run their own"; \
			$(SUDO) systemctl disable --now dovecot.service dovecot.socket >> $(VENV)/dovecot.log 2>&1; \
		fi; \
	else \
		echo "no $(DOVECOT) and no apt-get: the IMAP tests in tests/test_mail_servers.py will be skipped"; \
	fi

bench: $(STAMP)
	$(BIN)/python -m bench

# Hundreds of deploy threads on PostgreSQL (SWITCHBOARD_TEST_POSTGRES), tens of `kill -9`s of the
# workers while approvals arrive: prints threads, kills, lost, duplicated and the takeover times.
chaos: $(STAMP)
	$(BIN)/python -m tests.chaos

# The demo's state (threads, requests, the console's token): gone; `make run` starts afresh.
reset:
	rm -f switchboard.db switchboard.db-wal switchboard.db-shm
	@echo "the demo's database is removed: \`make run\` starts with a fresh one (and a new sign-in link)"

clean:
	rm -rf $(VENV) switchboard.db switchboard.db-wal switchboard.db-shm
