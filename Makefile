# The two commands: `make dev` and `make test`. Both create .venv and install on first use: `make dev`
# only what the local stack runs (the runtime, the emulator, the client: the `local` extra), `make test`
# and the other targets also the tools (tests, lint, CDK, browser: the `dev` extra), on top of it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LOCAL := $(VENV)/.installed-local
STAMP := $(VENV)/.installed-dev

.PHONY: dev test reliability fuzz bench lint format docs synth bootstrap deploy destroy preflight smoke clean

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# --no-compile: Python compiles each module when it is first imported, only those used (half of the
# install time of the local set was pip compiling every module of it).
$(LOCAL): pyproject.toml clients/python/pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --no-compile -e '.[local]' -e 'clients/python[cli]'
	touch $@

# dev includes local: a venv `make dev` made gets only the remainder; one `make test` made needs no more.
$(STAMP): pyproject.toml clients/python/pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --no-compile -e '.[dev]' -e 'clients/python[cli]'
	touch $(LOCAL) $@

dev: $(LOCAL)  ## Start the local stack (emulator, dev server, worker, demo models)
	$(PY) -m infra.local

test: $(STAMP)  ## Run the whole test suite
	$(PY) -m pytest $(PYTEST_ARGS)

reliability: $(STAMP)  ## The full fault-injection runs (1,000 tasks and 100 long tasks; make test runs 200 and 20)
	RELIABILITY_TASKS=$${RELIABILITY_TASKS:-1000} $(PY) -m pytest -s -p no:logging tests/reliability/test_fault_injection.py tests/reliability/test_durable_faults.py

fuzz: $(STAMP)  ## Schemathesis against /openapi.json on the local stack, over 1,000 requests (make test sends ~270)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-60} $(PY) -m pytest -s tests/e2e/test_fuzz.py

bench: $(STAMP)  ## every benchmark, one table, written dated into docs/operate/performance.md; --smoke runs in make test
	$(PY) -m bench --write docs/operate/performance.md

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

synth: $(STAMP) node_modules/.installed  ## Synthesize the CloudFormation template (offline, Docker-free) into cdk.out/
	npx --no-install cdk synth --quiet

.PHONY: lock reproducible

# The Lambda bundle installs requirements/lambda.lock with pip (--require-hashes); only regenerating it needs uv.
lock: $(STAMP)  ## Re-resolve pyproject's runtime dependencies into requirements/lambda.lock (pins and hashes)
	$(PY) -m pip install --quiet 'uv>=0.9'
	$(PY) -m infra.lock

reproducible: $(STAMP) node_modules/.installed  ## Two synths of HEAD per architecture from empty caches: same asset hashes
	$(PY) -m infra.reproducible

bootstrap: $(STAMP) node_modules/.installed  ## Once per account and region: CDK's staging bucket and roles
	npx --no-install cdk bootstrap

# `make deploy` asks before widening IAM or security groups; APPROVAL=never (or CI=true) never asks.
APPROVAL ?= $(if $(filter true,$(CI)),never,broadening)

deploy: $(STAMP) node_modules/.installed  ## Deploy the stack to the account and region of your AWS credentials
	npx --no-install cdk deploy --require-approval $(APPROVAL)

preflight: $(LOCAL)  ## Read-only checks of what a first deploy needs, with your AWS credentials and region
	$(VENV)/bin/asyncinfer preflight

smoke: $(LOCAL)  ## After a deploy: every surface end to end (URL=... KEY=..., or ASYNCINFER_BASE_URL/ASYNCINFER_API_KEY)
	$(VENV)/bin/asyncinfer smoke $(if $(URL),--url $(URL)) $(if $(KEY),--key $(KEY)) $(if $(WEBHOOK),--webhook $(WEBHOOK))

destroy: $(STAMP) node_modules/.installed  ## Remove the stack (the table and buckets are retained; see docs/operate/deploy.md)
	npx --no-install cdk destroy

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python -m infra.module_sizes

# The docs site (mkdocs.yml): docs/ with the API and configuration references generated from the code, into site/.
# --strict: a warning (a broken link or anchor, a page missing from the nav) fails the build.
docs: $(STAMP)  ## Build the docs site into site/ (mkdocs build --strict)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache node_modules cdk.out site
