package pipeline

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/store"
)

// A response larger than a part (1000 records) is committed part by part: a sorted
// feed's cursor moves with each part, and a failure between parts of one response
// loses nothing and duplicates nothing on the next run.
func TestLargeResponseCommitsInParts(t *testing.T) {
	for _, sorted := range []bool{true, false} {
		t.Run(fmt.Sprintf("sorted=%v", sorted), func(t *testing.T) {
			fx := newFixture(t, &feed{n: 2600, size: 2500}, sorted)
			// The second part of the first response fails to commit.
			_, err := (&Syncer{Store: &failingStore{Store: fx.db, failOn: 2}}).Sync(context.Background(), fx.job)
			require.NoError(t, err)
			assert.Len(t, fx.storedIDs(t), 1000, "the first part is committed")
			if sorted {
				assert.Equal(t, fx.feed.updatedAt(999).Format(time.RFC3339Nano), fx.cursor(t), "the cursor covers the committed part")
			} else {
				assert.Equal(t, "", fx.cursor(t))
			}
			assert.Equal(t, int32(1), fx.feed.requests.Load(), "the next page is not asked for while a response is being read")

			var events []PageEvent
			results, err := (&Syncer{Store: fx.db, OnPage: func(e PageEvent) { events = append(events, e) }}).Sync(context.Background(), fx.job)
			require.NoError(t, err)
			run := results[0].Run
			require.Equal(t, store.RunSucceeded, run.Status)
			ids := fx.storedIDs(t)
			require.Len(t, ids, 2600)
			for id, n := range ids {
				require.Equal(t, 1, n, id)
			}
			var perPage []string
			for _, e := range events {
				perPage = append(perPage, fmt.Sprintf("%d:%d", e.Page, e.Records))
			}
			if sorted {
				// From the cursor, inclusive: record 998 shares record 999's timestamp.
				assert.Equal(t, []string{"1:1000", "1:602"}, perPage)
				assert.Equal(t, 1600, run.RecordsNew)
				assert.Equal(t, 2, run.RecordsUnchanged)
			} else {
				assert.Equal(t, []string{"1:1000", "1:1000", "1:500", "2:100"}, perPage)
				assert.Equal(t, 1600, run.RecordsNew)
				assert.Equal(t, 1000, run.RecordsUnchanged)
			}
			assert.Equal(t, len(events), run.Pages, "a run counts committed parts as pages")
			assert.Equal(t, fx.feed.updatedAt(2599).Format(time.RFC3339Nano), fx.cursor(t))
		})
	}
}
