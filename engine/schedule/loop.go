package schedule

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/intakehq/intake/engine/store"
)

// Queue is the part of the store the loop claims work from.
type Queue interface {
	Claim(ctx context.Context, r store.ClaimRequest) (*store.Claim, error)
	NextWake(ctx context.Context, owner string, skipProviders []string) (time.Time, bool, error)
}

// Clock is time for the loop; tests drive a fake one.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is a stoppable timer.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// RealClock is the system clock.
type RealClock struct{}

// Now is time.Now.
func (RealClock) Now() time.Time { return time.Now() }

// NewTimer is time.NewTimer.
func (RealClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }

// Defaults of the loop.
const (
	// DefaultMaxSleep bounds a sleep even when nothing is due sooner. It is a safety
	// net, not the schedule: it catches work that appeared without a wake-up (an
	// integration added with the CLI to a SQLite file the daemon uses, a clock jump).
	DefaultMaxSleep = time.Minute
	// DefaultMinWait is the pause after a failed claim, or when work is due but
	// could not be claimed (another daemon took it an instant before).
	DefaultMinWait = time.Second
)

// Loop claims due integrations and runs each in a worker, at most Workers at once and
// at most Caps[provider] of one provider at once.
type Loop struct {
	Queue   Queue
	Clock   Clock
	Owner   string // this daemon's lease owner id
	Workers int
	// Work syncs one claimed integration and returns when it is done (its lease
	// released or lost). It runs in its own goroutine.
	Work   func(*store.Claim)
	Logger *slog.Logger
	// MaxSleep and MinWait default to DefaultMaxSleep and DefaultMinWait.
	MaxSleep, MinWait time.Duration

	mu      sync.Mutex
	lease   time.Duration
	caps    map[string]int
	running map[string]int  // provider -> integrations running
	active  map[string]bool // integrations running (never claimed again while they run)
	total   int
	wake    chan struct{}
	done    chan struct{}
}

// Configure sets the lease duration and the per-provider caps. Call it before Run; it
// may be called again while the loop runs (a reload).
func (l *Loop) Configure(lease time.Duration, caps map[string]int) {
	l.mu.Lock()
	l.lease, l.caps = lease, maps.Clone(caps)
	l.mu.Unlock()
	l.Wake()
}

func (l *Loop) init() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.wake == nil {
		l.wake = make(chan struct{}, 1)
		l.done = make(chan struct{}, 1)
		l.running = map[string]int{}
		l.active = map[string]bool{}
	}
}

// Wake makes the loop look for due work now (a sync-now request, a reload, another
// daemon's notification).
func (l *Loop) Wake() {
	l.init()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Running is the number of integrations being synced.
func (l *Loop) Running() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// skipped is the providers at their cap.
func (l *Loop) skipped() []string {
	var out []string
	for p, n := range l.running {
		if c, ok := l.caps[p]; ok && n >= c {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

func (l *Loop) logger() *slog.Logger {
	if l.Logger != nil {
		return l.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Run claims and dispatches work until ctx ends, then waits for the running workers
// to return (they stop on their own terms: see the daemon's shutdown).
func (l *Loop) Run(ctx context.Context) {
	l.init()
	maxSleep, minWait := l.MaxSleep, l.MinWait
	if maxSleep <= 0 {
		maxSleep = DefaultMaxSleep
	}
	if minWait <= 0 {
		minWait = DefaultMinWait
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	select {
	case <-l.wake: // asked before the loop started: it starts by looking anyway
	default:
	}
	for ctx.Err() == nil {
		busy, failed := l.fill(ctx, &wg)
		if ctx.Err() != nil {
			return
		}
		wait := maxSleep // all workers busy: one finishing wakes the loop
		if !busy {
			// Workers free: sleep until the next due time.
			l.mu.Lock()
			skip := l.skipped()
			l.mu.Unlock()
			at, ok, err := l.Queue.NextWake(ctx, l.Owner, skip)
			switch {
			case err != nil:
				if ctx.Err() != nil {
					return
				}
				l.logger().Error("scheduler: next due time", "error", err)
				wait = minWait
			case !ok:
				wait = maxSleep
			default:
				wait = max(at.Sub(l.Clock.Now()), 0)
				if wait == 0 {
					// Due, yet not claimed: another daemon is an instant ahead.
					wait = minWait
				}
			}
		}
		if failed {
			wait = minWait
		}
		wait = min(wait, maxSleep)
		t := l.Clock.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C():
		case <-l.wake:
		case <-l.done:
		}
		t.Stop()
	}
}

// fill claims work while workers are free, and reports whether they all are busy;
// failed reports a claim error.
func (l *Loop) fill(ctx context.Context, wg *sync.WaitGroup) (busy, failed bool) {
	for ctx.Err() == nil {
		l.mu.Lock()
		if l.total >= l.Workers {
			l.mu.Unlock()
			return true, false
		}
		req := store.ClaimRequest{Owner: l.Owner, TTL: l.lease, SkipProviders: l.skipped(), Running: slices.Sorted(maps.Keys(l.active))}
		l.mu.Unlock()
		c, err := l.Queue.Claim(ctx, req)
		if err != nil {
			if ctx.Err() == nil {
				l.logger().Error("scheduler: claim", "error", err)
			}
			return false, true
		}
		if c == nil {
			return false, false
		}
		l.mu.Lock()
		l.total++
		l.running[c.Provider]++
		l.active[c.IntegrationID] = true
		l.mu.Unlock()
		wg.Go(func() {
			defer func() {
				l.mu.Lock()
				l.total--
				if l.running[c.Provider]--; l.running[c.Provider] <= 0 {
					delete(l.running, c.Provider)
				}
				delete(l.active, c.IntegrationID)
				l.mu.Unlock()
				select {
				case l.done <- struct{}{}:
				default:
				}
			}()
			l.Work(c)
		})
	}
	return false, false
}
