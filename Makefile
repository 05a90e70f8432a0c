# Two entry points: `make run` starts the server, `make test` runs the whole suite.
# Both create and fill the virtual environment first, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ARGS   ?=
NODE_STAMP := node_modules/.package-lock.json

.PHONY: setup run test lint bench bench-observability clean system-deps test-web bench-web gpu-compile gpu-check

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) $(NODE_STAMP)

run: $(STAMP) $(NODE_STAMP)
	$(BIN)/visionflow serve $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint system-deps $(NODE_STAMP) test-web
	@$(BIN)/pytest $(ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing on purpose" >&2; exit 1; fi; \
	exit $$rc

bench: $(STAMP)
	$(BIN)/python bench/pipeline.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# Debian's Prometheus and Alertmanager (promtool, amtool) for the monitoring tests; installed
# with apt-get when running as root (CI), otherwise those tests skip and say why.
MONITORING_PACKAGES := prometheus prometheus-alertmanager
MONITORING_STAMP    := $(VENV)/.monitoring-packages

$(MONITORING_STAMP): $(STAMP)
	@if ! command -v promtool >/dev/null || ! command -v prometheus-alertmanager >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
				apt-get install -y -qq --no-install-recommends $(MONITORING_PACKAGES) >/dev/null; \
		else \
			echo "note: apt-get install $(MONITORING_PACKAGES) to run the monitoring-stack tests" >&2; \
		fi; \
	fi
	touch $@

setup: $(MONITORING_STAMP)
test: $(MONITORING_STAMP)

bench-observability: $(STAMP)
	$(BIN)/python bench/observability.py

# --- the web view: three.js from the npm lock file; Chromium and node from Debian for the tests.
APT_MISSING = $(if $(wildcard /usr/bin/chromium),,chromium) $(if $(shell command -v node),,nodejs) \
              $(if $(shell command -v npm),,npm)

system-deps:
	@missing="$(strip $(APT_MISSING))"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; \
	  else echo "cannot install $$missing (not root, no sudo): browser tests will be skipped" >&2; exit 0; fi; \
	  $$sudo apt-get update -q && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

# three.js for the page; claude-flow (a development dependency) for its MCP test. Optional packages are
# left out: claude-flow's are native accelerators (and large) that its MCP server does without.
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || $(MAKE) system-deps
	npm ci --no-audit --no-fund --omit=optional
	@touch $(NODE_STAMP)

test-web: system-deps $(NODE_STAMP)
	node --test tests/web/*.test.mjs

bench-web: $(STAMP) $(NODE_STAMP) system-deps
	$(BIN)/python bench/web_decode.py

# Optional peers of `visionflow bench physics --peers` (Python extras and d3-force-3d).
.PHONY: bench-peers bench-physics
bench-peers: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[bench]'
	npm ci --prefix bench --no-audit --no-fund

bench-physics: $(STAMP)
	$(BIN)/visionflow bench physics --nodes 200,10000,100000 --steps 100 --peers $(ARGS)

# Every CUDA kernel compiled for sm_80 and sm_90 (no GPU needed): compile errors, local memory,
# occupancy and instructions per pair in the force loops. On a machine with a GPU, gpu-check
# runs the kernels there and times them (bench/gpu_check.sh; one JSON line of figures at the end).
gpu-compile: $(STAMP)
	env -u NUMBA_ENABLE_CUDASIM $(BIN)/python -m visionflow.physics.cuda.compile_check

gpu-check: $(STAMP)
	PYTHON=$(BIN)/python bash bench/gpu_check.sh
