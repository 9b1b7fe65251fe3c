# Every target that needs Python runs it from .venv (python3.13, the Lambda runtime's version).
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# Okta's own Python SDKs (tests/integration/test_okta_sdks.py) live in a venv of their own, never in .venv.
SDK_VENV := .venv-okta-sdks
SDK_REQUIREMENTS := tests/okta_sdks/requirements.txt
# A python3.13 that runs: the one on PATH (through pyenv's shim, .python-version's "3.13" is the newest 3.13.x
# installed), else pyenv's newest 3.13, else the newest in pyenv's versions folder (a pyenv too old for version
# prefixes); empty if none. Any 3.13.x will do: the Lambda runtime is python3.13.
FIND_PY313 := python3.13 -c 'import sys; print(sys.executable)' 2>/dev/null \
	|| PYENV_VERSION=3.13 pyenv which python3.13 2>/dev/null \
	|| ls -d "$${PYENV_ROOT:-$$HOME/.pyenv}"/versions/3.13*/bin/python3.13 2>/dev/null | sort -V | tail -n 1
NO_PY313 := echo "python3.13 is required (the Lambda runtime is python3.13): install it, e.g. 'pyenv install 3.13', and retry" >&2; exit 1
export PATH := $(abspath $(BIN)):$(PATH)
export SAM_CLI_TELEMETRY := 0

.PHONY: venv okta-sdks-venv lint typecheck validate test-unit test-integration test bench fuzz fuzz-api openapi build \
	events dev demo bench-api soak usage sam-local-check docs docs-build clean

venv: $(VENV)/.installed $(SDK_VENV)/.installed

$(VENV)/.installed: pyproject.toml layers/core/requirements.txt clients/python/pyproject.toml
	@py=$$($(FIND_PY313)); \
	if [ -z "$$py" ]; then $(NO_PY313); fi; \
	[ -x $(PY) ] || "$$py" -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]' -e clients/python
	touch $@

# The okta management SDK and okta-jwt-verifier, pinned in $(SDK_REQUIREMENTS), and their dependencies.
okta-sdks-venv: $(SDK_VENV)/.installed

$(SDK_VENV)/.installed: $(SDK_REQUIREMENTS)
	@py=$$($(FIND_PY313)); \
	if [ -z "$$py" ]; then $(NO_PY313); fi; \
	[ -x $(SDK_VENV)/bin/python ] || "$$py" -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/python -m pip install -q --upgrade pip
	$(SDK_VENV)/bin/python -m pip install -q -r $(SDK_REQUIREMENTS)
	touch $@

# ruff, then the layer's import contracts (.importlinter): the token side never imports the client side, and
# functions and tools use the layer's public names only.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PYTHONPATH=layers/core:tools:clients/python/src:. $(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy

validate: venv
	$(BIN)/sam validate --lint

test-unit: venv
	$(BIN)/pytest -m "not integration and not docker" -q

test-integration: venv
	$(BIN)/pytest -m integration -q

# The README's test command: lint, types, template, the docs site, then every test (the Okta SDK tests need their venv).
test: lint typecheck validate docs-build okta-sdks-venv
	$(BIN)/pytest -m "not docker" -q

# The authorizer's bearer path, then its DPoP path (benchmarks.dpop); both always run, either's miss fails.
bench: venv
	status=0; $(PY) -m benchmarks.authorizer || status=1; $(PY) -m benchmarks.dpop || status=1; exit $$status

# Differential fuzzing of tokens and DPoP proofs against PyJWT with the "deep" Hypothesis profile (20x the examples, a new seed each run).
fuzz: venv
	HYPOTHESIS_PROFILE=deep $(BIN)/pytest -q tests/unit/tokens/test_differential.py tests/unit/tokens/test_differential_dpop.py

# Schemathesis against a local stack of its own, the deep profile with a new seed (it prints the seed; SEED=n replays).
fuzz-api: venv
	$(PY) -m api_fuzz --profile deep $(if $(SEED),--seed $(SEED))

# openapi.yaml from template.yaml, the layer's error answers and tools/api_contract/operations.yaml.
openapi: venv
	PYTHONPATH=layers/core $(PY) -m api_contract

build: venv
	$(BIN)/sam build

# Writes events/authorizer-valid.fresh.json: a fresh, valid authorizer event from the local Okta server.
events: venv
	$(PY) -m devstack fresh-event

dev: venv
	$(PY) -m devstack dev

demo: venv
	$(PY) -m devstack demo

bench-api: venv
	$(PY) -m benchmarks.api

soak: venv
	$(PY) -m benchmarks.soak

# Requests per client, by route and status, from the access log `make dev` writes (the last 24 h; SINCE=1h for less).
usage: venv
	$(PY) -m local_api.usage --log .local/access.log $(if $(SINCE),--since $(SINCE))

# The docs site (mkdocs.yml, docs/), served on http://127.0.0.1:8000 and rebuilt on every change.
# NO_MKDOCS_2_WARNING: Material prints a banner about its successor on every run otherwise.
docs: venv
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

# Strict: a broken link or anchor, or a page missing from the nav, fails the build (and so `make test`).
docs-build: venv
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir .local/site

sam-local-check: venv
	bash tools/sam_local_check.sh

clean:
	rm -rf .aws-sam .local .pytest_cache .mypy_cache .ruff_cache
