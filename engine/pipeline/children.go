package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/intakehq/intake/engine/process"
	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/store"
)

// A child type (spec key parent) fetches, for each parent record, every page of its
// own request with the parent's raw record as .parent. The parents come from the
// store, where the parent type's sync put them, every page of them:
//
//   - the first sync of the child visits every stored parent, by row id;
//   - later syncs visit only the parents the change feed shows changed (inserted,
//     updated, deleted) since the last successful one, in the order of their latest
//     change.
//
// Its cursor (childCursor, JSON in integration_objects.cursor) says how far it got, and
// is committed each time the parents visited so far, in order, are all done, so a
// crash resumes at the first parent not finished. Parents are fetched
// parent.concurrency at a time; their pages commit one at a time.

// childCursor is a child type's cursor.
type childCursor struct {
	// Changes: every change of the parent type up to this position of the change feed
	// has been handled (its parent's children fetched).
	Changes int64 `json:"parent_changes"`
	// ScanAfter, while a first sync is under way: the parents up to this row id are
	// done; Changes is where the feed stood when that sync started.
	ScanAfter int64 `json:"parent_scan_after,omitempty"`
}

func (c childCursor) String() string {
	b, _ := json.Marshal(c)
	return string(b)
}

// parseChildCursor reads a stored child cursor; ok is false when there is none yet.
func parseChildCursor(s string) (c childCursor, ok bool, err error) {
	if s == "" {
		return c, false, nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, false, fmt.Errorf("stored cursor %q is not a child type's cursor: %w", s, err)
	}
	return c, true, nil
}

// parentJob is one parent to fetch the children of, with the cursor that holds once
// it and every parent before it are done.
type parentJob struct {
	n      int // position in the visiting order
	ref    store.ParentRef
	cursor childCursor
}

// scanBatch is how many parent ids one query of a first sync reads.
const scanBatch = 500

func (r *run) children(ctx context.Context) error {
	pa := r.it.Parent
	st := r.s.Store
	cur, started, err := parseChildCursor(r.obj.Cursor)
	if err != nil {
		return fmt.Errorf("%s/%s: %w; to fetch every parent's children again, run intake integrations resync %s --type %s", r.obj.IntegrationID, r.obj.Type, err, r.obj.IntegrationID, r.obj.Type)
	}
	parentObj, err := st.EnsureObject(ctx, r.job.IntegrationID, pa.Type)
	if err != nil {
		return err
	}
	scanning := !started || cur.ScanAfter > 0
	upto := cur.Changes
	if !scanning || !started {
		// Changes after this position are left to the next sync.
		if upto, err = st.LastChange(ctx); err != nil {
			return err
		}
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan parentJob)
	tr := &tracker{r: r, done: map[int]childCursor{}}
	var wg sync.WaitGroup
	for range pa.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := r.fetchChildren(ctx, j.ref); err != nil {
					cancel(err)
					return
				}
				if err := tr.finished(ctx, j); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	send := func(j parentJob) bool {
		select {
		case jobs <- j:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var produceErr error
	n := 0
	if scanning {
		after := cur.ScanAfter
	scan:
		for {
			refs, err := st.ScanInteractions(ctx, parentObj.ID, after, scanBatch)
			if err != nil {
				produceErr = err
				break
			}
			for _, ref := range refs {
				if !send(parentJob{n: n, ref: ref, cursor: childCursor{Changes: upto, ScanAfter: ref.ID}}) {
					break scan
				}
				n++
				after = ref.ID
			}
			if len(refs) < scanBatch {
				break
			}
		}
	} else {
		refs, err := st.ChangedInteractions(ctx, r.job.IntegrationID, pa.Type, cur.Changes, upto)
		if err != nil {
			produceErr = err
		}
		for _, ref := range refs {
			if !send(parentJob{n: n, ref: ref, cursor: childCursor{Changes: ref.Seq}}) {
				break
			}
			n++
		}
	}
	close(jobs)
	wg.Wait()
	if produceErr != nil {
		cancel(produceErr)
	}
	if err := context.Cause(ctx); err != nil {
		return err
	}
	// Every parent is done: the next sync starts after the changes seen at the start.
	return r.checkpoint(ctx, childCursor{Changes: upto}.String())
}

// fetchChildren fetches and commits every page of children of one parent.
func (r *run) fetchChildren(ctx context.Context, ref store.ParentRef) error {
	rec, err := r.s.Store.InteractionRecord(ctx, ref.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // gone since it was listed
	}
	if err != nil {
		return err
	}
	reconcile := r.it.Deletes != nil && r.it.Deletes.Reconcile
	if rec.Deleted {
		// Deleted at the source: it has no children to fetch any more, and with
		// reconcile, the children it had are gone with it.
		if reconcile {
			return r.reconcileChildren(ctx, rec.ID, func(string) bool { return false })
		}
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(rec.Raw))
	dec.UseNumber()
	var parent any
	if err := dec.Decode(&parent); err != nil {
		return fmt.Errorf("%s %s: stored raw record: %w", r.it.Parent.Type, rec.ExternalID, err)
	}
	pr := &parentRecord{id: rec.ID}
	pr.fields, pr.err = r.mapper.ParentFields(ctx, parent)
	q := retrieve.Query{Vars: map[string]any{"parent": parent}}
	seen := map[string]bool{}
	read := 0
	// The parent's pages wait to commit together (Syncer.CommitRecords), as a type's
	// own pages do; the parts of one response that commit together are one page.
	var b batch
	flush := func() error {
		pages, page, ok := b.take()
		if !ok {
			return nil
		}
		return r.commitPages(ctx, pages, page)
	}
	err = r.job.Client.Pages(ctx, r.req, q, func(pg retrieve.Page) error {
		out, err := r.page(ctx, pg, process.Cursor{}, pr, nil)
		if err != nil {
			return err
		}
		read += len(pg.Records)
		for _, ext := range out.seen {
			seen[ext] = true
		}
		out.page.Prepare(r.job.Connector.Provider)
		b.add(pg, out.page, r.s.CommitRecords)
		if r.due(&b) {
			return flush()
		}
		return nil
	})
	// The pages that wait were read whole: they commit whatever ended the paging, as
	// the page before a failure always has.
	if ferr := flush(); ferr != nil {
		err = ferr // a failed commit, which came first
	}
	if err != nil {
		return fmt.Errorf("children of %s %s: %w", r.it.Parent.Type, rec.ExternalID, err)
	}
	// Every page of the parent's children was read: those stored but not seen are
	// gone. Unless nothing at all came back, which is more often a glitch.
	if reconcile && read > 0 {
		return r.reconcileChildren(ctx, rec.ID, func(ext string) bool { return seen[ext] })
	}
	return nil
}

// reconcileChildren marks deleted the stored children of one parent that seen does
// not report, serialized with the page commits.
func (r *run) reconcileChildren(ctx context.Context, parentID int64, seen func(string) bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, err := r.s.Store.ReconcileChildren(ctx, r.id, r.obj, parentID, seen)
	return err
}

// tracker commits a child's cursor as parents finish, possibly out of order: the
// cursor of parent n commits once parents 0..n are all done.
type tracker struct {
	r    *run
	mu   sync.Mutex
	next int                 // the first parent not done yet
	done map[int]childCursor // parents done after next, by position
}

func (t *tracker) finished(ctx context.Context, j parentJob) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done[j.n] = j.cursor
	var last *childCursor
	for {
		c, ok := t.done[t.next]
		if !ok {
			break
		}
		delete(t.done, t.next)
		t.next++
		last = &c
	}
	if last == nil {
		return nil
	}
	return t.r.checkpoint(ctx, last.String())
}
