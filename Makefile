# make run: the portal with a demo merchant on the embedded defaults (SQLite, local Redis).
# make test: the test suite.   make bench: the benchmarks (bench/*.py).
.ONESHELL:
SHELL := /bin/bash
.PHONY: install run test bench clean

VENV ?= .venv
PYTHON ?= $(shell command -v python3.11 || command -v python3)
BIN := $(VENV)/bin

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@set -e
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: install
	@set -euo pipefail
	export PORTAL_ENV=$${PORTAL_ENV:-development} PATH="$(abspath $(BIN)):$$PATH"
	# The sandbox sends its webhooks to PUBLIC_URL: follow PORT unless it is set.
	export PORT=$${PORT:-5000}; export PUBLIC_URL=$${PUBLIC_URL:-http://127.0.0.1:$$PORT}
	export REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0}
	mkdir -p instance
	if ! python -c "import os,redis;redis.Redis.from_url(os.environ['REDIS_URL'],socket_connect_timeout=1).ping()" 2>/dev/null; then
	  if ! command -v redis-server >/dev/null; then
	    echo "Redis does not answer at $$REDIS_URL and redis-server is not installed."
	    echo "Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis)"
	    echo "or point REDIS_URL at a running Redis, then run 'make run' again."
	    exit 1
	  fi
	  port=$$(python -c "import socket;s=socket.socket();s.bind(('127.0.0.1',0));print(s.getsockname()[1])")
	  redis-server --port $$port --bind 127.0.0.1 --dir instance --save '' --appendonly no > instance/redis.log 2>&1 &
	  redis_pid=$$!
	  trap 'kill $$redis_pid 2>/dev/null || true' EXIT
	  export REDIS_URL=redis://127.0.0.1:$$port/0
	  echo "Started a private Redis for this run at $$REDIS_URL (stopped on exit)."
	fi
	flask db upgrade
	# The offline Stripe sandbox, unless STRIPE_* settings point the portal at another Stripe.
	if [ -n "$$(env | grep -E '^STRIPE_(SECRET_KEY|TEST_SECRET_KEY|CLIENT_ID|CONNECT_WEBHOOK_SECRET|API_BASE|CONNECT_BASE)=.' || true)" ]; then
	  stripe_note="Stripe: $${STRIPE_API_BASE:-https://api.stripe.com} (your STRIPE_* settings; no sandbox started)"
	else
	  # One sandbox per run: a run on a taken port would quietly use the other run's accounts.
	  export SANDBOX_PORT=$${SANDBOX_PORT:-12111}
	  if python -c "import socket,sys;sys.exit(socket.socket().connect_ex(('127.0.0.1',$$SANDBOX_PORT)))"; then
	    echo "Port $$SANDBOX_PORT is taken (another 'make run'?), so this run cannot start its Stripe sandbox."
	    echo "Stop the other run, or give this one its own ports and Redis database, e.g."
	    echo "  PORT=5001 SANDBOX_PORT=12112 REDIS_URL=redis://127.0.0.1:6379/1 make run"
	    exit 1
	  fi
	  if [ "$$SANDBOX_PORT" != 12111 ]; then  # the portal's sandbox defaults name 12111
	    sandbox=http://127.0.0.1:$$SANDBOX_PORT
	    export STRIPE_SECRET_KEY=sk_live_sandbox_platform STRIPE_TEST_SECRET_KEY=sk_test_sandbox_platform
	    export STRIPE_CLIENT_ID=ca_sandbox_platform STRIPE_CONNECT_WEBHOOK_SECRET=whsec_development_sandbox
	    export STRIPE_API_BASE=$$sandbox STRIPE_CONNECT_BASE=$$sandbox
	  fi
	  flask sandbox --port $$SANDBOX_PORT > instance/sandbox.log 2>&1 &
	  sandbox_pid=$$!
	  stripe_note="Stripe sandbox: http://127.0.0.1:$$SANDBOX_PORT (log: instance/sandbox.log)"
	fi
	trap 'kill $${sandbox_pid:-} $${redis_pid:-} 2>/dev/null || true' EXIT  # its status would be make's
	flask demo --wait 20
	echo; echo "  Open http://127.0.0.1:$$PORT  (Ctrl-C stops everything)"
	echo "  $$stripe_note"; echo
	honcho start -f Procfile || test $$? -eq 130  # Ctrl-C (130) is how it is meant to stop

test: install
	@set -e
	$(BIN)/ruff format --check --quiet .
	$(BIN)/ruff check --quiet .
	$(BIN)/pytest $(PYTEST_ARGS)

bench: install
	@set -e
	shopt -s nullglob
	for script in bench/[!_]*.py; do echo "== $$script"; $(BIN)/python "$$script"; done
	echo "== bench/delivery.py --dkim"; $(BIN)/python bench/delivery.py --dkim

clean:
	rm -rf $(VENV) instance/portal.sqlite3* instance/sandbox-state.json test-artifacts
