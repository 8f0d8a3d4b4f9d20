package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/store"
)

// countingStore counts commits and the records each held.
type countingStore struct {
	*store.Store
	commits []int
}

func (c *countingStore) CommitPage(ctx context.Context, run int64, obj *store.Object, p store.Page) (store.PageResult, error) {
	c.commits = append(c.commits, len(p.Records))
	return c.Store.CommitPage(ctx, run, obj, p)
}

// Pages of 10 with CommitRecords 25 commit three at a time, and the last two at the
// end; the run counts five pages, OnPage reports each in order, and the commit's
// result comes with the last page of each commit.
func TestSmallPagesCommitTogether(t *testing.T) {
	fx := newFixture(t, &feed{n: 50, size: 10}, true)
	cs := &countingStore{Store: fx.db}
	var events []PageEvent
	s := &Syncer{Store: cs, CommitRecords: 25, CommitWait: time.Hour, OnPage: func(e PageEvent) { events = append(events, e) }}
	results, err := s.Sync(context.Background(), fx.job)
	require.NoError(t, err)
	require.NoError(t, results[0].Err)
	assert.Equal(t, []int{30, 20}, cs.commits)
	run := results[0].Run
	assert.Equal(t, 5, run.Pages, "a run counts the provider's pages, not its commits")
	assert.Equal(t, 50, run.RecordsNew)
	require.Len(t, events, 5)
	var news []int
	for i, e := range events {
		assert.Equal(t, i+1, e.Page)
		assert.Equal(t, 10, e.Records)
		news = append(news, e.Result.New)
	}
	assert.Equal(t, []int{0, 0, 30, 0, 20}, news)
	assert.Len(t, fx.storedIDs(t), 50)
	assert.Equal(t, fx.feed.updatedAt(49).Format(time.RFC3339Nano), fx.cursor(t))
}

// A page waits no longer than CommitWait: with a wait of a nanosecond, each page
// commits when the next arrives, and the last at the end.
func TestCommitWaitBoundsABatch(t *testing.T) {
	fx := newFixture(t, &feed{n: 30, size: 10}, true)
	cs := &countingStore{Store: fx.db}
	s := &Syncer{Store: cs, CommitRecords: 1000, CommitWait: time.Nanosecond}
	results, err := s.Sync(context.Background(), fx.job)
	require.NoError(t, err)
	require.NoError(t, results[0].Err)
	assert.Equal(t, []int{10, 10, 10}, cs.commits)
}

// The pages that wait when a request fails commit before the run fails, with the
// cursor they reach: as with one commit a page, nothing read before the failure is
// read again.
func TestWaitingPagesCommitWhenARequestFails(t *testing.T) {
	fx := newFixture(t, &feed{n: 50, size: 10, failPage: 4}, true)
	cs := &countingStore{Store: fx.db}
	results, err := (&Syncer{Store: cs, CommitRecords: 1000, CommitWait: time.Hour}).Sync(context.Background(), fx.job)
	require.NoError(t, err)
	require.Error(t, results[0].Err)
	assert.Equal(t, []int{30}, cs.commits)
	assert.Len(t, fx.storedIDs(t), 30)
	assert.Equal(t, fx.feed.updatedAt(29).Format(time.RFC3339Nano), fx.cursor(t))
	assert.Equal(t, 3, results[0].Run.Pages)
}

// After a commit fails, the pages that waited behind it never commit: the cursor
// would pass over the failed commit's records.
func TestNothingCommitsAfterAFailedCommit(t *testing.T) {
	fx := newFixture(t, &feed{n: 60, size: 10}, true)
	fs := &failingStore{Store: fx.db, failOn: 2}
	results, err := (&Syncer{Store: fs, CommitRecords: 20, CommitWait: time.Hour}).Sync(context.Background(), fx.job)
	require.NoError(t, err)
	require.Error(t, results[0].Err)
	assert.Len(t, fx.storedIDs(t), 20, "only the first commit (pages 1 and 2)")
	assert.Equal(t, fx.feed.updatedAt(19).Format(time.RFC3339Nano), fx.cursor(t))

	results, err = (&Syncer{Store: fx.db, CommitRecords: 20}).Sync(context.Background(), fx.job)
	require.NoError(t, err)
	require.NoError(t, results[0].Err)
	fx.storedOnce(t, 60)
}

// CommitNow (a daemon draining) makes the pages that wait commit at once.
func TestCommitNowCommitsWaitingPages(t *testing.T) {
	fx := newFixture(t, &feed{n: 50, size: 10}, true)
	cs := &countingStore{Store: fx.db}
	pages := 0
	now := func() bool { pages++; return pages >= 2 }
	results, err := (&Syncer{Store: cs, CommitRecords: 1000, CommitWait: time.Hour, CommitNow: now}).Sync(context.Background(), fx.job)
	require.NoError(t, err)
	require.NoError(t, results[0].Err)
	assert.Equal(t, []int{20, 10, 10, 10}, cs.commits)
}

// Parts of one response that commit together count as one page and are reported as
// one: responses of 300 records in parts of 100, committed 1,000 records at a time.
// The fourth response's parts straddle two commits, and count in each.
func TestPartsOfAResponseCountAsOnePage(t *testing.T) {
	fx := newFixtureParts(t, &feed{n: 1100, size: 300}, true, 100)
	cs := &countingStore{Store: fx.db}
	var events []PageEvent
	s := &Syncer{Store: cs, CommitRecords: 1000, CommitWait: time.Hour, OnPage: func(e PageEvent) { events = append(events, e) }}
	results, err := s.Sync(context.Background(), fx.job)
	require.NoError(t, err)
	require.NoError(t, results[0].Err)
	assert.Equal(t, []int{1000, 100}, cs.commits)
	var pages, records []int
	for _, e := range events {
		pages, records = append(pages, e.Page), append(records, e.Records)
	}
	assert.Equal(t, []int{1, 2, 3, 4, 4}, pages)
	assert.Equal(t, []int{300, 300, 300, 100, 100}, records)
	assert.Equal(t, 5, results[0].Run.Pages, "four responses, the fourth in two commits")
	assert.Len(t, fx.storedIDs(t), 1100)
}
