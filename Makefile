# The README's two commands are `make run` and `make test`; everything else is for maintainers.
.PHONY: run test deps docs snapshots lint bench conformance matrix py-venvs e2e-up e2e-run e2e-down images live e2e-scale mutants

CARGO ?= cargo
BASE_URL ?= http://127.0.0.1:8788

## Serve on 127.0.0.1:8788 with the dummy model and the echo shim: no keys needed.
run:
	$(CARGO) run -p miniagent -- serve --demo

PY_VENVS := target/py-venvs
PY_PEERS := mcp-v1 mcp-v2 openai litellm langchain agents codex anthropic claude
UV := $(PY_VENVS)/tools/bin/uv

## Every deterministic test of the workspace (what CI runs), real MCP servers and real Python
## OpenAI clients included. `deps` installs the system packages the tests use when it can (root, or
## sudo without a password), else says what to install; tests missing one are then ignored, with why.
test: deps py-venvs
	$(CARGO) test --workspace

## The system packages the tests use (Debian), installed when possible: harness/deps.sh.
deps:
	@harness/deps.sh

## Python peers for the tests, one venv each, installed exactly from the full freezes in
## fixtures/python/requirements-<peer>.txt: the official MCP SDK 1.x and 2.x (real MCP servers), and
## the clients that must work unchanged against the OpenAI surface — the official `openai` SDK,
## `litellm`, `langchain-openai` and `openai-agents` (separate venvs: litellm needs openai 2.x, the
## others 3.x) — the real Codex CLI (`openai-codex-cli-bin`, OpenAI's own binary wheel), the official
## `anthropic` SDK and Claude Code itself (`claude-agent-sdk`, whose wheel bundles the `claude` binary). uv (bootstrapped with pip) installs them in seconds where pip takes minutes, and the
## bytecode is compiled once so each test's `import` is not paid again.
py-venvs: $(PY_PEERS:%=$(PY_VENVS)/%/.installed)

$(UV):
	python3 -m venv $(PY_VENVS)/tools
	$(PY_VENVS)/tools/bin/pip install --quiet --disable-pip-version-check uv==0.13.9

$(PY_VENVS)/%/.installed: fixtures/python/requirements-%.txt | $(UV)
	rm -rf $(PY_VENVS)/$*
	$(UV) venv --quiet --python python3 $(PY_VENVS)/$*
	VIRTUAL_ENV=$(abspath $(PY_VENVS)/$*) UV_COMPILE_BYTECODE=1 $(UV) pip sync --quiet $<
	touch $@

## Regenerate the configuration reference (docs/operator-guide/configuration.md) from the code.
docs:
	UPDATE_DOCS=1 $(CARGO) test -q -p miniagent --lib config_doc

## Regenerate the insta snapshots under snapshots/ after a deliberate contract change; review the diff.
snapshots:
	INSTA_UPDATE=always $(CARGO) test -p conformance --test in_process
	git status --short snapshots/

## Formatting and clippy, warnings denied.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## Requests/s and latency of the façade on loopback; loop overhead; exec_python round trip; what routing
## costs beside the plain proxy, with and without Redis; what the Anthropic bridge adds over the chat proxy
## (release build).
bench:
	$(CARGO) bench -p miniagent --bench http --bench agent --bench parallel --bench proxy --bench telemetry --bench memory --bench router --bench messages

## Mutation testing of the reference's core modules (cargo-mutants, installed when missing), killed by
## the conformance suite in-process and the reference's own tests (.cargo/mutants.toml); results in
## mutants.out/, the runs' report in conformance/reports/mutants.md. ≈ 1 330 mutants (the core 441,
## the security core 126, openai/ 474, process/ 269, ≈ 15–50 s each), about 6 h on two cores, so not
## in CI: one shard at a time (MUTANTS_SHARD=0/4 … 3/4, 0-based, of MUTANTS_FILES), or a part
## (MUTANTS_FILES=reference/src/api.rs MUTANTS_SYSTEM_FILES=); extra flags in MUTANTS_ARGS (`--re …`,
## `--list`, `--iterate` to test again only what a run left alive).
## The system mutants run real tool inits: one of them (a bare init taking every process for its
## child) SIGKILLs what it can reach, so run them where nothing else of value runs as that user.
## Mutants are applied in place: run it in a tree nobody edits meanwhile (a worktree), with the
## Python peers installed (`make py-venvs`). proptest records the seeds that failed under a mutant in
## reference/proptest-regressions/; the target puts that directory back afterwards.
MUTANTS_FILES ?= reference/src/envelope.rs reference/src/api.rs 'reference/src/agent/*.rs' \
	'reference/src/tools/http/*.rs' reference/src/provider/route.rs reference/src/transport/retry.rs \
	reference/src/transport/retry_after.rs reference/src/auth/mod.rs reference/src/auth/keys.rs \
	reference/src/auth/ratelimit.rs reference/src/outbound.rs \
	reference/src/json_budget.rs reference/src/listen.rs 'reference/src/openai/**/*.rs'
## The sandbox and the tool processes (process/) and the Redis-shared limits (auth/redis.rs) have a
## killer of their own (.cargo/mutants-system.toml: the sandbox, process-tree and Redis suites), run
## with MINIAGENT_REQUIRE_SANDBOX=1 so that a mutant making the sandbox look missing fails its tests
## rather than turning them into "ignored".
MUTANTS_SYSTEM_FILES ?= 'reference/src/process/**/*.rs' reference/src/auth/redis.rs
MUTANTS_SHARD ?=
MUTANTS_ARGS ?=
mutants:
	@command -v cargo-mutants >/dev/null || $(CARGO) install --locked cargo-mutants@27.1.0
	status=0; \
	if [ -n "$(strip $(MUTANTS_FILES))" ]; then \
	  $(CARGO) mutants --package miniagent --in-place $(MUTANTS_FILES:%=-f %) \
	    $(if $(MUTANTS_SHARD),--shard $(MUTANTS_SHARD) --output mutants.out/shard-$(subst /,-of-,$(MUTANTS_SHARD))) \
	    $(MUTANTS_ARGS) || status=$$?; fi; \
	if [ -n "$(strip $(MUTANTS_SYSTEM_FILES))" ]; then \
	  MINIAGENT_REQUIRE_SANDBOX=1 $(CARGO) mutants --package miniagent --in-place --config .cargo/mutants-system.toml \
	    $(MUTANTS_SYSTEM_FILES:%=-f %) --output mutants.out/system \
	    $(MUTANTS_ARGS) || status=$$?; fi; \
	git checkout -- reference/proptest-regressions; exit $$status

## Start the live stack in the background (containers when Docker and `make images` are there,
## processes otherwise; E2E_CONTAINERS=yes|no forces one) and print the env to export.
E2E_CONTAINERS ?= auto
e2e-up:
	$(CARGO) build --workspace --bins
	./target/debug/e2e up --containers $(E2E_CONTAINERS)

## The live suite (NDSMOKE=1) against the stack e2e-up started.
e2e-run:
	NDSMOKE=1 E2E_STATE=$(CURDIR)/.e2e/state.json $(CARGO) test --test live -- --nocapture

## Stop exactly what e2e-up started.
e2e-down:
	@if [ -x ./target/debug/e2e ]; then ./target/debug/e2e down; else echo "e2e: nothing is up"; fi

## The live suite against a process stack it starts and stops itself.
live:
	NDSMOKE=1 $(CARGO) test --test live

## The scale suite: nginx in front of three `miniagent serve` replicas sharing Redis, as processes,
## then as containers when Docker answers (`make images` and harness/images/balancer.sh, built from
## the Debian nginx and redis-server; nothing is pulled). Proves the spread, the shared `rpm`, a
## replica killed under load losing nothing, the replicas' /metrics and their traces; prints the figures.
e2e-scale:
	$(CARGO) build -p miniagent --bins
	@if docker info >/dev/null 2>&1; then $(MAKE) --no-print-directory images && harness/images/balancer.sh; \
	else echo "e2e-scale: no Docker engine answers here; the container mode will be reported as ignored"; fi
	E2E_SCALE=1 $(CARGO) test --test scale -- --nocapture --test-threads 1

## The project's image, from our own binaries (no registry is needed or used): FROM scratch with
## the release binaries, Debian's python3, bubblewrap and prlimit for the tools, and their libraries.
## IMAGE_PROFILE=dev builds it from the debug binaries the tests already built (what CI does: a
## release build would double its time).
IMAGE_PROFILE ?= release
images:
	$(CARGO) build --profile $(IMAGE_PROFILE) -p miniagent -p conformance --bins
	BIN_DIR=target/$(if $(filter dev,$(IMAGE_PROFILE)),debug,$(IMAGE_PROFILE)) harness/images/miniagent.sh target/image

## The compatibility matrix: the reference's runs (every configuration, conformance/reports/run-miniagent.sh)
## into conformance/reports/runs/, then README.md and cases.md from every implementation's runs. The
## other implementations' runs are made by hand, each as its report in conformance/reports/ says.
matrix: py-venvs
	$(CARGO) build --bins -p miniagent -p conformance
	MCP_PYTHON=$(PY_VENVS)/mcp-v2/bin/python conformance/reports/run-miniagent.sh

## Run the conformance suite against an implementation at BASE_URL (extra flags in CONFORMANCE_ARGS).
conformance:
	$(CARGO) run -p conformance -- run --base-url $(BASE_URL) $(CONFORMANCE_ARGS)
