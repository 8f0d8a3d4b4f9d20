package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
	"unsafe"
)

// Object is an Integration Object: an integration × an interaction type.
type Object struct {
	ID                  int64
	IntegrationID       string
	Type                string
	Cursor              string
	PendingCursor       string
	LastSyncedAt        time.Time
	LastAttemptAt       time.Time
	ConsecutiveFailures int
	// NextDueAt is when the daemon runs it next; zero when it is not scheduled yet
	// (due at once), Never when its type left the spec or its integration is disabled.
	NextDueAt time.Time
	// SyncRequestedAt is when a sync was last requested while it was running.
	SyncRequestedAt time.Time
	// Lease, when set, is the owner of the integration's lease that this sync runs
	// under: StartRun, CommitPage and FinishRun then check, in their transaction,
	// that the lease is still held, and fail with ErrLeaseLost otherwise. A daemon
	// that lost its lease (stalled past its expiry while another took over) can
	// therefore never write over the new owner's sync. "" (intake sync) checks nothing.
	Lease string
}

const objectCols = `id, integration_id, interaction_type, cursor, pending_cursor, last_synced_at, last_attempt_at, consecutive_failures, next_due_at, sync_requested_at`

func scanObject(row interface{ Scan(...any) error }) (*Object, error) {
	var o Object
	var cur, pend, last, attempt, due, req sql.NullString
	if err := row.Scan(&o.ID, &o.IntegrationID, &o.Type, &cur, &pend, &last, &attempt, &o.ConsecutiveFailures, &due, &req); err != nil {
		return nil, err
	}
	o.Cursor, o.PendingCursor = cur.String, pend.String
	o.LastSyncedAt, o.LastAttemptAt, o.NextDueAt, o.SyncRequestedAt = parseTS(last), parseTS(attempt), parseTS(due), parseTS(req)
	return &o, nil
}

// EnsureObject returns the integration object, creating it on first use.
func (s *Store) EnsureObject(ctx context.Context, integrationID, typ string) (*Object, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO integration_objects (integration_id, interaction_type) VALUES (?, ?) ON CONFLICT (integration_id, interaction_type) DO NOTHING`, integrationID, typ)
	if err != nil {
		return nil, fmt.Errorf("integration object %s/%s: %w", integrationID, typ, err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		if _, err := s.db.ExecContext(ctx, markHasObjects, integrationID); err != nil {
			return nil, fmt.Errorf("integration object %s/%s: %w", integrationID, typ, err)
		}
	}
	o, err := scanObject(s.db.QueryRowContext(ctx, `SELECT `+objectCols+` FROM integration_objects WHERE integration_id = ? AND interaction_type = ?`, integrationID, typ))
	if err != nil {
		return nil, fmt.Errorf("integration object %s/%s: %w", integrationID, typ, err)
	}
	return o, nil
}

// markHasObjects records that an integration's objects exist: the scheduler stops
// looking for it among the new ones (integrations_new).
const markHasObjects = `UPDATE integrations SET has_objects = 1 WHERE id = ? AND has_objects = 0`

// Run statuses.
const (
	RunRunning     = "running"
	RunSucceeded   = "succeeded"
	RunFailed      = "failed"
	RunCancelled   = "cancelled"
	RunInterrupted = "interrupted"
)

// Run is one sync of an integration object.
type Run struct {
	ID                 int64
	ObjectID           int64
	StartedAt          time.Time
	FinishedAt         time.Time
	Status             string
	CursorBefore       string
	CursorAfter        string
	Pages              int
	RecordsNew         int
	RecordsUpdated     int
	RecordsUnchanged   int
	RecordsQuarantined int
	RecordsFiltered    int
	RecordsUnmatched   int // of an update_only or link_only type: matched no account or contact
	RecordsDeleted     int // rows the run marked deleted; not part of the records read
	Error              string
	ErrorClass         string // spec.Class*; "" unless failed
	Owner              string // the daemon that ran it (its lease owner id); "" for intake sync
}

// StartRun records the start of a sync. Runs of the object still marked running were
// cut short by a crash: they are marked interrupted.
func (s *Store) StartRun(ctx context.Context, obj *Object) (int64, error) {
	var id int64
	now := s.ts()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.fence(ctx, tx, obj); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sync_runs SET status = ?, finished_at = ?, error = 'the process stopped during this run' WHERE integration_object_id = ? AND status = ?`, RunInterrupted, now, obj.ID, RunRunning); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE integration_objects SET pending_cursor = NULL, last_attempt_at = ? WHERE id = ?`, now, obj.ID); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `INSERT INTO sync_runs (integration_object_id, started_at, status, cursor_before, owner) VALUES (?, ?, ?, ?, ?) RETURNING id`, obj.ID, now, RunRunning, nullStr(obj.Cursor), nullStr(obj.Lease)).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("start sync run: %w", err)
	}
	return id, nil
}

// Record is one mapped interaction ready to store.
type Record struct {
	ExternalID      string
	Kind            string
	Data            []byte // mapped JSON
	Raw             []byte // raw JSON
	Hash            string
	SourceUpdatedAt string // RFC 3339, "" when the type is not incremental
	// Deleted: the source marks the record deleted (deletes.flag). It is stored with
	// deleted_at set; a record seen again without the mark gets deleted_at cleared.
	Deleted bool
	// ParentID is the row id of the parent record a child type's record was fetched
	// for; 0 for other types.
	ParentID int64
	// Match, when set, resolves the record to an Account or Contact in the same
	// transaction.
	Match *MatchKeys
	// Refs are the accounts and contacts the record refers to (links), linked in the
	// same transaction and whenever they appear later.
	Refs []Ref

	prep *prepared // Page.Prepare's work, if done
}

// prepared is what CommitPage works out from a record alone, done ahead of it by
// Page.Prepare.
type prepared struct {
	links     []linkRow
	linksHash string
	// provider, data and sources: the attributes of the account or contact the
	// record creates when it matches none, for that provider.
	provider, data, sources string
}

// Prepare does ahead of CommitPage the part of its work that depends on nothing
// stored: a pipeline calls it while the page before commits, so that work is done
// on another core than the store's single writer. provider is the integration's.
func (p *Page) Prepare(provider string) {
	for i := range p.Records {
		r := &p.Records[i]
		pr := &prepared{links: wantLinks(r)}
		pr.linksHash = linksHash(pr.links)
		if r.Match != nil && !r.Deleted && r.Match.creates() {
			pr.provider = provider
			pr.data, pr.sources = createdAttributes(r.Match, provider)
		}
		r.prep = pr
	}
}

// links are the record's reference rows and their digest.
func (r *Record) links() ([]linkRow, string) {
	if r.prep != nil {
		return slices.Clone(r.prep.links), r.prep.linksHash
	}
	want := wantLinks(r)
	return want, linksHash(want)
}

// Quarantined is a record that could not be mapped, kept with the reason.
type Quarantined struct {
	ExternalID string
	Reason     string
	Raw        []byte
}

// Page is what one page of a sync commits at once.
type Page struct {
	Records     []Record
	Quarantined []Quarantined
	Filtered    int // records the interaction type's filter skipped
	// Cursor, when set, becomes the object's committed cursor in the same transaction
	// (feeds sorted by cursor). PendingCursor, when set, is kept as the running sync's
	// high-water mark and becomes the cursor only when the run succeeds.
	Cursor        string
	PendingCursor string
	// Deletes are external ids a deleted-records endpoint listed: their rows get
	// deleted_at (ids never stored are ignored).
	Deletes []string
	// Pages is how many of the provider's pages this commit holds, counted in the
	// run's pages; 0 counts as 1.
	Pages int
}

// Merge appends next, a page read after p, to p, so that both commit at once, as
// committing p and then next would: counts add up and next's cursors win. Pages is
// left to the caller, which knows whether next is a page of its own or a part of
// p's. It is for pages of records: the merged page's Deletes apply after all of its
// records, so deletions of p followed by records of next would not commit as they
// would apart.
func (p *Page) Merge(next Page) {
	p.Records = append(p.Records, next.Records...)
	p.Quarantined = append(p.Quarantined, next.Quarantined...)
	p.Filtered += next.Filtered
	p.Deletes = append(p.Deletes, next.Deletes...)
	if next.Cursor != "" {
		p.Cursor = next.Cursor
	}
	if next.PendingCursor != "" {
		p.PendingCursor = next.PendingCursor
	}
}

// PageResult counts what a page changed. Every record read is one of New, Updated,
// Unchanged, Quarantined or Filtered; Deleted counts the rows newly marked deleted.
type PageResult struct {
	New, Updated, Unchanged, Quarantined, Filtered, Deleted int
	// Unmatched counts records of an update_only or link_only type that matched no
	// account or contact; they wait for one (see intake links unresolved).
	Unmatched int
}

// Statements of CommitPage (also run on PostgreSQL by deletes_postgres_test.go).
const (
	// deleted_at: NULL when the record is not deleted; when it is, kept if it already
	// was (the time it went), else the time given.
	updateInteractionSQL = `UPDATE interactions SET kind = ?, data = ?, raw = ?, content_hash = ?, source_updated_at = ?, updated_at = ?, sync_run_id = ?, parent_id = ?, links_hash = ?,
			deleted_at = CASE WHEN CAST(? AS TEXT) IS NULL THEN NULL ELSE COALESCE(deleted_at, CAST(? AS TEXT)) END
			WHERE integration_object_id = ? AND external_id = ?`
	markDeletedSQL = `UPDATE interactions SET deleted_at = ?, updated_at = ?, sync_run_id = ? WHERE integration_object_id = ? AND external_id = ? AND deleted_at IS NULL RETURNING id`
)

// CommitPage stores a page's records and advances the cursor in one transaction, so a
// crash leaves either all of the page or none of it. The records' Data and Raw must
// not change until it returns: they are bound as they are (textView).
func (s *Store) CommitPage(ctx context.Context, runID int64, obj *Object, p Page) (PageResult, error) {
	var res PageResult
	now := s.ts()
	// On SQLite the page's statements run without the caller's cancellation: with
	// it, the driver starts a goroutine per statement to watch for it, a tenth of a
	// page's time. The loop checks it between records instead, and the transaction
	// (begun with it) rolls back when it is cancelled. The write lock is taken at
	// BEGIN, so no statement inside waits on another writer. PostgreSQL statements
	// can wait on row locks, and keep it.
	outer := ctx
	if s.dialect == SQLite {
		ctx = context.WithoutCancel(ctx)
	}
	// Retried when a concurrent page of another integration of the same customer
	// created the same account or contact first (PostgreSQL): the page, run again,
	// finds and links it.
	err := s.txRetry(outer, func(tx *sql.Tx) error {
		res = PageResult{}
		if err := s.fence(ctx, tx, obj); err != nil {
			return err
		}
		// What is stored of the page's records, read at once: a query per record
		// cost more than the rest of a new record's insert.
		stored, err := storedInteractions(ctx, tx, obj.ID, p.Records)
		if err != nil {
			return err
		}
		rows := newNewRows(tx, s.dialect, newRowHints(p.Records, stored))
		upd, err := tx.PrepareContext(ctx, updateInteractionSQL)
		if err != nil {
			return err
		}
		defer upd.Close()
		// Each insert and update takes the next seq of the change feed, in this same
		// transaction: the feed holds a change if and only if it committed.
		changes := newObjectChanges(tx, s.dialect, obj.ID, now)
		changes.expect = 2 * len(p.Records) // a new record's insert, and the contact it creates
		var entities *resolver
		for i, r := range p.Records {
			if err := outer.Err(); err != nil {
				return err
			}
			prev, existed := stored[r.ExternalID]
			id, old, oldLinks, wasDeleted, oldParent := prev.id, prev.hash, prev.links, prev.deleted, prev.parent
			changed := !(existed && old == r.Hash && wasDeleted == r.Deleted)
			// A record's references are rewritten when it changed, or when they did
			// (links changed in the spec): links_hash says which they were.
			want, wantHash := r.links()
			relink := (changed || wantHash != oldLinks) && (len(want) > 0 || oldLinks != "")
			// Accounts and contacts resolve when their record is new or changed, in this
			// transaction: a page and its entities commit together. A record the source
			// deleted resolves to nothing.
			resolveEntity := r.Match != nil && !r.Deleted && changed
			if entities == nil && (relink || resolveEntity) {
				var rerr error
				if entities, rerr = s.newResolver(ctx, tx, obj, changes, rows); rerr != nil {
					return rerr
				}
				// What the records still to come will look up, at once.
				changedRest := changedRecords(p.Records[i:], stored)
				if rerr = entities.prefetch(ctx, changedRest); rerr != nil {
					return fmt.Errorf("look up the page's accounts and contacts: %w", rerr)
				}
				var storedIDs []int64
				for _, c := range changedRest {
					if si, ok := stored[c.ExternalID]; ok && !si.queued {
						storedIDs = append(storedIDs, si.id)
					}
				}
				if rerr = entities.prefetchOldLinks(ctx, storedIDs); rerr != nil {
					return fmt.Errorf("read the page's references: %w", rerr)
				}
			}
			var entity int64
			var unmatched bool
			if resolveEntity {
				var rerr error
				if entity, unmatched, rerr = entities.resolve(ctx, &r, r.ExternalID, r.Match); rerr != nil {
					return rerr
				}
			}
			deletedAt := ""
			if r.Deleted {
				deletedAt = now
			}
			switch {
			case !existed:
				if id, err = rows.id(ctx, "interactions"); err != nil {
					return fmt.Errorf("insert %s: %w", r.ExternalID, err)
				}
				rows.interaction([]any{id, obj.ID, r.ExternalID, r.Kind, textView(r.Data), textView(r.Raw), r.Hash, textArg(r.SourceUpdatedAt), now, now, runID, textArg(deletedAt), idArg(r.ParentID), textArg(wantHash)})
				if err := changes.record(ctx, OpInsert, id, r.ExternalID); err != nil {
					return err
				}
				res.New++
				if r.Deleted {
					// First seen already deleted: stored, and its deletion recorded.
					if err := changes.record(ctx, OpDelete, id, r.ExternalID); err != nil {
						return err
					}
					res.Deleted++
				}
			case old == r.Hash && wasDeleted == r.Deleted && oldParent == r.ParentID:
				res.Unchanged++
				if wantHash != oldLinks {
					if err := flushFor(ctx, rows, prev); err != nil {
						return err
					}
					if _, err := tx.ExecContext(ctx, `UPDATE interactions SET links_hash = ? WHERE id = ?`, nullStr(wantHash), id); err != nil {
						return fmt.Errorf("relink %s: %w", r.ExternalID, err)
					}
				}
			default:
				if err := flushFor(ctx, rows, prev); err != nil {
					return err
				}
				_, err := upd.ExecContext(ctx, r.Kind, textView(r.Data), textView(r.Raw), r.Hash, nullStr(r.SourceUpdatedAt), now, runID, nullID(r.ParentID), nullStr(wantHash), nullStr(deletedAt), nullStr(deletedAt), obj.ID, r.ExternalID)
				if err != nil {
					return fmt.Errorf("update %s: %w", r.ExternalID, err)
				}
				if old == r.Hash && !wasDeleted && oldParent == r.ParentID {
					res.Unchanged++ // only the deletion is new
				} else {
					// Changed content, a deleted record that reappeared, a child that
					// moved to another parent: an update.
					if err := changes.record(ctx, OpUpdate, id, r.ExternalID); err != nil {
						return err
					}
					res.Updated++
				}
				if r.Deleted && !wasDeleted {
					if err := changes.record(ctx, OpDelete, id, r.ExternalID); err != nil {
						return err
					}
					res.Deleted++
				}
			}
			// A record that comes twice in a page finds its first copy.
			stored[r.ExternalID] = storedInteraction{id: id, hash: r.Hash, links: wantHash, deleted: r.Deleted, parent: r.ParentID, queued: !existed || prev.queued}
			if entities == nil {
				continue
			}
			if err := entities.linkRecord(ctx, id, &r, want, linkStep{resolved: r.Match != nil && changed, existed: existed, relink: relink, unmatched: unmatched, entity: entity}); err != nil {
				return fmt.Errorf("link %s: %w", r.ExternalID, err)
			}
			if unmatched {
				res.Unmatched++
			}
		}
		if entities != nil {
			// What the page's accounts and contacts satisfy, at once for the page.
			if err := entities.settle(ctx); err != nil {
				return err
			}
			if err := entities.flushLinks(ctx); err != nil {
				return err
			}
			if err := entities.flushCrosswalk(ctx); err != nil {
				return err
			}
		}
		if err := rows.flush(ctx); err != nil {
			return err
		}
		if len(p.Deletes) > 0 {
			n, err := markDeleted(ctx, tx, changes, obj.ID, runID, now, p.Deletes)
			if err != nil {
				return err
			}
			res.Deleted += n
		}
		for _, q := range p.Quarantined {
			if _, err := tx.ExecContext(ctx, `INSERT INTO quarantine (integration_object_id, sync_run_id, external_id, reason, raw, created_at) VALUES (?, ?, ?, ?, ?, ?)`, obj.ID, runID, nullStr(q.ExternalID), q.Reason, string(q.Raw), now); err != nil {
				return err
			}
			res.Quarantined++
		}
		if p.Cursor != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE integration_objects SET cursor = ? WHERE id = ?`, p.Cursor, obj.ID); err != nil {
				return err
			}
		}
		if p.PendingCursor != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE integration_objects SET pending_cursor = ? WHERE id = ?`, p.PendingCursor, obj.ID); err != nil {
				return err
			}
		}
		res.Filtered = p.Filtered
		_, err = tx.ExecContext(ctx, `UPDATE sync_runs SET pages = pages + ?, records_new = records_new + ?, records_updated = records_updated + ?, records_unchanged = records_unchanged + ?, records_quarantined = records_quarantined + ?, records_filtered = records_filtered + ?, records_unmatched = records_unmatched + ?, records_deleted = records_deleted + ? WHERE id = ?`,
			max(p.Pages, 1), res.New, res.Updated, res.Unchanged, res.Quarantined, res.Filtered, res.Unmatched, res.Deleted, runID)
		if err != nil {
			return err
		}
		// Last, so that the feed's lock (PostgreSQL) is held only until the commit.
		return changes.flush(ctx)
	})
	if err != nil {
		return PageResult{}, fmt.Errorf("commit page of run %d: %w", runID, err)
	}
	if p.Cursor != "" {
		obj.Cursor = p.Cursor
	}
	return res, nil
}

// textView is b as a string without a copy. For a record's JSON, which nothing
// changes while its page commits and which the driver copies as it binds it: a copy
// here was a twentieth of the bytes a first sync allocates.
func textView(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// changedRecords are the records that are new or differ from what is stored: those
// that resolve or link.
func changedRecords(records []Record, stored map[string]storedInteraction) []Record {
	// Called at the page's first changed record: most of the rest are likely to be.
	out := make([]Record, 0, len(records))
	for _, r := range records {
		if si, ok := stored[r.ExternalID]; !ok || si.hash != r.Hash || si.deleted != r.Deleted {
			out = append(out, r)
		} else if _, h := r.links(); si.links != h {
			out = append(out, r)
		}
	}
	return out
}

// storedInteraction is what a page commit needs of a stored record.
type storedInteraction struct {
	id          int64
	hash, links string
	deleted     bool
	parent      int64
	queued      bool // inserted by this page: its row may still wait in newRows
}

// flushFor writes the page's waiting rows before a statement on a record's row, if
// the record is one the page inserted (it came twice): the row may not be written yet.
func flushFor(ctx context.Context, rows *newRows, si storedInteraction) error {
	if !si.queued {
		return nil
	}
	return rows.flush(ctx)
}

// newRowHints are how many rows of each table a page may insert at most: its records
// not stored, and the accounts and contacts its new or changed records may create.
func newRowHints(records []Record, stored map[string]storedInteraction) map[string]int {
	h := map[string]int{}
	for i := range records {
		r := &records[i]
		si, existed := stored[r.ExternalID]
		if existed && si.hash == r.Hash && si.deleted == r.Deleted {
			continue
		}
		if !existed {
			h["interactions"]++
		}
		if r.Match != nil && !r.Deleted && r.Match.creates() {
			h[entityTable[r.Match.Entity]]++
		}
	}
	return h
}

// storedInteractions reads the stored rows of an object's records, by external id,
// a lookupChunk of ids a query.
func storedInteractions(ctx context.Context, tx *sql.Tx, objectID int64, records []Record) (map[string]storedInteraction, error) {
	out := make(map[string]storedInteraction, len(records))
	ids := make([]string, len(records))
	for i := range records {
		ids[i] = records[i].ExternalID
	}
	err := inChunks(ctx, tx, `SELECT external_id, id, content_hash, deleted_at IS NOT NULL, COALESCE(parent_id, 0), COALESCE(links_hash, '') FROM interactions WHERE integration_object_id = ? AND external_id IN `,
		[]any{objectID}, ids, func(rows *sql.Rows) error {
			var ext string
			var si storedInteraction
			if err := rows.Scan(&ext, &si.id, &si.hash, &si.deleted, &si.parent, &si.links); err != nil {
				return err
			}
			out[ext] = si
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("read stored records: %w", err)
	}
	return out, nil
}

// markDeleted sets deleted_at on the live rows of an object with the given external
// ids, recording a delete change for each, and returns how many it marked. Ids that
// are not stored, or already deleted, are left alone.
func markDeleted(ctx context.Context, tx *sql.Tx, changes *objectChanges, objectID, runID int64, now string, externalIDs []string) (int, error) {
	stmt, err := tx.PrepareContext(ctx, markDeletedSQL)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	n := 0
	for _, ext := range externalIDs {
		var id int64
		err := stmt.QueryRowContext(ctx, now, now, runID, objectID, ext).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("mark %s deleted: %w", ext, err)
		}
		if err := changes.record(ctx, OpDelete, id, ext); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Checkpoint makes cursor the object's committed cursor and drops the pending one: a
// completed backfill window, or the parents a child type has fully fetched.
func (s *Store) Checkpoint(ctx context.Context, runID int64, obj *Object, cursor string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// A sync that lost its lease must not move the cursor another daemon now owns.
		if err := s.fence(ctx, tx, obj); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE integration_objects SET cursor = ?, pending_cursor = NULL WHERE id = ?`, nullStr(cursor), obj.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("checkpoint run %d at %q: %w", runID, cursor, err)
	}
	obj.Cursor = cursor
	return nil
}

// reconcileChunk is how many rows one transaction of ReconcileDeletes marks.
const reconcileChunk = 500

// ReconcileDeletes marks deleted the live rows of an object whose external id seen
// does not report, for a full sync that succeeded (deletes.reconcile), and returns how
// many it marked. Each chunk of rows commits with its delete changes and the run's
// records_deleted count; an interrupted reconcile is finished by the next one.
func (s *Store) ReconcileDeletes(ctx context.Context, runID int64, obj *Object, seen func(externalID string) bool) (int, error) {
	return s.reconcile(ctx, runID, obj, `SELECT external_id FROM interactions WHERE integration_object_id = ? AND deleted_at IS NULL ORDER BY external_id`, []any{obj.ID}, seen)
}

// ReconcileChildren is ReconcileDeletes for the records of a child type fetched for
// one parent (the row parentID): those of its stored children that seen does not
// report are marked deleted.
func (s *Store) ReconcileChildren(ctx context.Context, runID int64, obj *Object, parentID int64, seen func(externalID string) bool) (int, error) {
	return s.reconcile(ctx, runID, obj, `SELECT external_id FROM interactions WHERE integration_object_id = ? AND parent_id = ? AND deleted_at IS NULL ORDER BY external_id`, []any{obj.ID, parentID}, seen)
}

func (s *Store) reconcile(ctx context.Context, runID int64, obj *Object, query string, args []any, seen func(externalID string) bool) (int, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("reconcile deletes of run %d: %w", runID, err)
	}
	var gone []string
	for rows.Next() {
		var ext string
		if err := rows.Scan(&ext); err != nil {
			rows.Close()
			return 0, fmt.Errorf("reconcile deletes of run %d: %w", runID, err)
		}
		if !seen(ext) {
			gone = append(gone, ext)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("reconcile deletes of run %d: %w", runID, err)
	}
	total := 0
	for len(gone) > 0 {
		chunk := gone[:min(len(gone), reconcileChunk)]
		gone = gone[len(chunk):]
		now := s.ts()
		n := 0
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if err := s.fence(ctx, tx, obj); err != nil {
				return err
			}
			changes := newObjectChanges(tx, s.dialect, obj.ID, now)
			var err error
			if n, err = markDeleted(ctx, tx, changes, obj.ID, runID, now, chunk); err != nil {
				return err
			}
			if _, err = tx.ExecContext(ctx, `UPDATE sync_runs SET records_deleted = records_deleted + ? WHERE id = ?`, n, runID); err != nil {
				return err
			}
			// Last, so that the feed's lock (PostgreSQL) is held only until the commit.
			return changes.flush(ctx)
		})
		if err != nil {
			return total, fmt.Errorf("reconcile deletes of run %d: %w", runID, err)
		}
		total += n
	}
	return total, nil
}

// FinishRun records how a run ended. On success the pending cursor (if any) becomes the
// committed cursor and the failure count resets; on failure the pending cursor is
// dropped, so the next run re-reads from the last committed cursor.
func (s *Store) FinishRun(ctx context.Context, runID int64, obj *Object, status, class, errMsg string) (*Run, error) {
	now := s.ts()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.fence(ctx, tx, obj); err != nil {
			return err
		}
		switch status {
		case RunSucceeded:
			if _, err := tx.ExecContext(ctx, `UPDATE integration_objects SET cursor = COALESCE(pending_cursor, cursor), pending_cursor = NULL, last_synced_at = ?, consecutive_failures = 0 WHERE id = ?`, now, obj.ID); err != nil {
				return err
			}
		case RunFailed:
			if _, err := tx.ExecContext(ctx, `UPDATE integration_objects SET pending_cursor = NULL, consecutive_failures = consecutive_failures + 1 WHERE id = ?`, obj.ID); err != nil {
				return err
			}
		default:
			if _, err := tx.ExecContext(ctx, `UPDATE integration_objects SET pending_cursor = NULL WHERE id = ?`, obj.ID); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE sync_runs SET status = ?, finished_at = ?, error = ?, error_class = ?, cursor_after = (SELECT cursor FROM integration_objects WHERE id = ?) WHERE id = ?`, status, now, nullStr(errMsg), nullStr(class), obj.ID, runID)
		return err
	})
	if errors.Is(err, ErrLeaseLost) {
		// The object belongs to the new lease holder: only this run's own row is
		// closed, and only if the new holder has not already marked it interrupted.
		if _, uerr := s.db.ExecContext(ctx, `UPDATE sync_runs SET status = ?, finished_at = ?, error = ? WHERE id = ? AND status = ?`,
			RunCancelled, now, "cancelled: "+ErrLeaseLost.Error(), runID, RunRunning); uerr != nil {
			err = errors.Join(err, uerr)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("finish sync run %d: %w", runID, err)
	}
	return s.Run(ctx, runID)
}

// Run returns one sync run.
func (s *Store) Run(ctx context.Context, id int64) (*Run, error) {
	var r Run
	var started, finished, before, after, errMsg, class, owner sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT id, integration_object_id, started_at, finished_at, status, cursor_before, cursor_after, pages, records_new, records_updated, records_unchanged, records_quarantined, records_filtered, records_unmatched, records_deleted, error, error_class, owner FROM sync_runs WHERE id = ?`, id).
		Scan(&r.ID, &r.ObjectID, &started, &finished, &r.Status, &before, &after, &r.Pages, &r.RecordsNew, &r.RecordsUpdated, &r.RecordsUnchanged, &r.RecordsQuarantined, &r.RecordsFiltered, &r.RecordsUnmatched, &r.RecordsDeleted, &errMsg, &class, &owner)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sync run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sync run %d: %w", id, err)
	}
	r.StartedAt, r.FinishedAt = parseTS(started), parseTS(finished)
	r.CursorBefore, r.CursorAfter, r.Error, r.ErrorClass, r.Owner = before.String, after.String, errMsg.String, class.String, owner.String
	return &r, nil
}

// Interaction is a stored record.
type Interaction struct {
	ID              int64           `json:"id"`
	IntegrationID   string          `json:"integration"`
	Type            string          `json:"interaction_type"`
	ExternalID      string          `json:"external_id"`
	Kind            string          `json:"kind"`
	Data            json.RawMessage `json:"data"`
	SourceUpdatedAt string          `json:"source_updated_at,omitempty"`
	FirstSeenAt     string          `json:"first_seen_at"`
	UpdatedAt       string          `json:"updated_at"`
	// DeletedAt is when a sync found the record deleted at the source; "" while it
	// exists.
	DeletedAt string `json:"deleted_at,omitempty"`
	// ParentID is, for a child type's record, the id of the parent interaction it was
	// fetched for.
	ParentID int64 `json:"parent_id,omitempty"`
}

// Which interactions a list shows by deletion.
const (
	DeletedShow = "show" // all of them (the default)
	DeletedHide = "hide" // only those that exist at the source
	DeletedOnly = "only" // only those deleted at the source
)

// InteractionFilter narrows ListInteractions; zero fields match everything.
type InteractionFilter struct {
	IntegrationID string
	Type          string
	Since         time.Time // rows stored or changed at or after it; zero: all
	Deleted       string    // DeletedShow (or ""), DeletedHide or DeletedOnly
	Limit         int
}

// ListInteractions returns stored interactions, most recently changed first.
func (s *Store) ListInteractions(ctx context.Context, f InteractionFilter) ([]Interaction, error) {
	q := `SELECT i.id, o.integration_id, o.interaction_type, i.external_id, i.kind, i.data, COALESCE(i.source_updated_at, ''), i.first_seen_at, i.updated_at, COALESCE(i.deleted_at, ''), COALESCE(i.parent_id, 0)
		FROM interactions i JOIN integration_objects o ON o.id = i.integration_object_id WHERE 1 = 1`
	var args []any
	if f.IntegrationID != "" {
		q += ` AND o.integration_id = ?`
		args = append(args, f.IntegrationID)
	}
	if f.Type != "" {
		q += ` AND o.interaction_type = ?`
		args = append(args, f.Type)
	}
	switch f.Deleted {
	case "", DeletedShow:
	case DeletedHide:
		q += ` AND i.deleted_at IS NULL`
	case DeletedOnly:
		q += ` AND i.deleted_at IS NOT NULL`
	default:
		return nil, fmt.Errorf("list interactions: deleted %q: use %s, %s or %s", f.Deleted, DeletedShow, DeletedHide, DeletedOnly)
	}
	if !f.Since.IsZero() {
		// updated_at is fixed-width RFC 3339 UTC text: comparing the text compares the times.
		q += ` AND i.updated_at >= ?`
		args = append(args, formatTS(f.Since))
	}
	q += ` ORDER BY i.updated_at DESC, i.id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list interactions: %w", err)
	}
	defer rows.Close()
	var out []Interaction
	for rows.Next() {
		var it Interaction
		var data string
		if err := rows.Scan(&it.ID, &it.IntegrationID, &it.Type, &it.ExternalID, &it.Kind, &data, &it.SourceUpdatedAt, &it.FirstSeenAt, &it.UpdatedAt, &it.DeletedAt, &it.ParentID); err != nil {
			return nil, fmt.Errorf("list interactions: %w", err)
		}
		it.Data = json.RawMessage(data)
		out = append(out, it)
	}
	return out, rows.Err()
}

// CountInteractions counts stored interactions of an integration (all types when typ is "").
func (s *Store) CountInteractions(ctx context.Context, integrationID, typ string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM interactions i JOIN integration_objects o ON o.id = i.integration_object_id WHERE o.integration_id = ? AND (? = '' OR o.interaction_type = ?)`, integrationID, typ, typ).Scan(&n)
	return n, err
}
