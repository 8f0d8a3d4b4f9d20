package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/intakehq/intake/engine/process"
	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/source"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

// run is one sync of one integration object.
type run struct {
	s         *Syncer
	job       Job
	it        *spec.InteractionType
	req       *spec.InteractionType // it, with incremental.end_param among its params
	obj       *store.Object
	id        int64 // the sync run
	mapper    *process.Mapper
	validator *process.Validator
	started   time.Time // wall clock: durations, and the change time of records without a time cursor
	now       time.Time // the client's clock when the run started: the end of the range read

	// mu serializes commits (and OnPage) when a child type fetches several parents at
	// once.
	mu sync.Mutex
	// readMu guards seen and read. It is not mu: a page being mapped would wait on it
	// for the commit of the page before, which is meant to run meanwhile.
	readMu sync.Mutex
	seen   map[string]bool // deletes.reconcile of a type without parent: external ids read in this run
	read   int             // records read in this run
}

// span is one range of cursor values a sync asks for: the whole of an incremental
// sync, or one window of a sliced backfill.
type span struct {
	from  process.Cursor // inclusive lower bound; zero: everything
	to    time.Time      // the window's end (exclusive); for the last span, now
	final bool           // the last span; the others are windows that checkpoint their end
}

// plain reads the type's own request, span by span, then reconciles deletions, or
// reads a deleted-records endpoint that lists every deletion whatever the range.
func (r *run) plain(ctx context.Context, spans []span) error {
	for _, sp := range spans {
		if err := r.readSpan(ctx, sp); err != nil {
			return err
		}
	}
	if r.it.Deletes.Endpoint() != nil && !r.it.Deletes.Ranged() {
		return r.readDeletes(ctx, r.query(spans[len(spans)-1]))
	}
	if r.it.Deletes != nil && r.it.Deletes.Reconcile {
		return r.reconcile(ctx)
	}
	return nil
}

// readSpan reads every page of one span, then the deleted-records endpoint for the
// same span, and, for a window, commits the window's end as the cursor.
func (r *run) readSpan(ctx context.Context, sp span) error {
	inc := r.it.Incremental
	var committed process.Cursor
	if inc != nil {
		// plan has read it already: it parses.
		committed, _ = process.ParseCursor(r.obj.Cursor, inc.Format)
	}
	high := committed // the highest cursor value seen in this span
	// A page of a feed sorted oldest first covers everything up to its highest cursor,
	// so the cursor can commit with it. Otherwise a later page may hold older records,
	// and the cursor waits for the span to end: for the run to succeed, or for the
	// window to complete. With a deleted-records endpoint that takes the span's range
	// it waits too, until the deletions of the span are read; one that lists every
	// deletion is read once, after the last span (see plain).
	rangedDeletes := r.it.Deletes.Endpoint() != nil && r.it.Deletes.Ranged()
	perPage := inc != nil && inc.Sorted && inc.Order != spec.OrderDesc && !rangedDeletes
	q := r.query(sp)
	var (
		ov overlap
		b  batch // pages mapped and waiting to commit together (Syncer.CommitRecords)
	)
	// flush starts the commit of the pages that wait, once the one before is done.
	flush := func() error {
		pages, page, ok := b.take()
		if !ok {
			return nil
		}
		// The previous commit ran while these pages were fetched and mapped. If it
		// failed, they never commit: the cursor would pass over its records.
		if err := ov.wait(); err != nil {
			return err
		}
		ov.start(func() error { return r.commitPages(ctx, pages, page) })
		return nil
	}
	err := r.job.Client.Pages(ctx, r.req, q, func(pg retrieve.Page) error {
		out, err := r.page(ctx, pg, sp.from, nil, nil)
		if err != nil {
			return err
		}
		out.page.Prepare(r.job.Connector.Provider)
		page := out.page
		if out.high.After(high) {
			high = out.high
		}
		if inc != nil && high.After(committed) {
			if perPage {
				page.Cursor = high.String()
				committed = high
			} else {
				page.PendingCursor = high.String()
			}
		}
		r.markSeen(out.seen)
		b.add(pg, page, r.s.CommitRecords)
		if out.stop || r.due(&b) {
			if err := flush(); err != nil {
				return err
			}
		}
		if out.stop {
			// Newest first: the rest is older than the cursor, read by earlier syncs.
			return retrieve.ErrStopPaging
		}
		return nil
	})
	// The pages that wait were read whole: they commit whatever ended the paging, as
	// the page before a failure always has.
	if ferr := flush(); ferr != nil {
		err = ferr // a failed commit, which came first
	}
	if err := ov.finish(err); err != nil {
		return err
	}
	if rangedDeletes {
		if err := r.readDeletes(ctx, q); err != nil {
			return err
		}
	}
	if sp.final {
		return nil // the pending cursor commits when the run succeeds
	}
	// Everything before the window's end has been read (and, for a sorted feed whose
	// API ignored the end, possibly more): resume from there.
	end := process.TimeCursor(sp.to)
	if committed.After(end) {
		end = committed
	}
	return r.s.Store.Checkpoint(ctx, r.id, r.obj, end.String())
}

// query is what a span asks of the provider: the cursor to send and .window.
func (r *run) query(sp span) retrieve.Query {
	inc := r.it.Incremental
	if inc == nil {
		return retrieve.Query{}
	}
	from := sp.from.Send(inc)
	var end any
	if !inc.IsInteger() {
		end = spec.FormatTime(sp.to, inc.Format)
	}
	return retrieve.Query{Cursor: from, Vars: map[string]any{"window": map[string]any{"start": from, "end": end}}}
}

// parentRecord is the parent a child type's page was fetched for.
type parentRecord struct {
	id     int64           // row id
	fields []process.Field // parent.fields, evaluated over it
	err    error           // why they could not be: each child is quarantined
}

// mapped is one page of records mapped for a commit.
type mapped struct {
	page store.Page
	high process.Cursor // the highest cursor value among the records read (stored, or skipped by the filter)
	stop bool           // a newest-first feed has gone past the span's lower bound
	seen []string       // the external ids of the records read, for reconcile
}

// page maps one page of records into what a commit stores. from is the span's lower
// bound, below which client_side and newest-first types drop records. parent is set
// for a child type; batch for a resumable source (where each record came from, and
// the rows it could not read).
func (r *run) page(ctx context.Context, pg retrieve.Page, from process.Cursor, parent *parentRecord, batch *source.Batch) (out mapped, err error) {
	inc := r.it.Incremental
	page := &out.page
	page.Records = make([]store.Record, 0, len(pg.Records))
	if batch == nil {
		batch = &source.Batch{}
	}
	page.Quarantined = batch.Rejected
	dropOlder := inc != nil && (inc.ClientSide || inc.Order == spec.OrderDesc) && !from.IsZero()
	var (
		seen       []string
		high       process.Cursor
		extra      []process.Field
		parentID   int64
		parentErr  error
		collectIDs = r.it.Deletes != nil && r.it.Deletes.Reconcile
	)
	if parent != nil {
		extra, parentID, parentErr = parent.fields, parent.id, parent.err
	}
	for i, raw := range pg.Records {
		keep, err := r.mapper.Keep(ctx, raw)
		if err == nil && !keep {
			// Skipped, but seen: the cursor still moves past it.
			page.Filtered++
			if c, cerr := r.mapper.Cursor(ctx, raw); cerr == nil && c.After(high) {
				high = c
			}
			if collectIDs {
				if ext, ierr := r.mapper.ID(ctx, raw); ierr == nil {
					seen = append(seen, ext)
				}
			}
			continue
		}
		if err == nil && dropOlder {
			if c, cerr := r.mapper.Cursor(ctx, raw); cerr == nil && c.Before(from) {
				// Older than the cursor: an earlier sync read it.
				page.Filtered++
				if inc.Order == spec.OrderDesc {
					out.stop = true
				}
				continue
			}
		}
		var m *process.Mapped
		if err == nil && parentErr != nil {
			err = &process.RecordError{Reason: parentErr.Error()}
		}
		if err == nil {
			m, err = r.mapper.MapChild(ctx, raw, extra)
		}
		if err != nil {
			var re *process.RecordError
			if !errors.As(err, &re) {
				return out, err
			}
			q := store.Quarantined{ExternalID: re.ExternalID, Reason: batch.At(i, r.job.Client.Redact(re.Reason))}
			if q.ExternalID == "" {
				q.ExternalID, _ = r.mapper.ID(ctx, raw)
			}
			q.Raw, _ = json.Marshal(raw)
			page.Quarantined = append(page.Quarantined, q)
			if q.ExternalID != "" {
				seen = append(seen, q.ExternalID) // it exists at the source, whatever is wrong with it
			}
			continue
		}
		seen = append(seen, m.ExternalID)
		if verr := r.validator.CheckValue(r.it.Kind, m.Doc); verr != nil {
			reason := batch.At(i, r.job.Client.Redact(verr.Error()))
			if r.it.Strict {
				// Nothing of this page is committed; the run fails.
				return out, &retrieve.ClassError{Class: spec.ClassBadData, Err: fmt.Errorf("%s: page %d: record %s does not match kind %s (strict): %s", r.it.Name, pg.Number, m.ExternalID, r.it.Kind, reason)}
			}
			// Like an unmappable record, it does not move the cursor.
			page.Quarantined = append(page.Quarantined, store.Quarantined{ExternalID: m.ExternalID, Reason: reason, Raw: m.Raw})
			continue
		}
		keys, err := r.mapper.Keys(ctx, m, r.started)
		var refs []store.Ref
		if err == nil {
			refs, err = r.mapper.Refs(ctx, m)
		}
		if err != nil {
			page.Quarantined = append(page.Quarantined, store.Quarantined{ExternalID: m.ExternalID, Reason: batch.At(i, r.job.Client.Redact(err.Error())), Raw: m.Raw})
			continue
		}
		rec := store.Record{ExternalID: m.ExternalID, Kind: r.it.Kind, Data: m.Data, Raw: m.Raw, Hash: m.Hash, Match: keys, Refs: refs, Deleted: m.Deleted, ParentID: parentID}
		if !m.Cursor.IsZero() {
			rec.SourceUpdatedAt = m.Cursor.Format(time.RFC3339Nano)
		}
		if m.CursorValue.After(high) {
			high = m.CursorValue
		}
		page.Records = append(page.Records, rec)
	}
	r.readMu.Lock()
	r.read += len(pg.Records)
	r.readMu.Unlock()
	out.high, out.seen = high, seen
	return out, nil
}

// markSeen notes the external ids a page read, for deletes.reconcile.
func (r *run) markSeen(ids []string) {
	if r.seen == nil {
		return
	}
	r.readMu.Lock()
	for _, ext := range ids {
		r.seen[ext] = true
	}
	r.readMu.Unlock()
}

// overlap commits one page on a goroutine of its own while the caller fetches and
// maps the next: the store and the network then work at once, where one waited for
// the other (on two cores, a sync of 1,000-record pages spent two thirds of its time
// committing). Commits still run one at a time and in page order, each waited for
// before the next starts, so a page commits only after the one before it did; what
// a crash loses is at most the pages not yet committed, read again from the stored
// cursor as before.
type overlap struct {
	pending chan error
}

// start begins a commit; the one before it must have been waited for.
func (o *overlap) start(commit func() error) {
	ch := make(chan error, 1)
	o.pending = ch
	go func() { ch <- commit() }()
}

// wait returns the result of the commit in flight, if any.
func (o *overlap) wait() error {
	if o.pending == nil {
		return nil
	}
	err := <-o.pending
	o.pending = nil
	return err
}

// finish waits for the last commit when paging has ended, with err or without. A
// failed commit is reported over err: it came first, and err may be its consequence.
func (o *overlap) finish(err error) error {
	if cerr := o.wait(); cerr != nil {
		return cerr
	}
	return err
}

// batch is pages mapped and waiting to commit together.
type batch struct {
	pages   []pageRead // for OnPage; not the records, which the page holds mapped
	page    store.Page // what they commit
	records int        // records read
	since   time.Time  // when the first arrived
}

// pageRead is what OnPage reports of a page read: of the parts of one response that
// commit together, one page.
type pageRead struct{ number, records int }

func (b *batch) add(pg retrieve.Page, page store.Page, room int) {
	if len(b.pages) == 0 {
		b.page, b.since = page, time.Now()
	} else {
		// When a second page joins, room at once for the pages that will (room
		// records): grown a part at a time, a batch of parts of 100 allocated three
		// times its records. Not for pages far smaller than room (a parent's few
		// children), which may never fill it.
		if len(b.pages) == 1 && room > cap(b.page.Records) && 10*len(b.page.Records) >= room {
			b.page.Records = slices.Grow(b.page.Records, room-len(b.page.Records))
		}
		b.page.Merge(page)
	}
	if n := len(b.pages); n > 0 && b.pages[n-1].number == pg.Number {
		b.pages[n-1].records += len(pg.Records) // the next part of the same response
	} else {
		b.pages = append(b.pages, pageRead{pg.Number, len(pg.Records)})
	}
	b.page.Pages = len(b.pages)
	b.records += len(pg.Records)
}

// take hands over the pages that wait and empties the batch; false when none wait.
func (b *batch) take() ([]pageRead, store.Page, bool) {
	pages, page := b.pages, b.page
	*b = batch{}
	return pages, page, len(pages) > 0
}

// due reports whether the pages that wait should commit now: they have read
// Syncer.CommitRecords records, or the first has waited CommitWait, or CommitNow says
// so. A CommitRecords of 0 or 1 commits each page.
func (r *run) due(b *batch) bool {
	s := r.s
	wait := s.CommitWait
	if wait <= 0 {
		wait = DefaultCommitWait
	}
	return s.CommitRecords <= 1 || b.records >= s.CommitRecords || time.Since(b.since) >= wait ||
		(s.CommitNow != nil && s.CommitNow())
}

// commitPages stores pages read one after another, merged into page, in one
// commit, and reports each of them. Commits are serialized: the pages of parents
// fetched at once commit one at a time.
func (r *run) commitPages(ctx context.Context, pages []pageRead, page store.Page) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	res, err := r.s.Store.CommitPage(ctx, r.id, r.obj, page)
	if err != nil {
		return err
	}
	if r.s.OnPage != nil {
		for i, pg := range pages {
			ev := PageEvent{Integration: r.job.IntegrationID, Type: r.it.Name, Page: pg.number, Records: pg.records, Cursor: r.obj.Cursor}
			if i == len(pages)-1 {
				ev.Result = res
			}
			r.s.OnPage(ev)
		}
	}
	return nil
}

// commit stores a page and reports it.
func (r *run) commit(ctx context.Context, pg retrieve.Page, page store.Page) error {
	return r.commitPages(ctx, []pageRead{{pg.Number, len(pg.Records)}}, page)
}

// resume reads a source that keeps its own position (a SQL table, files) from the
// stored cursor; each batch commits with the position it carries, so an interrupted
// sync resumes after its last committed page.
func (r *run) resume(ctx context.Context, rs source.Resumable) error {
	committed := r.obj.Cursor
	var ov overlap
	err := rs.Resume(ctx, r.it, committed, func(b source.Batch) error {
		out, err := r.page(ctx, b.Page, process.Cursor{}, nil, &b)
		if err != nil {
			return err
		}
		out.page.Prepare(r.job.Connector.Provider)
		if err := ov.wait(); err != nil {
			return err
		}
		page := out.page
		if b.Cursor != "" && b.Cursor != committed {
			// A resumable source's position covers everything before it.
			page.Cursor, committed = b.Cursor, b.Cursor
		}
		r.markSeen(out.seen)
		ov.start(func() error { return r.commit(ctx, b.Page, page) })
		return nil
	})
	if err := ov.finish(err); err != nil {
		return err
	}
	if r.it.Deletes != nil && r.it.Deletes.Reconcile {
		return r.reconcile(ctx)
	}
	return nil
}

// checkpoint commits a cursor on its own, serialized with the page commits.
func (r *run) checkpoint(ctx context.Context, cursor string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.s.Store.Checkpoint(ctx, r.id, r.obj, cursor)
}

// readDeletes reads the deleted-records endpoint with the span's query and marks the
// records it lists deleted.
func (r *run) readDeletes(ctx context.Context, q retrieve.Query) error {
	ep := r.it.Deletes.Endpoint()
	return r.job.Client.Pages(ctx, ep, q, func(pg retrieve.Page) error {
		var page store.Page
		for _, raw := range pg.Records {
			ext, err := r.mapper.DeletedID(ctx, raw)
			if err != nil {
				q := store.Quarantined{Reason: r.job.Client.Redact(err.Error())}
				q.Raw, _ = json.Marshal(raw)
				page.Quarantined = append(page.Quarantined, q)
				continue
			}
			page.Deletes = append(page.Deletes, ext)
		}
		return r.commit(ctx, pg, page)
	})
}

// reconcile marks deleted the stored records this full sync did not see. A sync that
// read no record at all reconciles nothing: an empty answer is far more often a
// provider glitch than every record deleted at once.
func (r *run) reconcile(ctx context.Context) error {
	if r.read == 0 {
		if r.s.Logger != nil {
			r.s.Logger.Warn("reconcile skipped: the sync read no records", "integration", r.job.IntegrationID, "type", r.it.Name, "run", r.id)
		}
		return nil
	}
	_, err := r.s.Store.ReconcileDeletes(ctx, r.id, r.obj, func(ext string) bool { return r.seen[ext] })
	return err
}

// requestType is it with incremental.end_param added to its request params, so the
// paginator sends it with the first request like any param.
func requestType(it *spec.InteractionType) *spec.InteractionType {
	inc := it.Incremental
	if inc == nil || inc.EndParamTemplate() == nil {
		return it
	}
	cp := *it
	params := spec.Ordered[*spec.Template]{Keys: append([]string(nil), it.Request.Params.Keys...), Map: make(map[string]*spec.Template, it.Request.Params.Len()+1)}
	for k, v := range it.Request.Params.Map {
		params.Map[k] = v
	}
	params.Set(inc.EndParam, inc.EndParamTemplate())
	cp.Request.Params = params
	return &cp
}
