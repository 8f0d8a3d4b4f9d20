package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/internal/pgtest"
)

// testClock is a settable clock for leases and due times.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// backends runs fn on a fresh SQLite store and, when INTAKE_TEST_POSTGRES_DSN is set,
// on a fresh PostgreSQL schema: the queue must behave the same on both.
func backends(t *testing.T, fn func(t *testing.T, s *Store, clock *testClock)) {
	t.Run("sqlite", func(t *testing.T) {
		clock := &testClock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "intake.db"), WithClock(clock.now))
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		fn(t, s, clock)
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.DSN(t)
		clock := &testClock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
		s, err := Open(context.Background(), dsn, WithClock(clock.now))
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		require.Equal(t, Postgres, s.Dialect())
		fn(t, s, clock)
	})
}

func addLeased(t *testing.T, s *Store, id, customer, provider string) {
	t.Helper()
	require.NoError(t, s.CreateIntegration(context.Background(), Integration{ID: id, CustomerID: customer, Provider: provider}, nil, nil))
}

func claimID(t *testing.T, s *Store, owner string, skip ...string) string {
	t.Helper()
	c, err := s.Claim(context.Background(), ClaimRequest{Owner: owner, TTL: time.Minute, SkipProviders: skip})
	require.NoError(t, err)
	if c == nil {
		return ""
	}
	assert.Equal(t, owner, c.Owner)
	return c.IntegrationID
}

// succeed runs one successful sync of an object under no lease.
func succeed(t *testing.T, s *Store, integrationID, typ string) *Object {
	t.Helper()
	ctx := context.Background()
	obj, err := s.EnsureObject(ctx, integrationID, typ)
	require.NoError(t, err)
	run, err := s.StartRun(ctx, obj)
	require.NoError(t, err)
	_, err = s.FinishRun(ctx, run, obj, RunSucceeded, "", "")
	require.NoError(t, err)
	obj, err = s.EnsureObject(ctx, integrationID, typ)
	require.NoError(t, err)
	return obj
}

func TestClaimOrderAndEligibility(t *testing.T) {
	backends(t, func(t *testing.T, s *Store, clock *testClock) {
		ctx := context.Background()
		for _, id := range []string{"a", "b", "c", "d", "e"} {
			addLeased(t, s, id, "acme", "crm")
		}
		addLeased(t, s, "z", "acme", "helpdesk")
		// a: never synced. b: synced, due 5 minutes ago. c: synced, due in an hour.
		// d: disabled. e: no objects yet. z: never synced, another provider.
		require.NoError(t, s.EnsureObjects(ctx, "a", []string{"accounts", "contacts"}))
		b := succeed(t, s, "b", "accounts")
		ok, err := s.SetNextDue(ctx, b.ID, time.Time{}, clock.now().Add(-5*time.Minute))
		require.NoError(t, err)
		require.True(t, ok)
		c := succeed(t, s, "c", "accounts")
		_, err = s.SetNextDue(ctx, c.ID, time.Time{}, clock.now().Add(time.Hour))
		require.NoError(t, err)
		require.NoError(t, s.SetIntegrationStatus(ctx, "d", StatusDisabled, "by hand"))
		require.NoError(t, s.EnsureObjects(ctx, "z", []string{"tickets"}))

		backlog, err := s.DueBacklog(ctx)
		require.NoError(t, err)
		assert.Equal(t, 5, backlog, "a's two objects, b's, e (no objects yet) and z's")

		// Never-synced work first (a, e, z by id unless skipped), then the most overdue.
		assert.Equal(t, "a", claimID(t, s, "d1"))
		assert.Equal(t, "e", claimID(t, s, "d2", "helpdesk"))
		assert.Equal(t, "b", claimID(t, s, "d1", "helpdesk"), "z is skipped: its provider is at its cap")
		assert.Equal(t, "z", claimID(t, s, "d2"))
		assert.Equal(t, "", claimID(t, s, "d3"), "c is not due, d is disabled, the rest are leased")

		backlog, err = s.DueBacklog(ctx)
		require.NoError(t, err)
		assert.Equal(t, 0, backlog, "leased work is not waiting")

		// An hour later c is due, and the leases nobody renewed have expired: all but
		// the disabled one are claimable again (their objects were never rescheduled).
		clock.add(time.Hour)
		var again []string
		for id := claimID(t, s, "d4"); id != ""; id = claimID(t, s, "d4") {
			again = append(again, id)
		}
		assert.Equal(t, []string{"a", "e", "z", "b", "c"}, again)
	})
}

func TestLeaseExpiryHeartbeatAndFencing(t *testing.T) {
	backends(t, func(t *testing.T, s *Store, clock *testClock) {
		ctx := context.Background()
		addLeased(t, s, "acme-crm", "acme", "crm")
		require.Equal(t, "acme-crm", claimID(t, s, "one"))
		in, err := s.Integration(ctx, "acme-crm")
		require.NoError(t, err)
		assert.Equal(t, "one", in.LeaseOwner)
		assert.Equal(t, clock.now().Add(time.Minute), in.LeaseExpiresAt)

		obj, err := s.EnsureObject(ctx, "acme-crm", "contacts")
		require.NoError(t, err)
		obj.Lease = "one"
		run, err := s.StartRun(ctx, obj)
		require.NoError(t, err)
		_, err = s.CommitPage(ctx, run, obj, Page{Records: []Record{{ExternalID: "c1", Kind: "contact", Data: []byte(`{}`), Raw: []byte(`{}`), Hash: "h1"}}, Cursor: "2026-03-01T09:00:00Z"})
		require.NoError(t, err)

		// Heartbeats keep the lease: another daemon cannot take it.
		clock.add(50 * time.Second)
		renewed, err := s.RenewLease(ctx, "acme-crm", "one", time.Minute)
		require.NoError(t, err)
		require.True(t, renewed)
		clock.add(50 * time.Second)
		assert.Equal(t, "", claimID(t, s, "two"), "a renewed lease is live")

		// Without heartbeats it expires, and another daemon takes the integration over.
		clock.add(11 * time.Second)
		assert.Equal(t, "acme-crm", claimID(t, s, "two"))
		renewed, err = s.RenewLease(ctx, "acme-crm", "one", time.Minute)
		require.NoError(t, err)
		assert.False(t, renewed, "the old owner's heartbeat finds the lease gone")

		// The old owner can no longer write: its page and its run's end are refused,
		// and the object (cursor, failures) is left to the new owner.
		_, err = s.CommitPage(ctx, run, obj, Page{Records: []Record{{ExternalID: "c2", Kind: "contact", Data: []byte(`{}`), Raw: []byte(`{}`), Hash: "h2"}}, Cursor: "2026-03-01T09:30:00Z"})
		require.ErrorIs(t, err, ErrLeaseLost)
		_, err = s.FinishRun(ctx, run, obj, RunFailed, "transient", "boom")
		require.ErrorIs(t, err, ErrLeaseLost)
		got, err := s.Run(ctx, run)
		require.NoError(t, err)
		assert.Equal(t, RunCancelled, got.Status)
		assert.Equal(t, "one", got.Owner)
		after, err := s.EnsureObject(ctx, "acme-crm", "contacts")
		require.NoError(t, err)
		assert.Equal(t, "2026-03-01T09:00:00Z", after.Cursor, "the last page committed under the lease")
		assert.Equal(t, 0, after.ConsecutiveFailures)
		n, err := s.CountInteractions(ctx, "acme-crm", "")
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		_, err = s.StartRun(ctx, obj)
		require.ErrorIs(t, err, ErrLeaseLost)

		// The new owner resumes from the committed cursor.
		obj2, err := s.EnsureObject(ctx, "acme-crm", "contacts")
		require.NoError(t, err)
		obj2.Lease = "two"
		run2, err := s.StartRun(ctx, obj2)
		require.NoError(t, err)
		r2, err := s.Run(ctx, run2)
		require.NoError(t, err)
		assert.Equal(t, "2026-03-01T09:00:00Z", r2.CursorBefore)
		assert.Equal(t, "two", r2.Owner)

		// Releasing is only for the holder.
		require.NoError(t, s.ReleaseLease(ctx, "acme-crm", "one"))
		in, err = s.Integration(ctx, "acme-crm")
		require.NoError(t, err)
		assert.Equal(t, "two", in.LeaseOwner)
		released, err := s.ReleaseLeases(ctx, "two")
		require.NoError(t, err)
		assert.Equal(t, 1, released)
		in, err = s.Integration(ctx, "acme-crm")
		require.NoError(t, err)
		assert.Equal(t, "", in.LeaseOwner)
		assert.True(t, in.LeaseExpiresAt.IsZero())
	})
}

func TestNextWakeScheduleAndRequests(t *testing.T) {
	backends(t, func(t *testing.T, s *Store, clock *testClock) {
		ctx := context.Background()
		_, ok, err := s.NextWake(ctx, "me", nil)
		require.NoError(t, err)
		assert.False(t, ok, "an empty database schedules nothing")

		addLeased(t, s, "a", "acme", "crm")
		addLeased(t, s, "b", "acme", "helpdesk")
		at, ok, err := s.NextWake(ctx, "me", nil)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, clock.now(), at, "integrations without objects are due now")

		a := succeed(t, s, "a", "accounts")
		b := succeed(t, s, "b", "tickets")
		now := clock.now()
		_, err = s.SetNextDue(ctx, a.ID, time.Time{}, now.Add(10*time.Minute))
		require.NoError(t, err)
		_, err = s.SetNextDue(ctx, b.ID, time.Time{}, now.Add(20*time.Minute))
		require.NoError(t, err)
		ok, err = s.SetNextDue(ctx, b.ID, time.Time{}, now.Add(time.Minute))
		require.NoError(t, err)
		assert.False(t, ok, "a stale reschedule does not overwrite")

		at, _, err = s.NextWake(ctx, "me", nil)
		require.NoError(t, err)
		assert.Equal(t, now.Add(10*time.Minute), at)
		at, _, err = s.NextWake(ctx, "me", []string{"crm"})
		require.NoError(t, err)
		assert.Equal(t, now.Add(20*time.Minute), at, "a capped provider does not wake the daemon")

		// A lease held by another daemon: wake when it may expire.
		clock.add(10 * time.Minute)
		require.Equal(t, "a", claimID(t, s, "other"))
		at, _, err = s.NextWake(ctx, "me", nil)
		require.NoError(t, err)
		assert.Equal(t, clock.now().Add(time.Minute), at)
		at, _, err = s.NextWake(ctx, "other", nil)
		require.NoError(t, err)
		assert.Equal(t, now.Add(20*time.Minute), at, "a daemon's own leases do not wake it")

		// A sync requested during a run makes the object due again when the run ends.
		a.Lease = "other"
		runStart := clock.now()
		run, err := s.StartRun(ctx, a)
		require.NoError(t, err)
		clock.add(time.Second)
		types, err := s.RequestSync(ctx, "a", nil)
		require.NoError(t, err)
		assert.Equal(t, []string{"accounts"}, types)
		clock.add(time.Second)
		_, err = s.FinishRun(ctx, run, a, RunSucceeded, "", "")
		require.NoError(t, err)
		require.NoError(t, s.ScheduleObject(ctx, a.ID, "other", runStart, clock.now().Add(time.Hour)))
		got, err := s.EnsureObject(ctx, "a", "accounts")
		require.NoError(t, err)
		assert.Equal(t, clock.now(), got.NextDueAt, "requested during the run: due at once")
		assert.False(t, got.SyncRequestedAt.IsZero(), "kept until a run that started after it")

		// The next run serves the request: the next due time is the one computed.
		clock.add(time.Second)
		runStart = clock.now()
		require.NoError(t, s.ScheduleObject(ctx, a.ID, "other", runStart, clock.now().Add(time.Hour)))
		got, err = s.EnsureObject(ctx, "a", "accounts")
		require.NoError(t, err)
		assert.Equal(t, clock.now().Add(time.Hour), got.NextDueAt)
		assert.True(t, got.SyncRequestedAt.IsZero())
		require.ErrorIs(t, s.ScheduleObject(ctx, a.ID, "me", runStart, clock.now()), ErrLeaseLost)

		// Requests: only enabled integrations, only known types.
		types, err = s.RequestSync(ctx, "b", []string{"nope"})
		require.NoError(t, err)
		assert.Empty(t, types)
		_, err = s.RequestSync(ctx, "missing", nil)
		require.ErrorIs(t, err, ErrNotFound)
		require.NoError(t, s.SetIntegrationStatus(ctx, "b", StatusDisabled, ""))
		_, err = s.RequestSync(ctx, "b", nil)
		require.ErrorContains(t, err, "integration b is disabled: enable it first")

		// Retired objects are never due.
		_, err = s.SetNextDue(ctx, a.ID, clock.now().Add(time.Hour), Never)
		require.NoError(t, err)
		require.NoError(t, s.ReleaseLease(ctx, "a", "other"))
		_, ok, err = s.NextWake(ctx, "me", nil)
		require.NoError(t, err)
		assert.False(t, ok)
		types, err = s.RequestSync(ctx, "a", nil)
		require.NoError(t, err)
		assert.Empty(t, types, "a retired object is not brought back by a request")
	})
}

func TestDeleteIntegration(t *testing.T) {
	backends(t, func(t *testing.T, s *Store, clock *testClock) {
		ctx := context.Background()
		addLeased(t, s, "a", "acme", "crm")
		obj := succeed(t, s, "a", "contacts")
		run, err := s.StartRun(ctx, obj)
		require.NoError(t, err)
		_, err = s.CommitPage(ctx, run, obj, Page{Records: []Record{{ExternalID: "c1", Kind: "contact", Data: []byte(`{}`), Raw: []byte(`{}`), Hash: "h1"}}})
		require.NoError(t, err)
		require.NoError(t, s.DeleteIntegration(ctx, "a"))
		_, err = s.Integration(ctx, "a")
		require.ErrorIs(t, err, ErrNotFound)
		for _, table := range []string{"integration_objects", "sync_runs", "interactions"} {
			var n int
			require.NoError(t, s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n))
			assert.Zero(t, n, table)
		}
		require.ErrorIs(t, s.DeleteIntegration(ctx, "a"), ErrNotFound)
		// A duplicate id is recognised on both databases.
		addLeased(t, s, "b", "acme", "crm")
		err = s.CreateIntegration(ctx, Integration{ID: "b", CustomerID: "acme", Provider: "crm"}, nil, nil)
		require.ErrorIs(t, err, ErrExists)
	})
}

// Daemons claiming at the same time never get the same integration.
func TestConcurrentClaimsAreExclusive(t *testing.T) {
	backends(t, func(t *testing.T, s *Store, clock *testClock) {
		const n = 30
		for i := range n {
			addLeased(t, s, fmt.Sprintf("i%02d", i), "acme", "crm")
		}
		var mu sync.Mutex
		got := map[string]string{}
		var wg sync.WaitGroup
		for w := range 4 {
			owner := fmt.Sprintf("daemon-%d", w)
			wg.Go(func() {
				for {
					c, err := s.Claim(context.Background(), ClaimRequest{Owner: owner, TTL: time.Minute})
					if !assert.NoError(t, err) || c == nil {
						return
					}
					mu.Lock()
					prev, dup := got[c.IntegrationID]
					got[c.IntegrationID] = owner
					mu.Unlock()
					assert.False(t, dup, "%s claimed by %s and %s", c.IntegrationID, prev, owner)
				}
			})
		}
		wg.Wait()
		var ids []string
		for id := range got {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		assert.Len(t, ids, n)
	})
}

func TestClaimNeedsOwnerAndTTL(t *testing.T) {
	s, _ := openTest(t)
	_, err := s.Claim(context.Background(), ClaimRequest{Owner: "x"})
	require.Error(t, err)
	_, err = s.Claim(context.Background(), ClaimRequest{TTL: time.Second})
	require.Error(t, err)
	assert.False(t, errors.Is(err, ErrLeaseLost))
}

// A daemon killed in the middle of an OAuth token request leaves the integration's
// refresh lock behind (it is released only by the save that ends a refresh). The
// daemon that takes the integration over once the dead one's lease expired is the
// only process allowed to talk to the provider for it: it must not wait out the
// lock's TTL (45s) with its sync stalled, so taking the lease over clears a refresh
// lock the previous lease holder left. Found by `make chaos` (docs/chaos.md): with a
// lease shorter than the refresh lock's TTL every restarted daemon sat 45s in the
// token refresh of the integration whose token request had been cut by the kill.
func TestTakeoverClearsTheDeadHoldersRefreshLock(t *testing.T) {
	backends(t, func(t *testing.T, s *Store, clock *testClock) {
		ctx := context.Background()
		const lock = 45 * time.Second
		locked := func(id string) string {
			t.Helper()
			var owner sql.NullString
			require.NoError(t, s.db.QueryRowContext(ctx, `SELECT refresh_lock_owner FROM integrations WHERE id = ?`, id).Scan(&owner))
			return owner.String
		}
		takeover := []struct {
			name string
			take func(t *testing.T, id, owner string) bool
		}{
			{"claim", func(t *testing.T, id, owner string) bool {
				c, err := s.Claim(ctx, ClaimRequest{Owner: owner, TTL: 2 * time.Second})
				require.NoError(t, err)
				return c != nil && c.IntegrationID == id
			}},
			{"intake sync", func(t *testing.T, id, owner string) bool {
				ok, _, err := s.AcquireLease(ctx, id, owner, 2*time.Second)
				require.NoError(t, err)
				return ok
			}},
		}
		for i, tk := range takeover {
			t.Run(tk.name, func(t *testing.T) {
				id := fmt.Sprintf("int-refresh-%d", i)
				addLeased(t, s, id, "cust", "oauth-crm")
				dead, next := fmt.Sprintf("dead-%d", i), fmt.Sprintf("next-%d", i)
				ok, _, err := s.AcquireLease(ctx, id, dead, 2*time.Second)
				require.NoError(t, err)
				require.True(t, ok)
				got, err := s.AcquireRefreshLock(ctx, id, dead, lock)
				require.NoError(t, err)
				require.True(t, got)

				// While the holder's lease is live, no one takes either.
				require.False(t, tk.take(t, id, next))
				got, err = s.AcquireRefreshLock(ctx, id, next, lock)
				require.NoError(t, err)
				require.False(t, got, "the live holder's refresh lock")

				// It dies: its lease expires long before its refresh lock would.
				clock.add(3 * time.Second)
				require.True(t, tk.take(t, id, next), "the lease of the dead holder is taken over")
				assert.Empty(t, locked(id), "and its refresh lock with it")
				got, err = s.AcquireRefreshLock(ctx, id, next, lock)
				require.NoError(t, err)
				assert.True(t, got, "the new holder refreshes at once")

				// A refresh lock the lease holder does not hold itself is not the dead
				// holder's to give away: it stays until its TTL.
				require.NoError(t, s.ReleaseRefreshLock(ctx, id, next))
				got, err = s.AcquireRefreshLock(ctx, id, "someone-else", lock)
				require.NoError(t, err)
				require.True(t, got)
				clock.add(3 * time.Second)
				require.True(t, tk.take(t, id, dead+"-again"))
				assert.Equal(t, "someone-else", locked(id))
				clock.add(lock)
			})
		}
	})
}

// A claimer never gets back an integration it says it is running, even when its own
// lease on it expired (store.ClaimRequest.Running); others may take it over.
func TestClaimSkipsWhatTheClaimerRuns(t *testing.T) {
	backends(t, func(t *testing.T, s *Store, clock *testClock) {
		ctx := context.Background()
		addLeased(t, s, "run-a", "cust", "crm")
		addLeased(t, s, "run-b", "cust", "crm")
		c, err := s.Claim(ctx, ClaimRequest{Owner: "d1", TTL: time.Second})
		require.NoError(t, err)
		require.Equal(t, "run-a", c.IntegrationID)
		clock.add(2 * time.Second) // d1's lease on run-a expires while it still syncs it
		c, err = s.Claim(ctx, ClaimRequest{Owner: "d1", TTL: time.Second, Running: []string{"run-a"}})
		require.NoError(t, err)
		require.Equal(t, "run-b", c.IntegrationID)
		c, err = s.Claim(ctx, ClaimRequest{Owner: "d1", TTL: time.Second, Running: []string{"run-a", "run-b"}})
		require.NoError(t, err)
		assert.Nil(t, c)
		c, err = s.Claim(ctx, ClaimRequest{Owner: "d2", TTL: time.Second})
		require.NoError(t, err)
		require.NotNil(t, c)
		assert.Equal(t, "run-a", c.IntegrationID)
	})
}
