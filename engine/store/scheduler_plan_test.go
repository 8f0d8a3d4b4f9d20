package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/internal/schedseed"
)

// queryPlan is how the database plans q: EXPLAIN QUERY PLAN's detail lines on SQLite,
// EXPLAIN's lines on PostgreSQL, trimmed.
func queryPlan(t *testing.T, s *Store, q string, args ...any) []string {
	t.Helper()
	explain := "EXPLAIN QUERY PLAN "
	if s.dialect == Postgres {
		explain = "EXPLAIN "
	}
	rows, err := s.db.Query(explain+q, args...)
	require.NoError(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var plan []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		plan = append(plan, strings.TrimLeft(fmt.Sprint(vals[len(vals)-1]), " ->"))
	}
	require.NoError(t, rows.Err())
	return plan
}

// The scheduler's statements read indexes in due order and stop at the first usable
// row: neither a claim nor the next wake-up may scan integrations or
// integration_objects, or sort every due row (docs/scheduler-scale.md). SQLite plans
// without statistics (the store never runs ANALYZE), so its plans are checked on an
// empty database; PostgreSQL's depend on them, so it gets a few thousand analysed rows.
func TestClaimQueriesUseIndexes(t *testing.T) {
	backends(t, func(t *testing.T, s *Store, clock *testClock) {
		if s.dialect == Postgres {
			require.NoError(t, schedseed.Seed(context.Background(), s.DB(), schedseed.Options{
				Shape: schedseed.Shape{Integrations: 2000, Types: 4}, Base: clock.now(), Window: time.Hour, Analyze: true}))
		}
		now := formatTS(clock.now())
		skip, skipArgs := notIn("i.provider", []string{"capped"})
		lock := ""
		if s.dialect == Postgres {
			lock = ` FOR UPDATE OF i SKIP LOCKED`
		}
		// What each statement must read, per database; every other line must not be a
		// table scan (or a sort of every candidate, which SQLite says as "FOR ORDER BY").
		for i, want := range []struct{ sqlite, postgres []string }{
			{
				[]string{"SCAN n USING COVERING INDEX integrations_new", "SEARCH o USING INDEX integration_objects_never (next_due_at=?)"},
				[]string{"Index Only Scan using integrations_new on integrations n", "Index Scan using integration_objects_never on integration_objects"},
			},
			{
				[]string{"SEARCH o USING INDEX integration_objects_never (next_due_at<?)"},
				[]string{"Index Scan using integration_objects_never on integration_objects o"},
			},
			{
				[]string{"SEARCH o USING INDEX integration_objects_due (next_due_at=?)"},
				[]string{"Index Scan using integration_objects_due on integration_objects o"},
			},
			{
				[]string{"SEARCH o USING INDEX integration_objects_due (next_due_at<?)"},
				[]string{"Index Scan using integration_objects_due on integration_objects o"},
			},
		} {
			q := claimOrder[i].sql(skip, lock)
			checkPlan(t, s, fmt.Sprintf("claim step %d", i+1), queryPlan(t, s, q, claimOrder[i].sqlArgs("d1", now, now, skipArgs)...),
				want.sqlite, want.postgres)
		}
		checkPlan(t, s, "next wake", queryPlan(t, s, nextWakeSQL(s.dialect, skip), nextWakeArgs("d1", skipArgs)...),
			[]string{"SCAN i USING INDEX integrations_new", "SEARCH o USING INDEX integration_objects_due (next_due_at=?)",
				"SEARCH o USING INDEX integration_objects_due (next_due_at<?)", "SEARCH i USING INDEX integrations_lease (lease_expires_at>?)"},
			[]string{"Index Scan using integrations_new on integrations", "Index Scan using integration_objects_due on integration_objects o_2",
				"Index Scan using integration_objects_due on integration_objects o_3", "Index Scan using integrations_lease on integrations i"})
	})
}

func checkPlan(t *testing.T, s *Store, what string, plan, sqlite, postgres []string) {
	t.Helper()
	want := sqlite
	if s.dialect == Postgres {
		want = postgres
	}
	text := strings.Join(plan, "\n")
	for _, w := range want {
		assert.Contains(t, text, w, "%s:\n%s", what, text)
	}
	for _, line := range plan {
		bad := strings.HasPrefix(line, "Seq Scan") || line == "USE TEMP B-TREE FOR ORDER BY" && what == "claim step 4"
		if s.dialect == SQLite {
			// "SCAN t" alone reads a whole table; "SCAN t USING ... INDEX x" reads a
			// partial index, which holds only new integrations.
			f := strings.Fields(line)
			bad = bad || len(f) == 2 && f[0] == "SCAN" && f[1] != "CONSTANT"
		}
		assert.False(t, bad, "%s reads every row: %q\n%s", what, line, text)
	}
}
