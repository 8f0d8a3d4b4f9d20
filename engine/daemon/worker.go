package daemon

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/intakehq/intake/engine/auth"
	"github.com/intakehq/intake/engine/pipeline"
	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

// work syncs one claimed integration: the due interaction types, one after the
// other, under the integration's lease, renewed by heartbeats. It returns when they
// are done, when the daemon drains (after the page in flight), or when the lease is
// lost.
func (d *Daemon) work(c *store.Claim) {
	rt := d.runtime()
	log := d.log.With("integration", c.IntegrationID, "customer", c.CustomerID, "provider", c.Provider)
	d.metrics.leases.Inc()
	defer d.metrics.leases.Dec()

	ctx, cancel := context.WithCancelCause(d.jobCtx)
	defer cancel(nil)
	beats := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		d.heartbeat(ctx, c, rt.cfg.Lease.Heartbeat.D(), rt.cfg.Lease.Duration.D(), cancel, beats)
	}()
	stopBeats := sync.OnceFunc(func() {
		close(beats)
		<-stopped
	})
	release := true
	defer func() {
		stopBeats()
		if !release || errors.Is(context.Cause(ctx), store.ErrLeaseLost) {
			return
		}
		rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer rcancel()
		if err := d.db.ReleaseLease(rctx, c.IntegrationID, d.owner); err != nil {
			log.Error("release lease", "error", err)
		}
	}()

	opts := retrieve.Options{Logger: log, Owner: d.owner, Transport: d.opts.Transport, Trace: d.metrics.trace(c.Provider), PartSize: pipeline.DefaultPartSize}
	job, err := pipeline.LoadJob(ctx, &tokenCounter{Store: d.db, refreshes: d.metrics.refreshes.WithLabelValues(c.Provider)}, rt.catalog, d.box, c.IntegrationID, opts)
	var oerr *spec.OverrideError
	switch {
	case errors.As(err, &oerr):
		// A bad override stops this integration only, loudly, as intake sync does.
		log.Error("integration refused", "error", err)
		if perr := rt.alerts.Rejected(ctx, c.IntegrationID, err); perr != nil {
			log.Error("failure policy", "error", perr)
		}
		return
	case err != nil:
		if ctx.Err() != nil {
			return
		}
		if st, serr := d.db.IntegrationState(ctx, c.IntegrationID); serr != nil || st.Status != store.StatusEnabled {
			return // disabled or deleted since it was claimed
		}
		// Its connector, key or credentials cannot be loaded: nothing to sync until
		// an operator fixes that. The lease is kept as a hold until retry_max from now
		// (a reload, a sync-now or enabling it lifts it earlier).
		hold := rt.cfg.Schedule.RetryMax.D()
		log.Error("integration cannot be loaded; retrying later", "error", err, "retry_in", hold)
		stopBeats() // a heartbeat must not shorten the hold
		if ok, herr := d.db.RenewLease(context.WithoutCancel(ctx), c.IntegrationID, d.owner, hold); herr == nil && ok {
			release = false
			d.holdMu.Lock()
			d.holds[c.IntegrationID] = true
			d.holdMu.Unlock()
		}
		return
	}
	objs, err := d.reconcileIntegration(ctx, rt, c.IntegrationID, job.Connector, false)
	if err != nil {
		if ctx.Err() == nil {
			log.Error("schedule integration objects", "error", err)
		}
		return
	}
	now := d.clock.Now()
	byType := map[string]*store.Object{}
	for _, o := range objs {
		byType[o.Type] = o
	}
	var due []*spec.InteractionType
	for _, name := range job.Connector.InteractionTypes.Keys {
		if o := byType[name]; o != nil && !o.NextDueAt.After(now) {
			due = append(due, job.Connector.InteractionTypes.Map[name])
		}
	}
	syncer := &pipeline.Syncer{
		Store:         store.Leased{Store: d.db, Owner: d.owner},
		CommitRecords: pipeline.DefaultCommitRecords,
		CommitNow:     d.draining.Load,
		// Its "sync run" line names the integration and type itself.
		Logger: d.log.With("customer", c.CustomerID, "provider", c.Provider),
		Alerts: rt.alerts,
		OnPage: func(ev pipeline.PageEvent) {
			d.metrics.page(c.Provider, ev)
			if d.draining.Load() {
				// The page just committed with its cursor: a clean place to stop.
				cancel(errDraining)
			}
		},
	}
	for _, it := range due {
		if d.draining.Load() || ctx.Err() != nil {
			return // the rest stays due, for whichever daemon runs next
		}
		run, err := syncer.SyncType(ctx, job, it)
		d.finished(ctx, rt, c, it, run, err)
		if errors.Is(err, store.ErrLeaseLost) || errors.Is(context.Cause(ctx), store.ErrLeaseLost) {
			log.Warn("lease lost; another daemon continues this integration", "type", it.Name)
			return
		}
		if run != nil && run.ErrorClass == spec.ClassAuth {
			return // the same credentials would be refused for every other type
		}
	}
}

// finished records a run's metrics and schedules the object's next run.
func (d *Daemon) finished(ctx context.Context, rt *runtime, c *store.Claim, it *spec.InteractionType, run *store.Run, err error) {
	if d.opts.OnRun != nil {
		d.opts.OnRun(RunEvent{IntegrationID: c.IntegrationID, CustomerID: c.CustomerID, Provider: c.Provider, Type: it.Name, Run: run, Err: err})
	}
	if run == nil {
		return
	}
	d.metrics.run(c.Provider, it.Name, run)
	if run.Status == store.RunCancelled {
		return // still due: it resumes from its committed cursor
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	obj, oerr := d.db.EnsureObject(wctx, c.IntegrationID, it.Name)
	if oerr != nil {
		d.log.Error("schedule next run", "integration", c.IntegrationID, "type", it.Name, "error", oerr)
		return
	}
	next := rt.policy.NextDue(obj, rt.policy.Frequency(it), d.clock.Now())
	if serr := d.db.ScheduleObject(wctx, obj.ID, d.owner, run.StartedAt, next); serr != nil && !errors.Is(serr, store.ErrLeaseLost) {
		d.log.Error("schedule next run", "integration", c.IntegrationID, "type", it.Name, "error", serr)
	}
}

// heartbeat renews the lease every interval until beats is closed; when the lease is
// lost (this daemon stalled past its expiry and another took over) it cancels the
// sync at once, and the store refuses anything it would still write.
func (d *Daemon) heartbeat(ctx context.Context, c *store.Claim, every, ttl time.Duration, cancel context.CancelCauseFunc, beats <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-beats:
			return
		case <-t.C:
		}
		// A beat may wait for the page commit in progress (SQLite's one connection; on
		// PostgreSQL the commit's FOR SHARE lock on the integration's row), up to what is
		// left of the lease after one more interval: giving up after one interval made
		// syncs whose pages take longer than a beat to commit lose their lease to their
		// own commits (docs/chaos.md). every is at most ttl/2, so this is at least every.
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), max(every, ttl-every))
		ok, err := d.db.RenewLease(rctx, c.IntegrationID, d.owner, ttl)
		rcancel()
		switch {
		case err != nil:
			// The database is unreachable: the lease runs out unless a later beat
			// succeeds, and then the store's checks stop the sync.
			d.log.Warn("lease heartbeat failed", "integration", c.IntegrationID, "error", err)
		case !ok:
			d.log.Warn("lease lost", "integration", c.IntegrationID)
			cancel(store.ErrLeaseLost)
			return
		}
	}
}

// reconcileIntegration brings an integration's objects in line with its effective
// spec: it creates the missing ones, retires those whose type is gone (Never), and
// schedules those that are not (NULL or Never while their type exists). With all set
// (start and reload) it also recomputes every object's due time, since frequencies
// may have changed, except for objects with a pending sync-now request.
func (d *Daemon) reconcileIntegration(ctx context.Context, rt *runtime, id string, conn *spec.Connector, all bool) ([]*store.Object, error) {
	if err := d.db.EnsureObjects(ctx, id, conn.InteractionTypes.Keys); err != nil {
		return nil, err
	}
	objs, err := d.db.Objects(ctx, id)
	if err != nil {
		return nil, err
	}
	now := d.clock.Now()
	for _, o := range objs {
		want, change := rt.dueChange(conn, o, now, all)
		if !change {
			continue
		}
		ok, err := d.db.SetNextDue(ctx, o.ID, o.NextDueAt, want)
		if err != nil {
			return nil, err
		}
		if ok {
			o.NextDueAt = want
		}
	}
	return objs, nil
}

// dueChange is the due time reconciling o with conn gives it, and whether that
// changes it (see reconcileIntegration).
func (rt *runtime) dueChange(conn *spec.Connector, o *store.Object, now time.Time, all bool) (time.Time, bool) {
	it, known := conn.InteractionTypes.Get(o.Type)
	want := store.Never
	switch {
	case !known:
	case o.NextDueAt.IsZero() || o.NextDueAt.Equal(store.Never) || all && o.SyncRequestedAt.IsZero():
		want = rt.policy.NextDue(o, rt.policy.Frequency(it), now)
	default:
		return time.Time{}, false
	}
	want = want.Truncate(time.Millisecond)
	return want, !o.NextDueAt.Equal(want)
}

// reconcileAll reconciles every enabled integration (at start and after a reload).
// It reads them all in two queries (store.EachEnabledIntegration) and writes only
// what changed, in batches: at 100,000 objects a query or more per integration made
// a start take tens of seconds (docs/scheduler-scale.md). Missing objects (a new
// integration, a type added to the spec) are created due now, as
// reconcileIntegration schedules an object that never ran.
func (d *Daemon) reconcileAll(ctx context.Context, rt *runtime) error {
	type effective struct {
		conn *spec.Connector
		err  error
	}
	// Integrations of one customer and provider, without an attached override, share
	// their effective spec.
	specs := map[[2]string]effective{}
	var changes []store.NextDue
	var missing []store.ObjectKey
	now := d.clock.Now()
	err := d.db.EachEnabledIntegration(ctx, func(in *store.ScheduledIntegration) error {
		key := [2]string{in.CustomerID, in.Provider}
		e, ok := specs[key]
		if !ok || in.Override != "" {
			e.conn, _, e.err = rt.catalog.Effective(in.CustomerID, in.Provider, in.Override, "integration "+in.ID+" override")
			if in.Override == "" {
				specs[key] = e
			}
		}
		if e.err != nil {
			return nil // reported when a worker claims it
		}
		have := make(map[string]bool, len(in.Objects))
		for _, o := range in.Objects {
			have[o.Type] = true
			if want, change := rt.dueChange(e.conn, o, now, true); change {
				changes = append(changes, store.NextDue{ObjectID: o.ID, Old: o.NextDueAt, Next: want})
			}
		}
		for _, t := range e.conn.InteractionTypes.Keys {
			if !have[t] {
				missing = append(missing, store.ObjectKey{IntegrationID: in.ID, Type: t})
			}
		}
		return ctx.Err()
	})
	if err != nil {
		return err
	}
	if err := d.db.EnsureObjectsOf(ctx, missing, now.Truncate(time.Millisecond)); err != nil {
		return err
	}
	_, err = d.db.SetNextDues(ctx, changes)
	return err
}

// releaseHolds lifts the holds on integrations that could not be loaded, so that
// they are tried again now (after a reload, or on request).
func (d *Daemon) releaseHolds(ctx context.Context, ids ...string) {
	d.holdMu.Lock()
	if len(ids) == 0 {
		for id := range d.holds {
			ids = append(ids, id)
		}
	}
	var lift []string
	for _, id := range ids {
		if d.holds[id] {
			lift = append(lift, id)
			delete(d.holds, id)
		}
	}
	d.holdMu.Unlock()
	slices.Sort(lift)
	for _, id := range lift {
		if err := d.db.ReleaseLease(ctx, id, d.owner); err != nil {
			d.log.Warn("release hold", "integration", id, "error", err)
		}
	}
}

// tokenCounter counts token refreshes (each saves new credentials) for metrics.
type tokenCounter struct {
	*store.Store
	refreshes interface{ Inc() }
}

func (t *tokenCounter) SaveCredentials(ctx context.Context, id string, creds map[string]any, expect int64, owner string, box *secret.Box) (int64, error) {
	v, err := t.Store.SaveCredentials(ctx, id, creds, expect, owner, box)
	if err == nil {
		t.refreshes.Inc()
	}
	return v, err
}

var _ auth.TokenDB = (*tokenCounter)(nil)

func statusLabel(code int, errText string) string {
	if errText != "" || code == 0 {
		return "error"
	}
	return strconv.Itoa(code)
}
