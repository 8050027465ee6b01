# civicard: `make run` starts the embedded default with demo data,
# `make test` runs every test. Only Go (1.26) must be on the machine: every
# other tool is pinned in go.mod and run with `go tool`.

GO      ?= go
BIN     := bin/civicard
# Every package runs under the race detector except the end-to-end tests in
# sim/e2e, which start `civicard up` and `civicard node` as separate
# processes: the actor library races inside its own process (see the cluster
# notes), so the cluster is tested across processes instead.
E2E_PKGS  := ./sim/e2e/
RACE_PKGS  = $(shell $(GO) list ./... | grep -v '^civicard/sim/e2e$$')

export CGO_ENABLED ?= 1

.PHONY: run build test generate check-generated lint build-providers unit pcsc bench soak clean deps

run: build
	$(BIN) up

build: deps
	$(GO) build -o $(BIN) ./cmd/civicard

# The race detector needs cgo and a C compiler; Debian machines with Go
# have gcc, install it when they do not.
deps:
	@command -v gcc >/dev/null 2>&1 || { echo "installing gcc (race detector)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null; }
	$(GO) mod download

test: deps check-generated lint unit pcsc

unit:
	$(GO) test -race -count=1 $(RACE_PKGS)
	$(GO) test -count=1 -timeout 30m $(E2E_PKGS)

# domain/ stays pure: what it may import, and no clock (internal/puritycheck).
lint: build-providers
	$(GO) run ./internal/puritycheck ./domain/...
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

# The membership providers that need a service of their own (Consul, etcd,
# Kubernetes) are linked only into a binary built with their tag
# (cluster/provider_*.go): check that each still builds and vets.
MEMBERSHIP_TAGS := consul etcd k8s
build-providers:
	@for tag in $(MEMBERSHIP_TAGS); do \
		echo "go build -tags $$tag ./..."; \
		$(GO) build -tags $$tag ./... && $(GO) vet -tags $$tag ./cluster/ ./cmd/civicard/ || exit 1; \
	done

# The real PC/SC stack: scripts/pcscd.sh installs pcscd and vpcd when they are
# missing, runs a private pcscd with 16 virtual readers for the tests with the
# pcsc build tag (cgo, libpcsclite) and stops it when they end.
pcsc:
	scripts/pcscd.sh --readers 16 -- sh -c '$(GO) vet -tags pcsc ./terminals/... ./sim/e2e/ && \
		$(GO) test -tags pcsc -race -count=1 -v ./terminals/pcsc/ && \
		$(GO) test -tags pcsc -count=1 -v -run "^TestTerminal" $(E2E_PKGS)'

# Messages for every file, Connect handlers for the public API only, grain
# dispatch for the grain services only.
generate:
	$(GO) tool buf generate --template messages/buf.gen.go.yaml
	$(GO) tool buf generate --template messages/buf.gen.connect.yaml --path messages/civicard
	$(GO) tool buf generate --template messages/buf.gen.grain.yaml --path messages/grains/v1/grains.proto

# Fails when the committed generated code differs from what the .proto files
# and the pinned generators produce.
check-generated: generate
	@if ! git diff --quiet -- messages || [ -n "$$(git ls-files --others --exclude-standard messages)" ]; then \
		echo "generated code in messages/ is stale: run 'make generate' and commit"; \
		git status --short messages; exit 1; fi

# The same load at 64 and 256 concurrent terminals against the Raft-only
# ceiling, an HTTP-only ceiling (a process answering every tap at once),
# `civicard up` (a second process, taps over HTTP), three `civicard node`
# processes and the PostgreSQL baseline, printed side by side; then the
# replication package's own benchmarks.
bench: build
	./scripts/postgres-install.sh
	$(GO) test -run '^$$' -bench . -benchtime 20000x -count 1 ./sim/
	$(GO) test -run '^$$' -bench . -benchtime 20000x -count 1 ./cluster/replication/

# The crash and cluster fault tests again and again: a fault that loses or
# doubles money once in twenty runs shows here, not in `make test`. Then a
# day of a small city (about a minute each) against a 3-node cluster the sim starts,
# with nodes killed, paused and restarted and terminals offline, once per
# seed; a broken invariant fails it.
soak: build
	$(GO) test -count=$${SOAK_RUNS:-5} -timeout 2h -v -run 'TestCrashLosesNothingAcknowledged|TestClusterFaults' $(E2E_PKGS) \
		| grep -E '^(=== RUN|--- |ok|FAIL|PASS)|_test.go:[0-9]+:'
	for seed in $$(seq $${SOAK_RUNS:-5}); do \
		$(BIN) sim --cluster 3 --chaos --seed $$seed --cards 3000 --riders 1500 --speed 1200 \
			--progress 5s \
			--json bin/soak-sim-$$seed.json --html bin/soak-sim-$$seed.html || exit 1; \
	done

clean:
	rm -rf bin
