# The README's two commands are `make run` and `make test`; everything else is for maintainers.
.PHONY: run test snapshots lint bench conformance

CARGO ?= cargo
BASE_URL ?= http://127.0.0.1:8788

## Serve on 127.0.0.1:8788 with the dummy model and the echo shim: no keys needed.
run:
	$(CARGO) run -p miniagent -- serve --demo

## Every deterministic test of the workspace (what CI runs).
test:
	$(CARGO) test --workspace

## Regenerate the insta snapshots under snapshots/ after a deliberate contract change; review the diff.
snapshots:
	INSTA_UPDATE=always $(CARGO) test -p conformance --test in_process
	git status --short snapshots/

## Formatting and clippy, warnings denied.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## Requests/s and latency of the façade on loopback; loop overhead; exec_python round trip (release build).
bench:
	$(CARGO) bench -p miniagent --bench http --bench agent

## Run the conformance suite against an implementation at BASE_URL.
conformance:
	$(CARGO) run -p conformance -- run --base-url $(BASE_URL)
