// Package schedule decides when each integration object syncs and runs the loop
// that hands due integrations to workers.
//
// The database is the queue (engine/store): every object carries its next due time
// and every integration the lease of the daemon syncing it. Policy computes due
// times: last successful sync + frequency + a fixed per-object jitter, never-synced
// objects at once, failing ones after an exponential backoff. Loop claims due
// integrations while a worker is free, then sleeps until the next due time (a timer,
// not a poll) or until something wakes it: a worker finishing, a sync-now request, a
// reload, another daemon's notification.
package schedule

import (
	"hash/fnv"
	"time"

	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

// Policy computes when integration objects are due.
type Policy struct {
	// DefaultFrequency applies to interaction types whose spec and overrides set no
	// sync_every.
	DefaultFrequency time.Duration
	// Jitter is the largest delay, as a fraction of the frequency (or of the retry
	// wait), added to an object's due time; each object gets its own fixed share.
	Jitter float64
	// RetryMin is the wait after a first failure; it doubles with each further
	// consecutive failure, up to RetryMax.
	RetryMin, RetryMax time.Duration
}

// Frequency is how often an interaction type syncs: its effective sync_every (type,
// else provider, as overridden for the customer), or DefaultFrequency when none of
// them set one.
func (p Policy) Frequency(it *spec.InteractionType) time.Duration {
	if it.SyncEveryDefaulted && p.DefaultFrequency > 0 {
		return p.DefaultFrequency
	}
	return it.SyncEvery.D()
}

// Jitter is the fixed delay of one object: a share of fraction × d derived from a
// hash of its integration and type. The same object always gets the same share, so
// its syncs stay evenly spaced, while objects that were synced together (a batch of
// new integrations, a restart) spread over the window instead of firing together
// every time.
func Jitter(integrationID, typ string, d time.Duration, fraction float64) time.Duration {
	if fraction <= 0 || d <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(integrationID))
	h.Write([]byte{0})
	h.Write([]byte(typ))
	share := float64(h.Sum64()>>11) / float64(1<<53) // uniform in [0, 1)
	return time.Duration(share * fraction * float64(d))
}

// Backoff is the wait before retrying an object that failed failures times in a
// row: RetryMin, doubling each time, at most RetryMax.
func (p Policy) Backoff(failures int) time.Duration {
	if failures <= 0 {
		return 0
	}
	d := p.RetryMin
	for i := 1; i < failures && d < p.RetryMax; i++ {
		d *= 2
	}
	return min(d, p.RetryMax)
}

// NextDue is when obj syncs next, given its frequency:
//   - never synced successfully and never failed: now (never-synced objects go first);
//   - failing (consecutive_failures > 0): the start of the failed run + the backoff,
//     plus its jitter share of the backoff;
//   - otherwise: the last successful sync + the frequency + its jitter.
//
// It depends only on what the database holds, so that every daemon, and a restart,
// computes the same time.
func (p Policy) NextDue(obj *store.Object, freq time.Duration, now time.Time) time.Time {
	switch {
	case obj.ConsecutiveFailures > 0:
		base := obj.LastAttemptAt
		if base.IsZero() {
			base = now
		}
		wait := p.Backoff(obj.ConsecutiveFailures)
		return base.Add(wait + Jitter(obj.IntegrationID, obj.Type, wait, p.Jitter))
	case !obj.LastSyncedAt.IsZero():
		return obj.LastSyncedAt.Add(freq + Jitter(obj.IntegrationID, obj.Type, freq, p.Jitter))
	default:
		return now
	}
}
