package chaos

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/store"
	"github.com/intakehq/intake/internal/bench"
)

// A store that holds the truth exactly once passes; each way of getting it wrong is
// counted as what it is.
func TestCompare(t *testing.T) {
	mock := bench.NewMock(4)
	mock.Mutate(100) // every record changed once: States 2
	mock.Delete(1)   // one deleted: States 3
	truth := mock.Snapshot()
	del := -1
	for i, r := range truth {
		if r.Deleted {
			del = i
		}
	}
	require.Equal(t, 2, del, "Delete's choice of record")
	require.Equal(t, 3, truth[del].States)
	other := bench.NewMock(4).Snapshot() // the records before any change

	type row struct {
		id      string
		raw     string
		deleted bool
		feed    []string // change-feed ops for the record
	}
	// good is a faithful store: every record inserted, then updated once; c_2 updated
	// and deleted.
	good := func() []row {
		rows := make([]row, len(truth))
		for i, r := range truth {
			rows[i] = row{id: r.ID, raw: string(r.Raw), deleted: r.Deleted, feed: []string{"insert", "update"}}
		}
		rows[del].feed = []string{"insert", "update", "update", "delete"}
		return rows
	}
	tests := []struct {
		name                       string
		edit                       func([]row) []row
		lost, duplicated, mismatch int
		problem                    string
	}{
		{"faithful", func(r []row) []row { return r }, 0, 0, 0, ""},
		{"raw stored with other key order and spacing", func(r []row) []row {
			r[1].raw = reorder(t, r[1].raw)
			return r
		}, 0, 0, 0, ""},
		{"lost", func(r []row) []row { return r[1:] }, 1, 0, 0, "c_0: lost"},
		{"inserted twice in the feed", func(r []row) []row {
			r[1].feed = append(r[1].feed, "insert")
			return r
		}, 0, 1, 0, "c_1: change feed has 2 inserts"},
		{"deleted twice in the feed", func(r []row) []row {
			r[del].feed = append(r[del].feed, "delete")
			return r
		}, 0, 1, 0, "c_2: change feed has 1 inserts, 2 updates, 2 deletes"},
		{"an update for a re-read record that did not change", func(r []row) []row {
			r[3].feed = append(r[3].feed, "update")
			return r
		}, 0, 1, 0, "c_3: change feed has 1 inserts, 2 updates"},
		{"an old version", func(r []row) []row {
			r[1].raw = string(other[1].Raw)
			return r
		}, 0, 0, 1, "c_1: stored"},
		{"deletion missed", func(r []row) []row {
			r[del].deleted = false
			return r
		}, 0, 0, 1, "c_2: deleted_at set=false"},
		{"deleted, not in the feed", func(r []row) []row {
			r[del].feed = r[del].feed[:3]
			return r
		}, 0, 0, 1, "c_2: deleted, and no delete in the change feed"},
		{"deleted at the source while it exists", func(r []row) []row {
			r[3].deleted = true
			return r
		}, 0, 0, 1, "c_3: deleted_at set=true"},
		{"stored, never in the feed", func(r []row) []row {
			r[1].feed = nil
			return r
		}, 0, 0, 1, "c_1: stored but never inserted"},
		{"a record the provider never had", func(r []row) []row {
			return append(r, row{id: "c_99", raw: string(truth[1].Raw), feed: []string{"insert"}})
		}, 0, 0, 1, "c_99: stored, but the provider never had it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newStore(t)
			obj := addObject(t, db, "int-1")
			addObject(t, db, "int-2") // another integration's rows do not count
			for _, r := range tt.edit(good()) {
				insert(t, db, obj, "int-1", r.id, r.raw, r.deleted, r.feed)
			}
			insert(t, db, 2, "int-2", "c_0", `{"other":true}`, false, []string{"insert", "insert"})
			rep, err := Compare(context.Background(), db, "int-1", InteractionType, truth)
			require.NoError(t, err)
			assert.Equal(t, len(truth), rep.Records)
			assert.Equal(t, tt.lost, rep.Lost, "lost: %v", rep.Problems)
			assert.Equal(t, tt.duplicated, rep.Duplicated, "duplicated: %v", rep.Problems)
			assert.Equal(t, tt.mismatch, rep.Mismatched, "mismatched: %v", rep.Problems)
			assert.Equal(t, tt.problem == "", rep.OK())
			if tt.problem != "" {
				require.Len(t, rep.Problems, 1)
				assert.Contains(t, rep.Problems[0], tt.problem)
			}
		})
	}
}

// reorder writes a JSON object's keys in reverse, with spaces.
func reorder(t *testing.T, raw string) string {
	inner := strings.TrimSuffix(strings.TrimPrefix(raw, "{"), "}")
	// Split at top-level commas only.
	var parts []string
	depth, inStr, start := 0, false, 0
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		switch {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case !inStr && (c == '{' || c == '['):
			depth++
		case !inStr && (c == '}' || c == ']'):
			depth--
		case !inStr && depth == 0 && c == ',':
			parts = append(parts, inner[start:i])
			start = i + 1
		}
	}
	parts = append(parts, inner[start:])
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	out := "{ " + strings.Join(parts, ", ") + " }"
	require.NotEqual(t, raw, out)
	return out
}

func newStore(t *testing.T) *sql.DB {
	s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "intake.db"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s.DB()
}

func addObject(t *testing.T, db *sql.DB, integration string) int64 {
	const now = "2026-01-01T00:00:00.000Z"
	_, err := db.Exec(`INSERT INTO customers (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`, "cust", "cust", now)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO integrations (id, customer_id, provider, config, created_at, updated_at) VALUES (?, 'cust', ?, '{}', ?, ?)`, integration, Provider, now, now)
	require.NoError(t, err)
	res, err := db.Exec(`INSERT INTO integration_objects (integration_id, interaction_type) VALUES (?, ?)`, integration, InteractionType)
	require.NoError(t, err)
	id, err := res.LastInsertId()
	require.NoError(t, err)
	return id
}

func insert(t *testing.T, db *sql.DB, obj int64, integration, id, raw string, deleted bool, feed []string) {
	const now = "2026-01-01T00:00:00.000Z"
	var deletedAt any
	if deleted {
		deletedAt = now
	}
	res, err := db.Exec(`INSERT INTO interactions (integration_object_id, external_id, kind, data, raw, content_hash, first_seen_at, updated_at, deleted_at)
		VALUES (?, ?, 'contact', '{}', ?, 'h', ?, ?, ?)`, obj, id, raw, now, now, deletedAt)
	require.NoError(t, err)
	rowID, err := res.LastInsertId()
	require.NoError(t, err)
	for _, op := range feed {
		_, err := db.Exec(`INSERT INTO changes (at, entity, entity_id, op, customer_id, integration_id, interaction_type, external_id)
			VALUES (?, 'interaction', ?, ?, 'cust', ?, ?, ?)`, now, rowID, op, integration, InteractionType, id)
		require.NoError(t, err)
	}
}
