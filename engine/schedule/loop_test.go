package schedule_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/schedule"
	"github.com/intakehq/intake/engine/store"
)

// fakeClock is a clock whose time moves only when the test says so. Every timer the
// loop creates is reported on timers, so a test can see how long the loop means to
// sleep: the next due time, not a polling interval.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	pending []*fakeTimer
	timers  chan time.Duration
}

type fakeTimer struct {
	when time.Time
	ch   chan time.Time
	done bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }
func (t *fakeTimer) Stop() bool          { t.done = true; return true }

func newFakeClock() *fakeClock {
	return &fakeClock{now: t0, timers: make(chan time.Duration, 1000)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) schedule.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{when: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- c.now
	} else {
		c.pending = append(c.pending, t)
	}
	c.timers <- d
	return t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.pending[:0]
	for _, t := range c.pending {
		if !t.when.After(c.now) {
			t.ch <- c.now
			continue
		}
		keep = append(keep, t)
	}
	c.pending = keep
}

// nextSleep waits for the loop to go to sleep and returns for how long.
func (c *fakeClock) nextSleep(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-c.timers:
		return d
	case <-time.After(5 * time.Second):
		t.Fatal("the loop did not go to sleep")
		return 0
	}
}

// fixture is a SQLite queue on the fake clock, and a loop whose workers record what
// they were given and, unless told to hold, reschedule and release at once.
type fixture struct {
	t      *testing.T
	clock  *fakeClock
	db     *store.Store
	loop   *schedule.Loop
	claims chan *store.Claim
	hold   chan struct{} // when not nil, workers wait on it before finishing
	next   time.Duration // workers reschedule their objects this far ahead
	cancel context.CancelFunc
	done   chan struct{}
}

func newFixture(t *testing.T, workers int, caps map[string]int, hold bool) *fixture {
	f := &fixture{t: t, clock: newFakeClock(), claims: make(chan *store.Claim, 100), next: time.Hour}
	if hold {
		f.hold = make(chan struct{})
	}
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "intake.db"), store.WithClock(f.clock.Now))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	f.db = db
	f.loop = &schedule.Loop{Queue: db, Clock: f.clock, Owner: "daemon-1", Workers: workers, MaxSleep: 10 * time.Minute, MinWait: time.Second,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil)),
		Work: func(c *store.Claim) {
			f.claims <- c
			if f.hold != nil {
				<-f.hold
			}
			ctx := context.Background()
			objs, err := db.Objects(ctx, c.IntegrationID)
			assert.NoError(t, err)
			for _, o := range objs {
				_, err := db.SetNextDue(ctx, o.ID, o.NextDueAt, f.clock.Now().Add(f.next))
				assert.NoError(t, err)
			}
			assert.NoError(t, db.ReleaseLease(ctx, c.IntegrationID, c.Owner))
		}}
	f.loop.Configure(time.Minute, caps)
	return f
}

func (f *fixture) add(id, provider string, due time.Duration) {
	ctx := context.Background()
	require.NoError(f.t, f.db.CreateIntegration(ctx, store.Integration{ID: id, CustomerID: "acme", Provider: provider}, nil, nil))
	require.NoError(f.t, f.db.EnsureObjects(ctx, id, []string{"contacts"}))
	objs, err := f.db.Objects(ctx, id)
	require.NoError(f.t, err)
	_, err = f.db.SetNextDue(ctx, objs[0].ID, time.Time{}, f.clock.Now().Add(due))
	require.NoError(f.t, err)
}

func (f *fixture) start() {
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan struct{})
	go func() {
		f.loop.Run(ctx)
		close(f.done)
	}()
	f.t.Cleanup(f.stop)
}

func (f *fixture) stop() {
	if f.cancel == nil {
		return
	}
	f.cancel()
	if f.hold != nil {
		select {
		case <-f.hold:
		default:
			close(f.hold)
		}
	}
	<-f.done
	f.cancel = nil
}

func (f *fixture) claimed() string {
	f.t.Helper()
	select {
	case c := <-f.claims:
		return c.IntegrationID
	case <-time.After(5 * time.Second):
		f.t.Fatal("nothing was claimed")
		return ""
	}
}

func (f *fixture) noClaim() {
	f.t.Helper()
	select {
	case c := <-f.claims:
		f.t.Fatalf("%s was claimed", c.IntegrationID)
	case <-time.After(100 * time.Millisecond):
	}
}

// The loop sleeps exactly until the next due time, claims what is due, and sleeps
// again until the one after: a timer, not a poll.
func TestLoopSleepsUntilNextDue(t *testing.T) {
	f := newFixture(t, 2, nil, false)
	f.add("a", "crm", 10*time.Minute)
	f.add("b", "crm", 18*time.Minute)
	f.start()

	assert.Equal(t, 10*time.Minute, f.clock.nextSleep(t))
	f.noClaim()
	f.clock.Advance(10 * time.Minute)
	assert.Equal(t, "a", f.claimed())
	// a is rescheduled an hour ahead; b is next, 8 minutes from now.
	for d := f.clock.nextSleep(t); d != 8*time.Minute; d = f.clock.nextSleep(t) {
		require.Less(t, d, 8*time.Minute, "sleeps never overshoot the next due time")
	}
	f.noClaim()
	f.clock.Advance(8 * time.Minute)
	assert.Equal(t, "b", f.claimed())
	// a is due again at +70m, 52 minutes away: the sleep is capped by MaxSleep (10m),
	// the safety net, and nothing is claimed when it ends.
	for d := f.clock.nextSleep(t); d != 10*time.Minute; d = f.clock.nextSleep(t) {
		require.Less(t, d, 10*time.Minute)
	}
	f.clock.Advance(10 * time.Minute)
	f.noClaim()
}

// A sync-now (or a notification) wakes a sleeping loop at once.
func TestLoopWake(t *testing.T) {
	f := newFixture(t, 1, nil, false)
	f.add("a", "crm", time.Hour)
	f.start()
	assert.Equal(t, 10*time.Minute, f.clock.nextSleep(t), "nothing due within MaxSleep")
	types, err := f.db.RequestSync(context.Background(), "a", nil)
	require.NoError(t, err)
	require.Equal(t, []string{"contacts"}, types)
	f.noClaim()
	f.loop.Wake()
	assert.Equal(t, "a", f.claimed())
}

// At most Workers integrations run at once; a running one is never claimed again;
// a finished worker lets the next one in at once.
func TestLoopBoundsWorkers(t *testing.T) {
	f := newFixture(t, 2, nil, true)
	for _, id := range []string{"a", "b", "c", "d"} {
		f.add(id, "crm", 0)
	}
	f.start()
	got := []string{f.claimed(), f.claimed()}
	assert.ElementsMatch(t, []string{"a", "b"}, got)
	f.noClaim()
	assert.Equal(t, 2, f.loop.Running())
	f.hold <- struct{}{}
	assert.Contains(t, []string{"c"}, f.claimed())
	f.hold <- struct{}{}
	assert.Equal(t, "d", f.claimed())
	f.noClaim()
}

// Per-provider caps hold while other providers keep their workers busy.
func TestLoopProviderCap(t *testing.T) {
	f := newFixture(t, 3, map[string]int{"crm": 1}, true)
	f.add("crm-1", "crm", 0)
	f.add("crm-2", "crm", 0)
	f.add("desk-1", "helpdesk", 0)
	f.start()
	got := []string{f.claimed(), f.claimed()}
	assert.ElementsMatch(t, []string{"crm-1", "desk-1"}, got)
	f.noClaim()
	f.hold <- struct{}{} // one finishes; whichever it is, crm-2 may run now or when crm-1 ends
	f.hold <- struct{}{}
	assert.Equal(t, "crm-2", f.claimed())
}

// Another daemon's lease is respected, and its expiry wakes the loop to take over.
func TestLoopTakesOverExpiredLease(t *testing.T) {
	f := newFixture(t, 1, nil, false)
	f.add("a", "crm", 0)
	c, err := f.db.Claim(context.Background(), store.ClaimRequest{Owner: "daemon-dead", TTL: 2 * time.Minute})
	require.NoError(t, err)
	require.Equal(t, "a", c.IntegrationID)
	f.start()
	assert.Equal(t, 2*time.Minute, f.clock.nextSleep(t), "sleep until the other daemon's lease may expire")
	f.noClaim()
	f.clock.Advance(2 * time.Minute)
	assert.Equal(t, "a", f.claimed())
}

// An empty database: sleep the safety-net interval, and pick up work that appears.
func TestLoopIdle(t *testing.T) {
	f := newFixture(t, 1, nil, false)
	f.start()
	assert.Equal(t, 10*time.Minute, f.clock.nextSleep(t))
	f.add("a", "crm", 0)
	f.clock.Advance(10 * time.Minute)
	assert.Equal(t, "a", f.claimed())
}

// A daemon whose heartbeats cannot reach the database for a whole lease (SQLite busy
// with its own page commits on a starved machine, a PostgreSQL failover) lets the
// lease of an integration it is still syncing expire. Its own next claim must not
// take that integration again: a second worker would sync it alongside the first, and
// both pass the lease check, since the lease is theirs. Found by `make chaos`
// (docs/chaos.md). Another daemon may still take it over; the fence stops the first.
func TestLoopDoesNotClaimWhatItIsRunning(t *testing.T) {
	f := newFixture(t, 2, nil, true)
	f.add("a", "crm", 0)
	f.start()
	assert.Equal(t, "a", f.claimed())
	// No heartbeat in this fixture: a minute on, the lease of the running "a" has
	// expired, and "a" is still due (its worker has not rescheduled it).
	f.clock.Advance(2 * time.Minute)
	f.loop.Wake()
	f.noClaim()
	f.add("b", "crm", 0)
	f.loop.Wake()
	assert.Equal(t, "b", f.claimed(), "a free worker still takes other work")
	c, err := f.db.Claim(context.Background(), store.ClaimRequest{Owner: "daemon-2", TTL: time.Minute})
	require.NoError(t, err)
	require.NotNil(t, c)
	assert.Equal(t, "a", c.IntegrationID, "another daemon takes the expired lease over")
}
