package chaos

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/intakehq/intake/internal/bench"
)

// Report is what Compare found for one integration object.
type Report struct {
	Records    int // records in the truth
	Lost       int // in the truth, not in the store
	Duplicated int // stored more than once, or in the change feed more often than they changed
	Mismatched int // stored with other content than the truth, deleted when they are not (or not when they are), or stored and not in the truth
	Problems   []string
}

// OK reports whether the store holds the truth exactly once.
func (r Report) OK() bool { return r.Lost == 0 && r.Duplicated == 0 && r.Mismatched == 0 }

// Add sums reports.
func (r *Report) Add(o Report) {
	r.Records += o.Records
	r.Lost += o.Lost
	r.Duplicated += o.Duplicated
	r.Mismatched += o.Mismatched
	r.Problems = append(r.Problems, o.Problems...)
}

// maxProblems caps the examples a report keeps.
const maxProblems = 20

func (r *Report) problem(format string, args ...any) {
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// Compare checks the interactions an integration object stored (a SQLite store, read
// with plain SQL) against truth, the records its provider serves now:
//
//   - lost: a truth record with no row;
//   - duplicated: more than one row for one external id, more than one insert or
//     delete in the change feed for it, or more updates than the record had changes
//     (each change of content is one update; a re-read of an unchanged record, after
//     a crash say, must add none);
//   - mismatched: a row whose raw record differs from the truth (compared as JSON
//     values, so key order and spacing do not count), whose deleted_at disagrees with
//     the truth's deleted flag, a row with no insert in the change feed, or a row for
//     an id the truth does not have.
func Compare(ctx context.Context, db *sql.DB, integrationID, interactionType string, truth []bench.TruthRecord) (Report, error) {
	rep := Report{Records: len(truth)}
	type row struct {
		raw     []byte
		deleted bool
		count   int
	}
	stored := map[string]*row{}
	rows, err := db.QueryContext(ctx, `SELECT i.external_id, i.raw, i.deleted_at IS NOT NULL FROM interactions i
		JOIN integration_objects o ON o.id = i.integration_object_id
		WHERE o.integration_id = ? AND o.interaction_type = ?`, integrationID, interactionType)
	if err != nil {
		return rep, fmt.Errorf("read interactions: %w", err)
	}
	for rows.Next() {
		var id string
		var raw []byte
		var deleted bool
		if err := rows.Scan(&id, &raw, &deleted); err != nil {
			rows.Close()
			return rep, err
		}
		if r := stored[id]; r != nil {
			r.count++
			continue
		}
		stored[id] = &row{raw: raw, deleted: deleted, count: 1}
	}
	if err := rows.Close(); err != nil {
		return rep, err
	}
	if err := rows.Err(); err != nil {
		return rep, err
	}

	type ops struct{ insert, update, delete int }
	feed := map[string]*ops{}
	rows, err = db.QueryContext(ctx, `SELECT external_id, op, COUNT(*) FROM changes
		WHERE entity = 'interaction' AND integration_id = ? AND interaction_type = ? GROUP BY external_id, op`, integrationID, interactionType)
	if err != nil {
		return rep, fmt.Errorf("read the change feed: %w", err)
	}
	for rows.Next() {
		var id, op string
		var n int
		if err := rows.Scan(&id, &op, &n); err != nil {
			rows.Close()
			return rep, err
		}
		o := feed[id]
		if o == nil {
			o = &ops{}
			feed[id] = o
		}
		switch op {
		case "insert":
			o.insert += n
		case "update":
			o.update += n
		case "delete":
			o.delete += n
		}
	}
	if err := rows.Close(); err != nil {
		return rep, err
	}
	if err := rows.Err(); err != nil {
		return rep, err
	}

	where := integrationID + "/" + interactionType
	inTruth := make(map[string]bool, len(truth))
	for _, t := range truth {
		inTruth[t.ID] = true
		s := stored[t.ID]
		if s == nil {
			rep.Lost++
			rep.problem("%s %s: lost (not stored)", where, t.ID)
			continue
		}
		o := feed[t.ID]
		if o == nil {
			o = &ops{}
		}
		switch {
		case s.count > 1:
			rep.Duplicated++
			rep.problem("%s %s: stored %d times", where, t.ID, s.count)
		case o.insert > 1 || o.delete > 1 || o.update > t.States-1:
			rep.Duplicated++
			rep.problem("%s %s: change feed has %d inserts, %d updates, %d deletes for a record with %d changes", where, t.ID, o.insert, o.update, o.delete, t.States-1)
		}
		same, err := sameJSON(s.raw, t.Raw)
		switch {
		case err != nil:
			rep.Mismatched++
			rep.problem("%s %s: stored raw record: %v", where, t.ID, err)
		case !same:
			rep.Mismatched++
			rep.problem("%s %s: stored %s, the provider serves %s", where, t.ID, clip(s.raw), clip(t.Raw))
		case s.deleted != t.Deleted:
			rep.Mismatched++
			rep.problem("%s %s: deleted_at set=%v, deleted at the source=%v", where, t.ID, s.deleted, t.Deleted)
		case o.insert == 0:
			rep.Mismatched++
			rep.problem("%s %s: stored but never inserted in the change feed", where, t.ID)
		case t.Deleted && o.delete == 0:
			rep.Mismatched++
			rep.problem("%s %s: deleted, and no delete in the change feed", where, t.ID)
		}
	}
	var extra []string
	for id := range stored {
		if !inTruth[id] {
			extra = append(extra, id)
		}
	}
	sort.Strings(extra)
	for _, id := range extra {
		rep.Mismatched++
		rep.problem("%s %s: stored, but the provider never had it", where, id)
	}
	return rep, nil
}

// sameJSON compares two JSON documents as values.
func sameJSON(a, b []byte) (bool, error) {
	ca, err := canonical(a)
	if err != nil {
		return false, err
	}
	cb, err := canonical(b)
	if err != nil {
		return false, fmt.Errorf("truth: %w", err)
	}
	return bytes.Equal(ca, cb), nil
}

func canonical(doc []byte) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v) // maps marshal with sorted keys
}

func clip(b []byte) string {
	if len(b) > 120 {
		return string(b[:120]) + "..."
	}
	return string(b)
}
