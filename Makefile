# intake: the two commands a new user needs are `make demo` and `make test`.
GO      ?= go
BIN     := bin/intake

.PHONY: demo build test test-race vet fmt-check lint ci clean fuzz bench bench-scheduler chaos

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
	engine/spec:FuzzUnixTime \
	engine/config:FuzzLoadConfig \
	engine/retrieve:FuzzParseLinkHeader \
	engine/retrieve:FuzzRateLimitHeaders \
	engine/retrieve:FuzzStreamMatchesWhole \
	engine/retrieve:FuzzRedactQuery \
	engine/expr:FuzzTemplate \
	engine/expr:FuzzFastAgreesWithJQ \
	engine/process:FuzzMapRecord \
	engine/store:FuzzTokenize \
	engine/secret:FuzzRedactor \
	engine/jsonx:FuzzMatchesEncodingJSON

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

# Crash and fault campaigns (docs/chaos.md): the real `intake run` against a mock CRM,
# killed with SIGKILL at CHAOS_KILLS random moments (from CHAOS_SEED) and restarted;
# then the same with faults injected into CHAOS_FAULT_RATE of the answers, with one
# retry per request and pages of 100, so that some runs fail and must resume, and two
# daemons sharing the database (one killed each round, the other taking over). Each
# ends with a `chaos: ...` line and fails if a record was lost, duplicated or
# mismatched, or a run failed unclassified. Not part of `make test` or CI: it takes
# a few minutes.
CHAOS_SEED        ?= 1
CHAOS_KILLS       ?= 50
CHAOS_RECORDS     ?= 20000
CHAOS_FAULT_RATE  ?= 0.1
CHAOS_FAULT_KILLS ?= 10
CHAOS_FAULT_RECORDS ?= 10000
CHAOS_KILL_FLAGS  ?= -workers 4
CHAOS_FAULT_FLAGS ?= -retries 1 -page 100 -daemons 2 -integrations 4
CHAOS_FLAGS       ?=
chaos: build ## SIGKILL campaign, then fault campaign; compares the store with the mock
	$(GO) build -o bin/intake-chaos ./cmd/intake-chaos
	./bin/intake-chaos -intake $(BIN) -seed $(CHAOS_SEED) -kills $(CHAOS_KILLS) -records $(CHAOS_RECORDS) $(CHAOS_KILL_FLAGS) $(CHAOS_FLAGS)
	./bin/intake-chaos -intake $(BIN) -seed $(CHAOS_SEED) -kills $(CHAOS_FAULT_KILLS) -records $(CHAOS_FAULT_RECORDS) -faults $(CHAOS_FAULT_RATE) $(CHAOS_FAULT_FLAGS) $(CHAOS_FLAGS)

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

clean:
	rm -rf bin intake.db intake.db-wal intake.db-shm
