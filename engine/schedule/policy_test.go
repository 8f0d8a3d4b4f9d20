package schedule_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/schedule"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func TestNextDue(t *testing.T) {
	p := schedule.Policy{DefaultFrequency: time.Hour, RetryMin: time.Minute, RetryMax: time.Hour}
	jittered := p
	jittered.Jitter = 0.1
	obj := func(last, attempt time.Time, failures int) *store.Object {
		return &store.Object{IntegrationID: "acme-crm", Type: "contacts", LastSyncedAt: last, LastAttemptAt: attempt, ConsecutiveFailures: failures}
	}
	j := schedule.Jitter("acme-crm", "contacts", time.Hour, 0.1)
	require.Positive(t, j)
	require.Less(t, j, 6*time.Minute)
	for _, tc := range []struct {
		name   string
		policy schedule.Policy
		obj    *store.Object
		freq   time.Duration
		want   time.Time
	}{
		{"never synced: due now", p, obj(time.Time{}, time.Time{}, 0), time.Hour, t0},
		{"never synced but attempted (cancelled): due now", p, obj(time.Time{}, t0.Add(-time.Minute), 0), time.Hour, t0},
		{"synced: last success + frequency", p, obj(t0.Add(-10*time.Minute), t0.Add(-11*time.Minute), 0), time.Hour, t0.Add(50 * time.Minute)},
		{"overdue stays in the past: due at once", p, obj(t0.Add(-3*time.Hour), t0.Add(-3*time.Hour), 0), time.Hour, t0.Add(-2 * time.Hour)},
		{"a per-object jitter share", jittered, obj(t0, t0, 0), time.Hour, t0.Add(time.Hour + j)},
		{"first failure: retry_min after the failed run started", p, obj(t0.Add(-time.Hour), t0, 1), time.Hour, t0.Add(time.Minute)},
		{"third failure: doubled twice", p, obj(t0.Add(-time.Hour), t0, 3), time.Hour, t0.Add(4 * time.Minute)},
		{"seventh failure: capped at retry_max", p, obj(t0.Add(-time.Hour), t0, 7), time.Hour, t0.Add(time.Hour)},
		{"fiftieth failure: still capped", p, obj(t0.Add(-time.Hour), t0, 50), time.Hour, t0.Add(time.Hour)},
		{"failing, never synced: backoff too", p, obj(time.Time{}, t0, 2), time.Hour, t0.Add(2 * time.Minute)},
		{"failing without an attempt time: from now", p, obj(time.Time{}, time.Time{}, 1), time.Hour, t0.Add(time.Minute)},
		{"backoff longer than the frequency", p, obj(t0.Add(-time.Minute), t0, 4), 5 * time.Minute, t0.Add(8 * time.Minute)},
		{"jitter applies to the backoff", jittered, obj(t0, t0, 1), time.Hour, t0.Add(time.Minute + schedule.Jitter("acme-crm", "contacts", time.Minute, 0.1))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.policy.NextDue(tc.obj, tc.freq, t0))
		})
	}
}

func TestBackoff(t *testing.T) {
	p := schedule.Policy{RetryMin: 30 * time.Second, RetryMax: 10 * time.Minute}
	var got []time.Duration
	for n := 0; n <= 8; n++ {
		got = append(got, p.Backoff(n))
	}
	assert.Equal(t, []time.Duration{0, 30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute, 10 * time.Minute}, got)
	assert.Equal(t, 10*time.Minute, p.Backoff(1<<30), "no overflow")
}

// 10,000 objects synced together on one frequency spread evenly over the jitter
// window, and each keeps its own place.
func TestJitterSpreadsObjects(t *testing.T) {
	const n, buckets = 10000, 10
	freq := time.Hour
	window := time.Duration(0.1 * float64(freq))
	counts := make([]int, buckets)
	seen := map[time.Duration]bool{}
	for i := range n {
		id := fmt.Sprintf("cust-%05d-crm", i)
		j := schedule.Jitter(id, "contacts", freq, 0.1)
		require.GreaterOrEqual(t, j, time.Duration(0))
		require.Less(t, j, window)
		require.Equal(t, j, schedule.Jitter(id, "contacts", freq, 0.1), "deterministic")
		counts[int(j*buckets/window)]++
		seen[j] = true
	}
	for b, c := range counts {
		assert.InDelta(t, n/buckets, c, 0.15*n/buckets, "bucket %d of %d holds %d objects: %v", b, buckets, c, counts)
	}
	assert.Greater(t, len(seen), n*99/100, "nearly every object has its own due time")
	assert.NotEqual(t, schedule.Jitter("a", "contacts", freq, 0.1), schedule.Jitter("a", "accounts", freq, 0.1), "types of one integration differ")
	assert.Zero(t, schedule.Jitter("a", "b", freq, 0))
}

// The frequency comes from the provider, then the interaction type, then the
// customer's override, then the daemon's default when none sets one.
func TestFrequencyPrecedence(t *testing.T) {
	const base = `provider: crm
base_url: https://crm.example
%s
interaction_types:
  accounts: {kind: account, request: {path: /a}, records: '.[]', id: .id%s}
  contacts: {kind: contact, request: {path: /c}, records: '.[]', id: .id}
`
	p := schedule.Policy{DefaultFrequency: 45 * time.Minute}
	for _, tc := range []struct {
		name                   string
		providerLine, typeKeys string
		override               string
		accounts, contacts     time.Duration
	}{
		{"nothing set: the daemon's default", "", "", "", 45 * time.Minute, 45 * time.Minute},
		{"provider", "sync_every: 3h", "", "", 3 * time.Hour, 3 * time.Hour},
		{"interaction type over provider", "sync_every: 3h", ", sync_every: 10m", "", 10 * time.Minute, 3 * time.Hour},
		{"type without provider: others get the default", "", ", sync_every: 10m", "", 10 * time.Minute, 45 * time.Minute},
		{"customer override of the provider", "sync_every: 3h", ", sync_every: 10m", "sync_every: 1d\n", 10 * time.Minute, 24 * time.Hour},
		{"customer override of a type", "sync_every: 3h", "", "interaction_types:\n  contacts:\n    sync_every: 5m\n", 3 * time.Hour, 5 * time.Minute},
		{"customer override where the spec sets nothing", "", "", "sync_every: 2h\n", 2 * time.Hour, 2 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "connectors"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "connectors", "crm.yaml"), fmt.Appendf(nil, base, tc.providerLine, tc.typeKeys), 0o644))
			if tc.override != "" {
				require.NoError(t, os.MkdirAll(filepath.Join(dir, "customers", "acme"), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(dir, "customers", "acme", "crm.yaml"), []byte("customer: acme\nprovider: crm\n"+tc.override), 0o644))
			}
			cat := spec.LoadCatalog(filepath.Join(dir, "connectors"), nil)
			require.Empty(t, cat.Problems)
			cat.CustomersDir = filepath.Join(dir, "customers")
			conn, _, err := cat.Effective("acme", "crm", "", "")
			require.NoError(t, err)
			assert.Equal(t, tc.accounts, p.Frequency(conn.InteractionTypes.Map["accounts"]), "accounts")
			assert.Equal(t, tc.contacts, p.Frequency(conn.InteractionTypes.Map["contacts"]), "contacts")
		})
	}
}
