# intake: the two commands a new user needs are `make demo` and `make test`.
GO      ?= go
BIN     := bin/intake

.PHONY: demo build test test-race vet fmt-check lint ci clean

demo: build ## run the engine on the bundled demo CRM (SQLite, no internet)
	./$(BIN) demo

build:
	$(GO) build -o $(BIN) ./cmd/intake

test: vet fmt-check ## run every test, under the race detector
	$(GO) test -race -count=1 ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

clean:
	rm -rf bin intake.db intake.db-wal intake.db-shm
