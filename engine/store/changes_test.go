package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// changesObject opens a store with an integration "i" of customer "c" and its
// contacts object.
func changesObject(t *testing.T) (*Store, *Object, int64) {
	t.Helper()
	ctx := context.Background()
	s, _ := openTest(t)
	require.NoError(t, s.CreateIntegration(ctx, Integration{ID: "i", CustomerID: "c", Provider: "p"}, nil, nil))
	obj, err := s.EnsureObject(ctx, "i", "contacts")
	require.NoError(t, err)
	run, err := s.StartRun(ctx, obj)
	require.NoError(t, err)
	return s, obj, run
}

func allChanges(t *testing.T, s *Store, since int64) []Change {
	t.Helper()
	cs, err := s.Changes(context.Background(), ChangeFilter{Since: since, Limit: MaxChangeLimit})
	require.NoError(t, err)
	return cs
}

func interactionIDs(t *testing.T, s *Store) map[string]int64 {
	t.Helper()
	rows, err := s.ListInteractions(context.Background(), InteractionFilter{})
	require.NoError(t, err)
	ids := map[string]int64{}
	for _, r := range rows {
		ids[r.ExternalID] = r.ID
	}
	return ids
}

func TestCommitPageRecordsInsertsAndUpdatesOnly(t *testing.T) {
	ctx := context.Background()
	s, obj, run := changesObject(t)
	last, err := s.LastChange(ctx)
	require.NoError(t, err)
	assert.Zero(t, last, "an empty feed is at 0")

	_, err = s.CommitPage(ctx, run, obj, Page{Records: []Record{rec("1", `{"a":1}`), rec("2", `{"a":2}`), rec("3", `{"a":3}`)}})
	require.NoError(t, err)
	ids := interactionIDs(t, s)
	cs := allChanges(t, s, 0)
	require.Len(t, cs, 3)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, c := range cs {
		ext := fmt.Sprint(i + 1)
		assert.Equal(t, Change{Seq: int64(i + 1), At: at, Entity: EntityInteraction, Op: OpInsert, EntityID: ids[ext],
			CustomerID: "c", IntegrationID: "i", Type: "contacts", ExternalID: ext}, c, "gap-free, in record order")
	}

	// Unchanged records take no seq; an update and an insert take the next two.
	_, err = s.CommitPage(ctx, run, obj, Page{Records: []Record{rec("1", `{"a":1}`), rec("2", `{"a":20}`), rec("3", `{"a":3}`), rec("4", `{"a":4}`)}})
	require.NoError(t, err)
	ids = interactionIDs(t, s)
	cs = allChanges(t, s, 3)
	require.Len(t, cs, 2)
	assert.Equal(t, [3]any{int64(4), OpUpdate, ids["2"]}, [3]any{cs[0].Seq, cs[0].Op, cs[0].EntityID}, "an update names the row its insert named")
	assert.Equal(t, [3]any{int64(5), OpInsert, ids["4"]}, [3]any{cs[1].Seq, cs[1].Op, cs[1].EntityID})

	// A page of unchanged records records nothing.
	_, err = s.CommitPage(ctx, run, obj, Page{Records: []Record{rec("1", `{"a":1}`), rec("2", `{"a":20}`)}})
	require.NoError(t, err)
	last, err = s.LastChange(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(5), last)

	// The same record twice in one page: an insert, then an update of the same row.
	_, err = s.CommitPage(ctx, run, obj, Page{Records: []Record{rec("5", `{"a":5}`), rec("5", `{"a":6}`)}})
	require.NoError(t, err)
	cs = allChanges(t, s, 5)
	require.Len(t, cs, 2)
	assert.Equal(t, []string{OpInsert, OpUpdate}, []string{cs[0].Op, cs[1].Op})
	assert.Equal(t, cs[0].EntityID, cs[1].EntityID)
}

func TestRolledBackPageLeavesNoChanges(t *testing.T) {
	ctx := context.Background()
	s, obj, run := changesObject(t)
	_, err := s.CommitPage(ctx, run, obj, Page{Records: []Record{rec("1", `1`)}})
	require.NoError(t, err)

	// Fail the page after its records (and their changes) were written.
	_, err = s.DB().ExecContext(ctx, `CREATE TRIGGER fail_quarantine BEFORE INSERT ON quarantine BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`)
	require.NoError(t, err)
	_, err = s.CommitPage(ctx, run, obj, Page{
		Records:     []Record{rec("1", `10`), rec("2", `2`), rec("3", `3`)},
		Quarantined: []Quarantined{{ExternalID: "x", Reason: "bad", Raw: []byte(`{}`)}},
	})
	require.ErrorContains(t, err, "disk on fire")
	cs := allChanges(t, s, 0)
	require.Len(t, cs, 1, "the failed page left no changes")
	n, err := s.CountInteractions(ctx, "i", "")
	require.NoError(t, err)
	assert.Equal(t, 1, n, "nor records")

	// The retry takes the very next seqs: a rolled-back page leaves no gap either.
	_, err = s.DB().ExecContext(ctx, `DROP TRIGGER fail_quarantine`)
	require.NoError(t, err)
	_, err = s.CommitPage(ctx, run, obj, Page{Records: []Record{rec("1", `10`), rec("2", `2`), rec("3", `3`)}})
	require.NoError(t, err)
	cs = allChanges(t, s, 0)
	require.Len(t, cs, 4)
	for i, c := range cs {
		assert.Equal(t, int64(i+1), c.Seq)
	}
	assert.Equal(t, []string{OpInsert, OpUpdate, OpInsert, OpInsert}, []string{cs[0].Op, cs[1].Op, cs[2].Op, cs[3].Op})
}

func TestChangesFilters(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	objs := map[string]*Object{}
	for _, c := range []string{"acme", "globex"} {
		require.NoError(t, s.CreateIntegration(ctx, Integration{ID: c + "-crm", CustomerID: c, Provider: "crm"}, nil, nil))
		obj, err := s.EnsureObject(ctx, c+"-crm", "accounts")
		require.NoError(t, err)
		objs[c] = obj
	}
	// acme 1..3, globex 4..5, acme 6, then an account change of globex (7).
	commit := func(customer string, ids ...string) {
		run, err := s.StartRun(ctx, objs[customer])
		require.NoError(t, err)
		var recs []Record
		for _, id := range ids {
			recs = append(recs, rec(id, `"`+id+`"`))
		}
		_, err = s.CommitPage(ctx, run, objs[customer], Page{Records: recs})
		require.NoError(t, err)
	}
	commit("acme", "a1", "a2", "a3")
	commit("globex", "g1", "g2")
	commit("acme", "a4")
	tx, err := s.DB().BeginTx(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, s.RecordChangeTx(ctx, tx, Change{Entity: EntityAccount, Op: OpInsert, EntityID: 1, CustomerID: "globex"}))
	require.NoError(t, tx.Commit())

	seqs := func(f ChangeFilter) []int64 {
		t.Helper()
		cs, err := s.Changes(ctx, f)
		require.NoError(t, err)
		out := []int64{}
		for _, c := range cs {
			out = append(out, c.Seq)
		}
		return out
	}
	assert.Equal(t, []int64{1, 2, 3, 4, 5, 6, 7}, seqs(ChangeFilter{}))
	assert.Equal(t, []int64{3, 4, 5, 6, 7}, seqs(ChangeFilter{Since: 2}), "since is exclusive")
	assert.Equal(t, []int64{3, 4}, seqs(ChangeFilter{Since: 2, Limit: 2}))
	assert.Equal(t, []int64{1, 2, 3, 6}, seqs(ChangeFilter{CustomerID: "acme"}))
	assert.Equal(t, []int64{6}, seqs(ChangeFilter{CustomerID: "acme", Since: 3}))
	assert.Equal(t, []int64{4, 5, 7}, seqs(ChangeFilter{CustomerID: "globex"}))
	assert.Equal(t, []int64{7}, seqs(ChangeFilter{Entity: EntityAccount}))
	assert.Equal(t, []int64{4, 5}, seqs(ChangeFilter{Entity: EntityInteraction, CustomerID: "globex"}))
	assert.Equal(t, []int64{}, seqs(ChangeFilter{Since: 7}))
	assert.Equal(t, []int64{}, seqs(ChangeFilter{CustomerID: "nobody"}))

	cs, err := s.Changes(ctx, ChangeFilter{Since: 6})
	require.NoError(t, err)
	require.Len(t, cs, 1)
	assert.Equal(t, Change{Seq: 7, At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Entity: EntityAccount, Op: OpInsert, EntityID: 1, CustomerID: "globex"}, cs[0],
		"a change no integration made has no integration, type or external id; its time is the store's clock")

	_, err = s.Changes(ctx, ChangeFilter{Entity: "ticket"})
	assert.ErrorContains(t, err, `entity "ticket": use interaction, account or contact`)
	_, err = s.Changes(ctx, ChangeFilter{Since: -1})
	assert.ErrorContains(t, err, "since -1")
}

func TestChangesLimitDefaultsAndCap(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	_, err := s.DB().ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO changes (at, entity, entity_id, op, customer_id) SELECT '2026-01-02T03:04:05.000Z', 'contact', i, 'update', 'c' FROM n`, MaxChangeLimit+1)
	require.NoError(t, err)

	cs, err := s.Changes(ctx, ChangeFilter{})
	require.NoError(t, err)
	assert.Len(t, cs, DefaultChangeLimit)
	cs, err = s.Changes(ctx, ChangeFilter{Limit: 1 << 30})
	require.NoError(t, err)
	require.Len(t, cs, MaxChangeLimit)
	cs, err = s.Changes(ctx, ChangeFilter{Since: cs[len(cs)-1].Seq, Limit: 1 << 30})
	require.NoError(t, err)
	require.Len(t, cs, 1)
	assert.Equal(t, int64(MaxChangeLimit+1), cs[0].Seq)
}

func TestRecordChange(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	record := func(c Change, commit bool) error {
		tx, err := s.DB().BeginTx(ctx, nil)
		require.NoError(t, err)
		if err := RecordChange(ctx, tx, c); err != nil {
			tx.Rollback()
			return err
		}
		if commit {
			return tx.Commit()
		}
		return tx.Rollback()
	}
	assert.ErrorContains(t, record(Change{Entity: "accounts", Op: OpInsert, EntityID: 1}, true), `entity "accounts"`)
	assert.ErrorContains(t, record(Change{Entity: EntityAccount, Op: "upsert", EntityID: 1}, true), `op "upsert": use insert, update or delete`)
	assert.ErrorContains(t, record(Change{Entity: EntityAccount, Op: OpDelete}, true), "entity id 0")

	// Only a committed transaction leaves its change; Seq and a given At are kept as set.
	at := time.Date(2025, 5, 6, 7, 8, 9, 120_000_000, time.UTC)
	require.NoError(t, record(Change{Seq: 99, At: at, Entity: EntityContact, Op: OpDelete, EntityID: 7, CustomerID: "c"}, false))
	require.NoError(t, record(Change{Seq: 99, At: at, Entity: EntityContact, Op: OpDelete, EntityID: 8, CustomerID: "c"}, true))
	cs := allChanges(t, s, 0)
	require.Len(t, cs, 1)
	assert.Equal(t, int64(1), cs[0].Seq, "the database assigns seq")
	assert.Equal(t, int64(8), cs[0].EntityID)
	assert.True(t, at.Equal(cs[0].At), "%s", cs[0].At)
	var raw string
	require.NoError(t, s.DB().QueryRowContext(ctx, `SELECT at FROM changes`).Scan(&raw))
	assert.Equal(t, "2025-05-06T07:08:09.120Z", raw, "fixed-width RFC 3339 UTC")
}

// AUTOINCREMENT: a position a consumer remembers never names another change, even
// after the feed was pruned down to nothing.
func TestSeqIsNeverReused(t *testing.T) {
	ctx := context.Background()
	s, obj, run := changesObject(t)
	_, err := s.CommitPage(ctx, run, obj, Page{Records: []Record{rec("1", `1`), rec("2", `2`)}})
	require.NoError(t, err)
	_, err = s.DB().ExecContext(ctx, `DELETE FROM changes`)
	require.NoError(t, err)
	_, err = s.CommitPage(ctx, run, obj, Page{Records: []Record{rec("3", `3`)}})
	require.NoError(t, err)
	cs := allChanges(t, s, 0)
	require.Len(t, cs, 1)
	assert.Equal(t, int64(3), cs[0].Seq)
}

// A consumer that reads from its remembered seq while syncs commit concurrently sees
// every change exactly once and in order: seqs become visible in commit order, with no
// hole that a later commit fills.
func TestConcurrentReaderSeesEveryChangeInOrder(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	const writers, pages, perPage = 4, 15, 7
	var objs []*Object
	for w := range writers {
		id := fmt.Sprintf("i%d", w)
		require.NoError(t, s.CreateIntegration(ctx, Integration{ID: id, CustomerID: "c", Provider: "p"}, nil, nil))
		obj, err := s.EnsureObject(ctx, id, "contacts")
		require.NoError(t, err)
		objs = append(objs, obj)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	for _, obj := range objs {
		wg.Go(func() {
			run, err := s.StartRun(ctx, obj)
			if !assert.NoError(t, err) {
				return
			}
			for p := range pages {
				var recs []Record
				for r := range perPage {
					recs = append(recs, rec(fmt.Sprintf("%d-%d", p, r), fmt.Sprint(p*perPage+r)))
				}
				_, err := s.CommitPage(ctx, run, obj, Page{Records: recs})
				assert.NoError(t, err)
			}
		})
	}
	go func() { wg.Wait(); close(done) }()

	var pos int64
	seen := 0
	read := func() int {
		cs, err := s.Changes(ctx, ChangeFilter{Since: pos, Limit: 10})
		require.NoError(t, err)
		for _, c := range cs {
			require.Equal(t, pos+1, c.Seq, "no change skipped or repeated")
			pos = c.Seq
			seen++
		}
		return len(cs)
	}
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		read()
	}
	for read() > 0 {
	}
	assert.Equal(t, writers*pages*perPage, seen)
	var n int
	require.NoError(t, s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM changes`).Scan(&n))
	assert.Equal(t, seen, n)
}
