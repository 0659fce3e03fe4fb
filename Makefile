# Plinth — developer entry points. `make run` and `make test` work on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO        ?= go
TOOLS     := test/tools
NODE_DEPS := $(TOOLS)/node_modules/.package-lock.json
CDK       := $(TOOLS)/node_modules/.bin/cdk
FUNCTIONS := $(sort $(filter-out local,$(notdir $(patsubst %/main.go,%,$(wildcard functions/*/main.go)))))
GOTEST    ?= $(GO) test
GOFLAGS_LAMBDA := -tags lambda.norpc -trimpath -ldflags='-s -w -buildid='
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

export CDK_DISABLE_CLI_TELEMETRY := true
export CDK_DISABLE_VERSION_CHECK := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: help run env test chromium test-go test-short test-anydate bench bench-rag eval-demo build synth lint invoke deploy tools clean

help: ## list targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

run: ## start the local platform (PLINTH_ADDR, PLINTH_DATA, PLINTH_ADMIN_KEY)
	@echo "Building the local platform into build/local/plinth (the first build downloads and compiles every dependency: a few minutes; later ones take seconds)"
	@set -o pipefail; $(GO) build -v -o build/local/plinth ./functions/local 2>&1 | awk '\
		/^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$$/ { if (++n % 50 == 0) printf "  compiled %d packages (now %s)\n", n, $$0; next } { print }'
	@echo "Starting it (data in $${PLINTH_DATA:-.plinth}; Ctrl-C stops it)"
	@exec build/local/plinth

env: ## print the running local platform's address and keys as shell exports: eval "$(make -s env)"
	@$(GO) run ./functions/local env

tools: $(NODE_DEPS) ## install what the tests need: Go modules, Node.js tools (CDK CLI, emulators, validators, OpenAI client), curl and jq
	@$(GO) mod download
	@for c in curl jq; do command -v $$c >/dev/null || { echo "installing $$c from Debian (the README's examples use it)"; apt-get -o DPkg::Lock::Timeout=600 update -qq && apt-get -o DPkg::Lock::Timeout=600 install -y -qq $$c; }; done

$(NODE_DEPS): $(TOOLS)/package.json $(TOOLS)/package-lock.json
	@command -v npm >/dev/null || { echo "installing Node.js and npm from Debian"; apt-get -o DPkg::Lock::Timeout=600 update -qq && apt-get -o DPkg::Lock::Timeout=600 install -y -qq nodejs npm; }
	cd $(TOOLS) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

test: tools chromium build lint ## everything: lint, unit, contract, emulator, CDK, flow-differential, end-to-end and browser tests
	$(GOTEST) -count=1 -timeout 20m ./...

chromium: ## the headless browser the console's tests drive (Debian's chromium)
	@command -v /usr/bin/chromium >/dev/null || { echo "installing Debian's chromium for the console's browser tests (apt-get install chromium)"; apt-get -o DPkg::Lock::Timeout=600 update -qq && apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium >/dev/null; }

test-short: ## unit tests only
	$(GOTEST) -short ./...

build: ## every Lambda function as build/<fn>/bootstrap (linux/arm64, static, stripped)
	@for fn in $(FUNCTIONS); do \
		echo "build/$$fn/bootstrap"; \
		GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(GOFLAGS_LAMBDA) -o build/$$fn/bootstrap ./functions/$$fn || exit 1; \
	done

synth: tools build ## cdk synth, offline
	$(CDK) synth --quiet --output cdk.out

deploy: tools build ## cdk deploy (needs AWS credentials; see README)
	$(CDK) deploy --all --require-approval broadening

lint: ## gofmt, go mod tidy, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

invoke: tools ## run one function on one event: make invoke FN=gateway EVENT=events/apigw-chat-completions.json
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=<function> EVENT=events/<name>.json"; exit 2; }
	bash $(TOOLS)/invoke.sh $(FN) $(EVENT)

bench: build ## benchmarks: gateway overhead, package micro-benchmarks, Lambda sizes and cold start, dataset validation, local training
	$(GO) run ./test/bench/gateway $(if $(BASELINE),-baseline $(BASELINE))
	$(GO) run ./test/bench/lambda
	$(GO) run ./test/bench/mcp
	$(GO) run ./test/bench/guardrail
	$(GO) run ./test/bench/customize
	$(GOTEST) -run '^$$' -bench . -benchmem -benchtime 2000x ./shared/gateway/... ./shared/tenant/... ./shared/quota/... ./shared/cache/... ./shared/store/... ./shared/provider/... ./shared/guardrail/... ./shared/flow/... ./shared/usage/... ./shared/spool/...
	$(GOTEST) -run '^$$' -bench BenchmarkMove -benchtime 3x ./shared/cellmove/

bench-rag: ## retrieval quality and speed on SciFact (PLINTH_DATASETS, see docs/datasets.md)
	$(GO) run ./test/cmd/benchrag

eval-demo: ## evaluation suite over SQuAD through the real flow, with a regression (PLINTH_DATASETS)
	$(GO) run ./test/cmd/evaldemo

fuzz: ## run every fuzz target for FUZZTIME each (default 2m; FUZZPARALLEL workers, default 1)
	bash test/fuzz.sh

test-anydate: ## the Go tests as if the clock read AT (default five years ahead; only Go's clock moves)
	bash test/anydate.sh

soak: ## 10 minutes of mixed traffic against the local platform: errors, p99 and RSS over time (SOAK_DURATION)
	$(GO) run ./test/cmd/soak

clean:
	rm -rf build cdk.out
