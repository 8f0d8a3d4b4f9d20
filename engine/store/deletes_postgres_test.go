package store

import (
	"database/sql"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// storeInteractionSQL is CommitPage's insert of a new record (newRows) for one row,
// with its id given.
const storeInteractionSQL = insertInteractionHead + `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`

// selectInteractionSQL reads what CommitPage reads of a stored record (storedInteractions).
const selectInteractionSQL = `SELECT id, content_hash, deleted_at IS NOT NULL, COALESCE(parent_id, 0), COALESCE(links_hash, '') FROM interactions WHERE integration_object_id = ? AND external_id = ?`

// exerciseDeletes runs the statements behind deletions and child types (migration
// 0009) on a fresh database and returns what they did, for SQLite and PostgreSQL to be
// compared: deleted_at set, kept and cleared by the CASE of updateInteractionSQL, the
// boolean deleted_at IS NOT NULL, markDeletedSQL's RETURNING, and the parent queries.
func exerciseDeletes(t *testing.T, b backend) []string {
	const now, later = "2026-01-02T03:04:05.000Z", "2026-01-03T00:00:00.000Z"
	var seen []string
	see := func(format string, args ...any) { seen = append(seen, fmt.Sprintf(format, args...)) }
	b.mustExec(t, insertCustomerSQL, "acme", "Acme", now)
	b.mustExec(t, insertIntegrationSQL, "acme-desk", "acme", "desk", StatusEnabled, `{}`, nil, nil, now, now)
	b.mustExec(t, insertObjectSQL, "acme-desk", "tickets")
	obj := b.id(t, `SELECT id FROM integration_objects WHERE interaction_type = ?`, "tickets")
	run := b.id(t, insertRunSQL, obj, now, RunRunning, nil)

	live := b.id(t, storeInteractionSQL, 1, obj, "t1", "ticket", `{}`, `{}`, "h1", nil, now, now, run, nil, nil, nil)
	gone := b.id(t, storeInteractionSQL, 2, obj, "t2", "ticket", `{}`, `{}`, "h2", nil, now, now, run, now, nil, nil)
	state := func(ext string) string {
		var deletedAt sql.NullString
		var deleted bool
		require.NoError(t, b.db.QueryRow(b.d.Rebind(`SELECT deleted_at, deleted_at IS NOT NULL FROM interactions WHERE integration_object_id = ? AND external_id = ?`), obj, ext).Scan(&deletedAt, &deleted))
		return fmt.Sprintf("%s deleted=%v at=%s", ext, deleted, deletedAt.String)
	}
	see("inserted: %s; %s", state("t1"), state("t2"))
	var deleted bool
	require.NoError(t, b.db.QueryRow(b.d.Rebind(selectInteractionSQL), obj, "t2").Scan(new(int64), new(string), &deleted, new(int64), new(string)))
	see("select t2 deleted: %v", deleted)

	// Still deleted: the time it went is kept. Reappearing: cleared. Newly deleted: set.
	b.mustExec(t, updateInteractionSQL, "ticket", `{"a":1}`, `{}`, "h2b", nil, later, run, nil, nil, later, later, obj, "t2")
	see("still deleted: %s", state("t2"))
	b.mustExec(t, updateInteractionSQL, "ticket", `{"a":2}`, `{}`, "h2c", nil, later, run, nil, nil, nil, nil, obj, "t2")
	see("reappeared: %s", state("t2"))
	b.mustExec(t, updateInteractionSQL, "ticket", `{"a":1}`, `{}`, "h1b", nil, later, run, nil, nil, later, later, obj, "t1")
	see("deleted by flag: %s", state("t1"))

	// The deleted-records endpoint marks live rows only.
	b.mustExec(t, updateInteractionSQL, "ticket", `{}`, `{}`, "h1c", nil, later, run, nil, nil, nil, nil, obj, "t1")
	var id int64
	require.NoError(t, b.db.QueryRow(b.d.Rebind(markDeletedSQL), now, now, run, obj, "t1").Scan(&id))
	see("marked: %v", id == live)
	err := b.db.QueryRow(b.d.Rebind(markDeletedSQL), now, now, run, obj, "t1").Scan(&id)
	see("marked again: %v", err)

	// A child row points at its parent.
	b.mustExec(t, insertObjectSQL, "acme-desk", "comments")
	child := b.id(t, `SELECT id FROM integration_objects WHERE interaction_type = ?`, "comments")
	b.id(t, storeInteractionSQL, 3, child, "c1", "comment", `{}`, `{}`, "hc", nil, now, now, run, nil, live, nil)
	var parentID int64
	require.NoError(t, b.db.QueryRow(b.d.Rebind(selectInteractionSQL), child, "c1").Scan(new(int64), new(string), new(bool), &parentID, new(string)))
	see("child's parent is t1: %v", parentID == live)

	// Parents: live rows by id, and rows by their latest change.
	see("scan: %d rows", len(b.column(t, scanInteractionsSQL, obj, 0, 10)))
	for _, c := range []struct {
		id int64
		op string
	}{{live, OpInsert}, {gone, OpInsert}, {live, OpUpdate}} {
		b.mustExec(t, insertChangeSQL, now, EntityInteraction, c.id, c.op, "acme", "acme-desk", "tickets", "t")
	}
	rows, err := b.db.Query(b.d.Rebind(changedInteractionsSQL), "acme-desk", "tickets", EntityInteraction, 0, 3)
	require.NoError(t, err)
	for rows.Next() {
		var r ParentRef
		require.NoError(t, rows.Scan(&r.ID, &r.Seq))
		see("changed: row %d (live %v) at %d", r.ID, r.ID == live, r.Seq)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	var rec StoredRecord
	var raw string
	require.NoError(t, b.db.QueryRow(b.d.Rebind(interactionRecordSQL), gone).Scan(&rec.ID, &rec.ObjectID, &rec.ExternalID, &raw, &rec.Deleted))
	see("record %s deleted=%v raw=%s", rec.ExternalID, rec.Deleted, raw)
	return seen
}

func TestPostgresDeletesBehaveLikeSQLite(t *testing.T) {
	pg := openPostgres(t)
	migratePostgres(t, pg)
	want := exerciseDeletes(t, backend{openSQLite(t), SQLite})
	got := exerciseDeletes(t, backend{pg, Postgres})
	assert.Equal(t, want, got, "SQLite (expected) vs PostgreSQL (actual)")
	assert.Contains(t, want, "still deleted: t2 deleted=true at=2026-01-02T03:04:05.000Z")
	assert.Contains(t, want, "reappeared: t2 deleted=false at=")
	assert.Contains(t, want, "deleted by flag: t1 deleted=true at=2026-01-03T00:00:00.000Z")
	assert.Contains(t, want, "marked again: sql: no rows in result set")
	assert.Contains(t, want, "child's parent is t1: true")
}
