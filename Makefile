# intake: the two commands a new user needs are `make demo` and `make test`.
GO      ?= go
BIN     := bin/intake

.PHONY: demo build test test-race vet fmt-check lint ci clean fuzz bench bench-scheduler

demo: build ## run the engine on the bundled demo CRM (SQLite, no internet)
	./$(BIN) demo

build:
	$(GO) build -o $(BIN) ./cmd/intake

test: vet fmt-check ## run every test, under the race detector
	$(GO) test -race -count=1 ./...

# Fuzzing is outside `make test`, which runs only the seed corpora (testdata/fuzz/) as
# ordinary tests. A failing input is written to the package's testdata/fuzz/FuzzXxx/;
# keep it there with the fix. See docs/testing.md.
FUZZTIME         ?= 30s
FUZZMINIMIZETIME ?= 0
FUZZFLAGS        ?=
FUZZ_TARGETS := \
	engine/spec:FuzzLoadSpec \
	engine/spec:FuzzOverrideLayering \
	engine/retrieve:FuzzParseLinkHeader \
	engine/expr:FuzzTemplate \
	engine/process:FuzzMapRecord \
	engine/store:FuzzTokenize

fuzz: ## run each fuzz target for FUZZTIME (default 30s)
	@failed=""; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz: $$fn (./$$pkg) for $(FUZZTIME)"; \
		$(GO) test ./$$pkg -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) \
			-fuzzminimizetime $(FUZZMINIMIZETIME) $(FUZZFLAGS) || failed="$$failed $$fn"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: FAILED:$$failed (failing inputs are in testdata/fuzz/)"; exit 1; fi; \
	echo "fuzz: every target ran $(FUZZTIME) without a failure"

# Throughput of a full sync against a floor, at pages of 100 and 1,000, and an
# incremental sync (docs/performance.md). Not part of `make test` or CI: it takes
# minutes. Quick run: make bench BENCH_RECORDS=20000 BENCH_RUNS=1
BENCH_RECORDS ?= 200000
BENCH_RUNS    ?= 3
BENCH_FLAGS   ?=
bench: ## measure engine vs floor throughput, peak RSS and an incremental sync
	$(GO) build -o bin/intake-bench ./cmd/intake-bench
	./bin/intake-bench -records $(BENCH_RECORDS) -runs $(BENCH_RUNS) $(BENCH_FLAGS)

# The scheduler at 100,000 integration objects (docs/scheduler-scale.md): claims, the
# next wake-up and the backlog count on SQLite and PostgreSQL (which is skipped unless
# INTAKE_TEST_POSTGRES_DSN is set), a daemon's start and heap per idle object. Not part
# of `make test`: each case seeds 100,000 rows first.
SCHED_BENCHTIME ?= 5x
bench-scheduler: ## measure find/claim time and memory per idle object at 100k objects
	$(GO) test ./engine/store -run '^$$' -bench '^BenchmarkScheduler$$' -benchtime $(SCHED_BENCHTIME) -timeout 30m
	$(GO) test ./engine/daemon -run '^$$' -bench '^BenchmarkSchedulerDaemon$$' -benchtime 1x -timeout 30m

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

clean:
	rm -rf bin intake.db intake.db-wal intake.db-shm
