package store

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func deleted(r Record) Record {
	r.Deleted = true
	return r
}

// ops lists the change feed after since as "op external_id".
func ops(t *testing.T, s *Store, since int64) []string {
	t.Helper()
	var out []string
	for _, c := range allChanges(t, s, since) {
		out = append(out, c.Op+" "+c.ExternalID)
	}
	return out
}

func deletedAt(t *testing.T, s *Store) map[string]string {
	t.Helper()
	rows, err := s.ListInteractions(context.Background(), InteractionFilter{})
	require.NoError(t, err)
	out := map[string]string{}
	for _, r := range rows {
		out[r.ExternalID] = r.DeletedAt
	}
	return out
}

// A record the source flags deleted keeps its row with deleted_at; the feed says
// delete once, when it goes; a record that reappears is an update with deleted_at
// cleared. Every record read is still counted as new, updated or unchanged.
func TestCommitPageDeletedFlag(t *testing.T) {
	ctx := context.Background()
	s, obj, run := changesObject(t)
	res, err := s.CommitPage(ctx, run, obj, Page{Records: []Record{rec("1", `{"a":1}`), rec("2", `{"a":2}`), deleted(rec("3", `{"a":3}`))}})
	require.NoError(t, err)
	assert.Equal(t, PageResult{New: 3, Deleted: 1}, res, "a record first seen deleted is stored, and counted deleted")
	assert.Equal(t, []string{"insert 1", "insert 2", "insert 3", "delete 3"}, ops(t, s, 0))
	at := "2026-01-02T03:04:05.000Z"
	assert.Equal(t, map[string]string{"1": "", "2": "", "3": at}, deletedAt(t, s))

	last, err := s.LastChange(ctx)
	require.NoError(t, err)
	res, err = s.CommitPage(ctx, run, obj, Page{Records: []Record{
		deleted(rec("1", `{"a":1}`)),  // deleted, content unchanged
		deleted(rec("2", `{"a":22}`)), // deleted, content changed
		deleted(rec("3", `{"a":3}`)),  // still deleted, unchanged
	}})
	require.NoError(t, err)
	assert.Equal(t, PageResult{Unchanged: 2, Updated: 1, Deleted: 2}, res)
	assert.Equal(t, []string{"delete 1", "update 2", "delete 2"}, ops(t, s, last))

	last, err = s.LastChange(ctx)
	require.NoError(t, err)
	res, err = s.CommitPage(ctx, run, obj, Page{Records: []Record{rec("1", `{"a":1}`), deleted(rec("3", `{"a":33}`))}})
	require.NoError(t, err)
	assert.Equal(t, PageResult{Updated: 2}, res, "a reappearing record is an update; a deleted one that changed too")
	assert.Equal(t, []string{"update 1", "update 3"}, ops(t, s, last))
	assert.Equal(t, map[string]string{"1": "", "2": at, "3": at}, deletedAt(t, s), "3 keeps the time it went")

	r, err := s.Run(ctx, run)
	require.NoError(t, err)
	assert.Equal(t, 3, r.RecordsDeleted)
	assert.Equal(t, 3, r.RecordsNew)
}

// A deleted-records endpoint's ids mark live rows; ids never stored and rows already
// deleted are left alone.
func TestCommitPageDeletesList(t *testing.T) {
	ctx := context.Background()
	s, obj, run := changesObject(t)
	_, err := s.CommitPage(ctx, run, obj, Page{Records: []Record{rec("1", `{"a":1}`), rec("2", `{"a":2}`)}})
	require.NoError(t, err)
	last, err := s.LastChange(ctx)
	require.NoError(t, err)
	res, err := s.CommitPage(ctx, run, obj, Page{Deletes: []string{"2", "never-stored"}})
	require.NoError(t, err)
	assert.Equal(t, PageResult{Deleted: 1}, res)
	res, err = s.CommitPage(ctx, run, obj, Page{Deletes: []string{"2"}})
	require.NoError(t, err)
	assert.Equal(t, PageResult{}, res, "already deleted")
	assert.Equal(t, []string{"delete 2"}, ops(t, s, last))

	for mode, want := range map[string][]string{DeletedShow: {"1", "2"}, "": {"1", "2"}, DeletedHide: {"1"}, DeletedOnly: {"2"}} {
		rows, err := s.ListInteractions(ctx, InteractionFilter{Deleted: mode})
		require.NoError(t, err)
		var got []string
		for _, r := range rows {
			got = append(got, r.ExternalID)
		}
		assert.ElementsMatch(t, want, got, "deleted %q", mode)
	}
	_, err = s.ListInteractions(ctx, InteractionFilter{Deleted: "maybe"})
	assert.ErrorContains(t, err, `deleted "maybe": use show, hide or only`)
}

func TestReconcileDeletes(t *testing.T) {
	ctx := context.Background()
	s, obj, run := changesObject(t)
	var page []Record
	for _, id := range []string{"a", "b", "c", "d"} {
		page = append(page, rec(id, `{"id":"`+id+`"}`))
	}
	page[3].Deleted = true
	_, err := s.CommitPage(ctx, run, obj, Page{Records: page})
	require.NoError(t, err)
	last, err := s.LastChange(ctx)
	require.NoError(t, err)
	seen := map[string]bool{"a": true}
	n, err := s.ReconcileDeletes(ctx, run, obj, func(ext string) bool { return seen[ext] })
	require.NoError(t, err)
	assert.Equal(t, 2, n, "b and c; d was deleted already")
	assert.Equal(t, []string{"delete b", "delete c"}, ops(t, s, last))
	r, err := s.Run(ctx, run)
	require.NoError(t, err)
	assert.Equal(t, 3, r.RecordsDeleted)
	n, err = s.ReconcileDeletes(ctx, run, obj, func(ext string) bool { return seen[ext] })
	require.NoError(t, err)
	assert.Zero(t, n)
}

func TestCheckpointReplacesCursorAndPending(t *testing.T) {
	ctx := context.Background()
	s, obj, run := changesObject(t)
	_, err := s.CommitPage(ctx, run, obj, Page{Records: []Record{rec("1", `{}`)}, PendingCursor: "2026-01-01T00:00:00Z"})
	require.NoError(t, err)
	require.NoError(t, s.Checkpoint(ctx, run, obj, "2025-06-01T00:00:00Z"))
	assert.Equal(t, "2025-06-01T00:00:00Z", obj.Cursor)
	_, err = s.FinishRun(ctx, run, obj, RunSucceeded, "", "")
	require.NoError(t, err)
	again, err := s.EnsureObject(ctx, "i", "contacts")
	require.NoError(t, err)
	assert.Equal(t, "2025-06-01T00:00:00Z", again.Cursor, "the checkpoint dropped the pending cursor of the window before it")
}

func TestParentQueries(t *testing.T) {
	ctx := context.Background()
	s, obj, run := changesObject(t)
	_, err := s.CommitPage(ctx, run, obj, Page{Records: []Record{rec("1", `{"n":1}`), rec("2", `{"n":2}`), rec("3", `{"n":3}`)}})
	require.NoError(t, err)
	mid, err := s.LastChange(ctx)
	require.NoError(t, err)
	_, err = s.CommitPage(ctx, run, obj, Page{Records: []Record{rec("1", `{"n":11}`), deleted(rec("3", `{"n":3}`))}})
	require.NoError(t, err)
	end, err := s.LastChange(ctx)
	require.NoError(t, err)
	ids := interactionIDs(t, s)

	refs, err := s.ScanInteractions(ctx, obj.ID, 0, 10)
	require.NoError(t, err)
	assert.Equal(t, []ParentRef{{ID: ids["1"]}, {ID: ids["2"]}}, refs, "live rows only, by id")
	refs, err = s.ScanInteractions(ctx, obj.ID, ids["1"], 10)
	require.NoError(t, err)
	assert.Equal(t, []ParentRef{{ID: ids["2"]}}, refs)

	changed, err := s.ChangedInteractions(ctx, "i", "contacts", mid, end)
	require.NoError(t, err)
	require.Len(t, changed, 2)
	assert.Equal(t, []int64{ids["1"], ids["3"]}, []int64{changed[0].ID, changed[1].ID}, "by latest change; a deletion is a change")
	assert.Equal(t, end, changed[1].Seq)
	changed, err = s.ChangedInteractions(ctx, "i", "contacts", 0, mid)
	require.NoError(t, err)
	assert.Len(t, changed, 3)
	changed, err = s.ChangedInteractions(ctx, "i", "other", 0, end)
	require.NoError(t, err)
	assert.Empty(t, changed)

	r, err := s.InteractionRecord(ctx, ids["3"])
	require.NoError(t, err)
	assert.Equal(t, StoredRecord{ID: ids["3"], ObjectID: obj.ID, ExternalID: "3", Raw: []byte(`{"n":3}`), Deleted: true}, *r)
	_, err = s.InteractionRecord(ctx, 999)
	assert.ErrorIs(t, err, ErrNotFound)
}
