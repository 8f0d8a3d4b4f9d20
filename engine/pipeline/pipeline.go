// Package pipeline runs one sync of an integration: for each interaction type it
// retrieves pages, maps their records and commits each page with the cursor that
// covers it, so an interrupted sync loses nothing and duplicates nothing.
package pipeline

import (
	"context"
	"encoding/json"
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
	FinishRun(ctx context.Context, runID int64, obj *store.Object, status, class, errMsg string) (*store.Run, error)
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

// Syncer runs syncs.
type Syncer struct {
	Store  Store
	Logger *slog.Logger
	// OnPage, when set, is called after each committed page.
	OnPage func(PageEvent)
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

// Sync syncs each interaction type of the job in turn. A failing type does not stop
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

// SyncType runs one sync of one integration object.
func (s *Syncer) SyncType(ctx context.Context, job Job, it *spec.InteractionType) (*store.Run, error) {
	obj, err := s.Store.EnsureObject(ctx, job.IntegrationID, it.Name)
	if err != nil {
		return nil, err
	}
	since, err := startingPoint(obj, it)
	if err != nil {
		return nil, err
	}
	validator, err := process.NewValidator(job.Connector)
	if err != nil {
		return nil, err
	}
	runID, err := s.Store.StartRun(ctx, obj)
	if err != nil {
		return nil, err
	}
	started := time.Now()
	mapper := process.NewMapper(it)
	committed := obj.Cursor
	var high time.Time // highest cursor value seen in this run
	if committed != "" {
		high, _ = time.Parse(time.RFC3339Nano, committed)
	}
	var batch source.Batch // what a resumable source said about the page in hand
	handle := func(pg retrieve.Page) error {
		page := store.Page{Records: make([]store.Record, 0, len(pg.Records)), Quarantined: batch.Rejected}
		for i, raw := range pg.Records {
			keep, err := mapper.Keep(ctx, raw)
			if err == nil && !keep {
				// Skipped, but seen: the cursor still moves past it.
				page.Filtered++
				if t, cerr := mapper.Cursor(ctx, raw); cerr == nil && t.After(high) {
					high = t
				}
				continue
			}
			var m *process.Mapped
			if err == nil {
				m, err = mapper.Map(ctx, raw)
			}
			if err != nil {
				var re *process.RecordError
				if !errors.As(err, &re) {
					return err
				}
				q := store.Quarantined{ExternalID: re.ExternalID, Reason: batch.At(i, job.Client.Redact(re.Reason))}
				q.Raw, _ = json.Marshal(raw)
				page.Quarantined = append(page.Quarantined, q)
				continue
			}
			if verr := validator.CheckValue(it.Kind, m.Doc); verr != nil {
				reason := batch.At(i, job.Client.Redact(verr.Error()))
				if it.Strict {
					// Nothing of this page is committed; the run fails.
					return &retrieve.ClassError{Class: spec.ClassBadData, Err: fmt.Errorf("%s: page %d: record %s does not match kind %s (strict): %s", it.Name, pg.Number, m.ExternalID, it.Kind, reason)}
				}
				// Like an unmappable record, it does not move the cursor.
				page.Quarantined = append(page.Quarantined, store.Quarantined{ExternalID: m.ExternalID, Reason: reason, Raw: m.Raw})
				continue
			}
			keys, err := mapper.Keys(ctx, m, started)
			var refs []store.Ref
			if err == nil {
				refs, err = mapper.Refs(ctx, m)
			}
			if err != nil {
				page.Quarantined = append(page.Quarantined, store.Quarantined{ExternalID: m.ExternalID, Reason: batch.At(i, job.Client.Redact(err.Error())), Raw: m.Raw})
				continue
			}
			rec := store.Record{ExternalID: m.ExternalID, Kind: it.Kind, Data: m.Data, Raw: m.Raw, Hash: m.Hash, Match: keys, Refs: refs}
			if !m.Cursor.IsZero() {
				rec.SourceUpdatedAt = m.Cursor.Format(time.RFC3339Nano)
				if m.Cursor.After(high) {
					high = m.Cursor
				}
			}
			page.Records = append(page.Records, rec)
		}
		if it.Incremental != nil && !high.IsZero() {
			c := high.Format(time.RFC3339Nano)
			if c != committed {
				// A sorted feed's page covers everything up to its highest cursor, so the
				// cursor can commit with it; otherwise a later page may hold older
				// records, and the cursor waits for the run to succeed.
				if it.Incremental.Sorted {
					page.Cursor = c
					committed = c
				} else {
					page.PendingCursor = c
				}
			}
		}
		if batch.Cursor != "" && batch.Cursor != committed {
			// A resumable source's position covers everything before it.
			page.Cursor, committed = batch.Cursor, batch.Cursor
		}
		res, err := s.Store.CommitPage(ctx, runID, obj, page)
		if err != nil {
			return err
		}
		if s.OnPage != nil {
			s.OnPage(PageEvent{Integration: job.IntegrationID, Type: it.Name, Page: pg.Number, Records: len(pg.Records), Result: res, Cursor: committed})
		}
		return nil
	}
	var syncErr error
	if rs, ok := job.Client.(source.Resumable); ok {
		syncErr = rs.Resume(ctx, it, obj.Cursor, func(b source.Batch) error {
			batch = b
			return handle(b.Page)
		})
	} else {
		syncErr = job.Client.Pages(ctx, it, retrieve.Since(it, since), handle)
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
	run, err := s.Store.FinishRun(fctx, runID, obj, status, class, msg)
	if err != nil {
		return nil, errors.Join(syncErr, err)
	}
	if s.Logger != nil {
		s.Logger.Info("sync run", "integration", job.IntegrationID, "type", it.Name, "run", run.ID, "status", run.Status,
			"pages", run.Pages, "new", run.RecordsNew, "updated", run.RecordsUpdated, "unchanged", run.RecordsUnchanged,
			"quarantined", run.RecordsQuarantined, "unmatched", run.RecordsUnmatched, "duration", time.Since(started).Round(time.Millisecond), "error", run.Error)
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

// startingPoint is the cursor to send: the committed cursor less the lookback, else the
// spec's start, else nothing (a full read).
func startingPoint(obj *store.Object, it *spec.InteractionType) (*time.Time, error) {
	inc := it.Incremental
	if inc == nil {
		return nil, nil
	}
	if obj.Cursor != "" {
		t, err := time.Parse(time.RFC3339Nano, obj.Cursor)
		if err != nil {
			return nil, fmt.Errorf("stored cursor %q of %s/%s is not a timestamp: %w", obj.Cursor, obj.IntegrationID, obj.Type, err)
		}
		t = t.Add(-inc.Lookback.D())
		if st, ok := inc.StartTime(); ok && t.Before(st) {
			t = st
		}
		return &t, nil
	}
	if st, ok := inc.StartTime(); ok {
		return &st, nil
	}
	return nil, nil
}
