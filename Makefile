# pmpc — common tasks. `make test` is what CI runs; `make demo` is the tour.
GO      ?= go
BIN     ?= bin/pmpc
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build test lint fuzz bench demo clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/pmpc

# lint: formatting and vet; fails on any unformatted file.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# test: lint, the whole suite, and a short run of every fuzz target.
test: lint
	$(GO) test -count=1 ./...
	$(MAKE) fuzz FUZZTIME=5s

FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...

demo: build
	./scripts/demo.sh $(BIN)

clean:
	rm -rf bin
