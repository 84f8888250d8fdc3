# parker: pack a working directory into one executable that runs in a
# private container. Run "make help" for the targets.

PREFIX   ?= /usr/local
DESTDIR  ?=
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0)
LDFLAGS  := -s -w -X github.com/parkerpack/parker/internal/version.Version=$(VERSION)
GOBUILD  := CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)'
FUZZTIME ?= 60s

.PHONY: all build install uninstall test demo bench fuzz vet clean help

all: build ## Build bin/parker and bin/parker-runtime (the default)

build: bin/parker bin/parker-runtime

bin/parker: FORCE
	$(GOBUILD) -o $@ ./tools/parker

bin/parker-runtime: FORCE
	$(GOBUILD) -o $@ ./runtime

FORCE:

install: build ## Install parker, its runtime stub and parker.mk under $(DESTDIR)$(PREFIX)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/parker $(DESTDIR)$(PREFIX)/include
	install -m 0755 bin/parker $(DESTDIR)$(PREFIX)/bin/parker
	install -m 0755 bin/parker-runtime $(DESTDIR)$(PREFIX)/lib/parker/parker-runtime
	install -m 0644 parker.mk $(DESTDIR)$(PREFIX)/include/parker.mk

uninstall: ## Remove what "make install" installed
	rm -f $(DESTDIR)$(PREFIX)/bin/parker $(DESTDIR)$(PREFIX)/lib/parker/parker-runtime $(DESTDIR)$(PREFIX)/include/parker.mk
	-rmdir $(DESTDIR)$(PREFIX)/lib/parker

test: ## Run every test (the container tests need root; see README)
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 15m ./...

demo: build ## Pack python3.11 with a small web server and serve two files from the artifact
	./scripts/demo.sh

bench: build ## Run the benchmark suite and print the table (slow)
	./scripts/bench.sh

fuzz: ## Run each fuzz target for $(FUZZTIME)
	./scripts/fuzz.sh $(FUZZTIME)

vet: ## Run go vet and gofmt
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }

clean: ## Remove build outputs
	rm -rf bin

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | awk -F'\t' '{printf "  %-12s %s\n", $$1, $$2}'
