// Package pipeline runs one sync of an integration: for each interaction type it
// retrieves pages, maps their records and commits each page with the cursor that
// covers it, so an interrupted sync loses nothing and duplicates nothing.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/intakehq/intake/engine/alert"
	"github.com/intakehq/intake/engine/process"
	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/source"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

// Store is what a sync needs from the database.
type Store interface {
	EnsureObject(ctx context.Context, integrationID, typ string) (*store.Object, error)
	StartRun(ctx context.Context, obj *store.Object) (int64, error)
	CommitPage(ctx context.Context, runID int64, obj *store.Object, p store.Page) (store.PageResult, error)
	// Checkpoint commits a cursor on its own: a completed backfill window, the parents
	// a child type has finished.
	Checkpoint(ctx context.Context, runID int64, obj *store.Object, cursor string) error
	// ReconcileDeletes marks deleted the rows a full sync did not see.
	ReconcileDeletes(ctx context.Context, runID int64, obj *store.Object, seen func(externalID string) bool) (int, error)
	// ReconcileChildren marks deleted the children of one parent a fetch did not see.
	ReconcileChildren(ctx context.Context, runID int64, obj *store.Object, parentID int64, seen func(externalID string) bool) (int, error)
	FinishRun(ctx context.Context, runID int64, obj *store.Object, status, class, errMsg string) (*store.Run, error)

	// What a child type reads of its parents.
	LastChange(ctx context.Context) (int64, error)
	ChangedInteractions(ctx context.Context, integrationID, typ string, after, upto int64) ([]store.ParentRef, error)
	ScanInteractions(ctx context.Context, objectID, afterID int64, limit int) ([]store.ParentRef, error)
	InteractionRecord(ctx context.Context, id int64) (*store.StoredRecord, error)
}

// PageEvent reports a committed page, for progress displays.
type PageEvent struct {
	Integration string
	Type        string
	Page        int
	Records     int
	Result      store.PageResult
	Cursor      string
}

// DefaultCommitRecords and DefaultCommitWait are the daemon's and the CLI's
// Syncer.CommitRecords and CommitWait: pages of 1,000 records commit one by one as
// before, and pages of 100 ten at a time. DefaultPartSize is their
// retrieve.Options.PartSize: records are mapped a part at a time, as soon as the part
// is decoded, and parts of 100 are mapped while more of their records are in the
// CPU's caches (a sync of 200,000 records in pages of 1,000 took 3% less CPU than in
// parts of 1,000). The parts of one response commit together, and count as one page.
const (
	DefaultCommitRecords = 1000
	DefaultCommitWait    = time.Second
	DefaultPartSize      = 100
)

// Syncer runs syncs.
type Syncer struct {
	Store  Store
	Logger *slog.Logger
	// OnPage, when set, is called after each committed page. Pages of a child type
	// with parent.concurrency above 1 are committed, and reported, one at a time.
	// Pages that commit together (CommitRecords) are reported in order once their
	// commit is done, the commit's Result with the last of them.
	OnPage func(PageEvent)
	// CommitRecords, when above 1, lets the pages of a type's own requests, and a
	// child type's pages of one parent, commit together: a page waits for the pages
	// after it until they have read this many records, or until it has waited
	// CommitWait (checked as each page arrives), or the requests end. Each commit
	// rewrites the b-tree pages it touches to the WAL, so a sync of 100-record pages
	// cost a fifth more CPU per record than one of 1,000; a crash loses the pages that
	// wait, read again from the stored cursor. 0 or 1: each page commits on its own.
	// DefaultCommitRecords is what the daemon and the CLI use.
	CommitRecords int
	// CommitWait bounds how long a page waits to commit with later ones; 0 means
	// DefaultCommitWait.
	CommitWait time.Duration
	// CommitNow, when set and true, makes the pages that wait commit as the next
	// arrives: a daemon that drains stops after that commit, as it would after one
	// page.
	CommitNow func() bool
	// Alerts, when set, is told how each run ended (an *alert.Policy): it logs
	// failures, raises alerts and disables integrations that keep failing.
	Alerts interface {
		RunFinished(ctx context.Context, o alert.Outcome) error
	}
}

// Client is what a sync reads records through: a *retrieve.Client for HTTP APIs, an
// *sqlsource.Source for databases, a *filesource.Source for files (NewClient picks by
// the connector's source). A client that also implements source.Resumable keeps its
// own position: the pipeline hands it the stored cursor and commits the position each
// batch carries.
type Client interface {
	Pages(ctx context.Context, it *spec.InteractionType, q retrieve.Query, fn func(retrieve.Page) error) error
	// Redact hides the integration's secrets in s.
	Redact(s string) string
}

// clientNow is the client's clock when it has one (tests fake it), else the wall clock.
func clientNow(c Client) time.Time {
	if n, ok := c.(interface{ Now() time.Time }); ok {
		return n.Now()
	}
	return time.Now()
}

// Job is one integration to sync with a ready client.
type Job struct {
	IntegrationID string
	CustomerID    string
	Connector     *spec.Connector
	Client        Client
	Types         []string // empty: every interaction type, in spec order
}

// Result is the outcome of one interaction type's sync.
type Result struct {
	Type string
	Run  *store.Run
	Err  error
}

// Sync syncs each interaction type of the job in turn, a parent type before its
// children (which read the parent's stored records). A failing type does not stop
// the others; cancellation does.
func (s *Syncer) Sync(ctx context.Context, job Job) ([]Result, error) {
	types := job.Types
	if len(types) == 0 {
		types = job.Connector.InteractionTypes.Keys
	}
	for _, t := range types {
		if _, ok := job.Connector.InteractionTypes.Get(t); !ok {
			return nil, fmt.Errorf("provider %s has no interaction type %q (it has: %v)", job.Connector.Provider, t, job.Connector.InteractionTypes.Keys)
		}
	}
	types = ParentsFirst(job.Connector, types)
	var results []Result
	for i, t := range types {
		it := job.Connector.InteractionTypes.Map[t]
		run, err := s.SyncType(ctx, job, it)
		results = append(results, Result{Type: t, Run: run, Err: err})
		if ctx.Err() != nil {
			return results, ctx.Err()
		}
		if run != nil && run.ErrorClass == spec.ClassAuth {
			// The same credentials would be refused for every other type.
			for _, rest := range types[i+1:] {
				results = append(results, Result{Type: rest, Err: fmt.Errorf("skipped: the provider refused the credentials while syncing %s", t)})
			}
			break
		}
	}
	return results, nil
}

// ParentsFirst orders types so that each comes after its parent type when both are
// listed, keeping the given order otherwise.
func ParentsFirst(conn *spec.Connector, types []string) []string {
	listed := make(map[string]bool, len(types))
	for _, t := range types {
		listed[t] = true
	}
	out := make([]string, 0, len(types))
	placed := make(map[string]bool, len(types))
	var place func(t string, depth int)
	place = func(t string, depth int) {
		if placed[t] || depth > len(types) {
			return // placed already, or a cycle (the loader refuses those)
		}
		if it := conn.InteractionTypes.Map[t]; it != nil && it.Parent != nil && listed[it.Parent.Type] {
			place(it.Parent.Type, depth+1)
		}
		if !placed[t] {
			placed[t] = true
			out = append(out, t)
		}
	}
	for _, t := range types {
		place(t, 0)
	}
	return out
}

// SyncType runs one sync of one integration object.
func (s *Syncer) SyncType(ctx context.Context, job Job, it *spec.InteractionType) (*store.Run, error) {
	obj, err := s.Store.EnsureObject(ctx, job.IntegrationID, it.Name)
	if err != nil {
		return nil, err
	}
	r, err := s.newRun(job, it, obj)
	if err != nil {
		return nil, err
	}
	// The ranges to read are planned before the run starts: a stored cursor that does
	// not parse fails here, without a run.
	spans, err := r.spans()
	if err != nil {
		return nil, err
	}
	if r.id, err = s.Store.StartRun(ctx, obj); err != nil {
		return nil, err
	}
	var syncErr error
	if rs, ok := job.Client.(source.Resumable); ok {
		syncErr = r.resume(ctx, rs)
	} else if it.Parent != nil {
		syncErr = r.children(ctx)
	} else {
		syncErr = r.plain(ctx, spans)
	}
	status, class, msg := store.RunSucceeded, "", ""
	switch {
	case syncErr == nil:
	case ctx.Err() != nil:
		status, msg = store.RunCancelled, "cancelled: "+context.Cause(ctx).Error()
	default:
		status, class, msg = store.RunFailed, retrieve.Classify(syncErr), job.Client.Redact(syncErr.Error())
	}
	// Record the outcome even when ctx is cancelled: the run must not stay "running".
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	run, err := s.Store.FinishRun(fctx, r.id, obj, status, class, msg)
	if err != nil {
		return nil, errors.Join(syncErr, err)
	}
	if s.Logger != nil {
		s.Logger.Info("sync run", "integration", job.IntegrationID, "type", it.Name, "run", run.ID, "status", run.Status,
			"pages", run.Pages, "new", run.RecordsNew, "updated", run.RecordsUpdated, "unchanged", run.RecordsUnchanged,
			"quarantined", run.RecordsQuarantined, "unmatched", run.RecordsUnmatched, "deleted", run.RecordsDeleted, "duration", time.Since(r.started).Round(time.Millisecond), "error", run.Error)
	}
	if s.Alerts != nil {
		after := obj.ConsecutiveFailures // as read before the run
		switch run.Status {
		case store.RunSucceeded:
			after = 0
		case store.RunFailed:
			after++
		}
		o := alert.Outcome{IntegrationID: job.IntegrationID, CustomerID: job.CustomerID, Provider: job.Connector.Provider, Type: it.Name,
			Run: run, ConsecutiveFailures: after, PreviousFailures: obj.ConsecutiveFailures}
		if err := s.Alerts.RunFinished(ctx, o); err != nil && s.Logger != nil {
			s.Logger.Error("failure policy", "integration", job.IntegrationID, "type", it.Name, "error", err)
		}
	}
	if syncErr != nil {
		return run, fmt.Errorf("sync %s/%s: %s", job.IntegrationID, it.Name, msg)
	}
	return run, nil
}

// newRun prepares what every page of a sync uses.
func (s *Syncer) newRun(job Job, it *spec.InteractionType, obj *store.Object) (*run, error) {
	validator, err := process.NewValidator(job.Connector)
	if err != nil {
		return nil, err
	}
	r := &run{s: s, job: job, it: it, req: requestType(it), obj: obj, mapper: process.NewMapper(it), validator: validator,
		started: time.Now(), now: clientNow(job.Client).UTC()}
	if it.Deletes != nil && it.Deletes.Reconcile && it.Parent == nil {
		r.seen = map[string]bool{}
	}
	return r, nil
}
