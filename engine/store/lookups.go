package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// lookups holds what a page's resolution looks up, read for the whole page at once:
// the crosswalk entries of its records and references, the contacts with their
// addresses and the accounts with their domains. One query per record and key cost
// more than a new record's inserts. An entry, once present, is kept exact for the
// rest of the transaction: the resolver's writes (a crosswalk row, a new contact or
// account, an address or domain set) update it, and they are the only writes to
// those rows in a page. A key not read ahead is queried on its own and kept.
type lookups struct {
	crosswalk map[crosswalkKey]int64 // 0: known to be absent
	emails    map[string][]int64     // contact ids by address, ascending
	domains   map[string][]int64     // account ids by domain, ascending
}

type crosswalkKey struct{ entity, provider, externalID string }

func newLookups() *lookups {
	return &lookups{crosswalk: map[crosswalkKey]int64{}, emails: map[string][]int64{}, domains: map[string][]int64{}}
}

// lookupChunk is how many keys one IN list holds: well under SQLite's and
// PostgreSQL's limits on bound parameters.
const lookupChunk = 500

// prefetch reads ahead the keys a page's records will look up: each record's own
// crosswalk entry, address or domain, and those of its references.
func (r *resolver) prefetch(ctx context.Context, records []Record) error {
	// Room at once for a page of contacts, each with its own crosswalk key and its
	// account's, its address and its domain: grown one key at a time, these maps and
	// lists were a twentieth of a first sync's allocations.
	if l := r.lookups; len(l.crosswalk) == 0 && len(l.emails) == 0 && len(l.domains) == 0 {
		*l = lookups{crosswalk: make(map[crosswalkKey]int64, 2*len(records)), emails: make(map[string][]int64, len(records)), domains: make(map[string][]int64, len(records))}
	}
	xw := map[[2]string][]string{} // (entity, provider) -> external ids
	emails, domains := make([]string, 0, len(records)), make([]string, 0, len(records))
	addXW := func(entity, provider, ext string) {
		k := crosswalkKey{entity, provider, ext}
		if _, ok := r.lookups.crosswalk[k]; ok || ext == "" {
			return
		}
		r.lookups.crosswalk[k] = 0
		xw[[2]string{entity, provider}] = append(xw[[2]string{entity, provider}], ext)
	}
	addKey := func(m map[string][]int64, list *[]string, key string) {
		if _, ok := m[key]; ok || key == "" {
			return
		}
		m[key] = nil
		*list = append(*list, key)
	}
	for i := range records {
		rec := &records[i]
		if k := rec.Match; k != nil {
			addXW(k.Entity, r.provider, rec.ExternalID)
			switch k.Entity {
			case EntityContact:
				addKey(r.lookups.emails, &emails, k.Email)
				addKey(r.lookups.domains, &domains, k.EmailOrg)
				if k.AccountRef != "" {
					addXW(EntityAccount, r.provider, k.AccountRef)
				}
			case EntityAccount:
				addKey(r.lookups.domains, &domains, k.Domain)
			}
		}
		for _, ref := range rec.Refs {
			if ref.ID != "" {
				addXW(ref.Role, r.provider, ref.ID)
			}
			if ref.Role == EntityContact {
				addKey(r.lookups.emails, &emails, ref.Email)
			} else {
				addKey(r.lookups.domains, &domains, ref.Domain)
			}
		}
	}
	if err := r.rows.flush(ctx); err != nil {
		return err
	}
	for group, ids := range xw {
		err := inChunks(ctx, r.tx, `SELECT external_id, entity_id FROM entity_links WHERE customer_id = ? AND entity = ? AND provider = ? AND external_id IN `,
			[]any{r.customer, group[0], group[1]}, ids, func(rows *sql.Rows) error {
				var ext string
				var id int64
				if err := rows.Scan(&ext, &id); err != nil {
					return err
				}
				r.lookups.crosswalk[crosswalkKey{group[0], group[1], ext}] = id
				return nil
			})
		if err != nil {
			return err
		}
	}
	if err := r.prefetchIDs(ctx, `SELECT email, id FROM contacts WHERE customer_id = ? AND email IN `, emails, r.lookups.emails); err != nil {
		return err
	}
	return r.prefetchIDs(ctx, `SELECT domain, id FROM accounts WHERE customer_id = ? AND domain IN `, domains, r.lookups.domains)
}

func (r *resolver) prefetchIDs(ctx context.Context, q string, keys []string, into map[string][]int64) error {
	return inChunks(ctx, r.tx, q, []any{r.customer}, keys, func(rows *sql.Rows) error {
		var key string
		var id int64
		if err := rows.Scan(&key, &id); err != nil {
			return err
		}
		into[key] = insertSorted(into[key], id)
		return nil
	})
}

// queryer is what inChunks queries: a transaction or the database.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// inChunks runs q (ending in "IN ") with args and then each lookupChunk of keys as its
// list, calling row for every row.
func inChunks[K any](ctx context.Context, db queryer, q string, args []any, keys []K, row func(*sql.Rows) error) error {
	for part := range slices.Chunk(keys, lookupChunk) {
		all := slices.Grow(slices.Clip(args), len(part))
		for _, k := range part {
			all = append(all, k)
		}
		rows, err := db.QueryContext(ctx, q+placeholders(len(part)), all...)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := row(rows); err != nil {
				rows.Close()
				return err
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// execInChunks runs q (ending in "IN ") with args and then each lookupChunk of keys
// as its list.
func execInChunks(ctx context.Context, tx *sql.Tx, q string, args []any, keys []any) error {
	for part := range slices.Chunk(keys, lookupChunk) {
		if _, err := tx.ExecContext(ctx, q+placeholders(len(part)), append(slices.Clip(args), part...)...); err != nil {
			return err
		}
	}
	return nil
}

// placeholders is "(?, ?, ...)" for n values.
func placeholders(n int) string { return "(?" + strings.Repeat(", ?", n-1) + ")" }

// insertRows writes rows with INSERTs of up to perStatement rows each: head (ending
// in "VALUES "), then one "(?, ...)" per row, then tail. Multi-row VALUES keep their
// order, so the rows take ids, and change-feed positions, in the order given.
//
// On SQLite a column that holds one value in every row of a statement (the page's
// customer and time, a NULL) is bound once: the statement becomes
// INSERT ... SELECT ?, column1, ... FROM (VALUES (...), ...), whose rows come in the
// same order. Binding was a fifth of a page commit, as the driver copies each text
// parameter into memory of its own, and a change-feed row has six such columns of
// eight. PostgreSQL would type the VALUES' parameters as text there, and keeps the
// plain form.
func insertRows(ctx context.Context, tx *sql.Tx, d Dialect, head, tail string, rows [][]any, perStatement int) error {
	for part := range slices.Chunk(rows, perStatement) {
		q, args := insertStatement(d, head, tail, part)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("write %d rows: %w", len(part), err)
		}
	}
	return nil
}

// insertStatement is the statement and arguments insertRows runs for one part.
func insertStatement(d Dialect, head, tail string, part [][]any) (string, []any) {
	width := len(part[0])
	shared := make([]bool, width)
	nShared := 0
	if into, ok := strings.CutSuffix(head, "VALUES "); ok && d == SQLite && len(part) > 1 {
		for j := range width {
			shared[j] = true
			for _, row := range part[1:] {
				if !sameArg(part[0][j], row[j]) {
					shared[j] = false
					break
				}
			}
			if shared[j] {
				nShared++
			}
		}
		if nShared == width {
			// VALUES needs a column.
			shared[width-1] = false
			nShared--
		}
		if nShared > 0 {
			return hoistedInsert(into, tail, part, shared, nShared)
		}
	}
	row := placeholders(width)
	args := make([]any, 0, len(part)*width)
	for _, a := range part {
		args = append(args, a...)
	}
	return head + row + strings.Repeat(", "+row, len(part)-1) + tail, args
}

// hoistedInsert is INSERT ... SELECT with the shared columns bound once, in the
// select list, and the others from a VALUES list (column1, column2, ...).
func hoistedInsert(into, tail string, part [][]any, shared []bool, nShared int) (string, []any) {
	width := len(part[0])
	var b strings.Builder
	b.WriteString(into)
	b.WriteString("SELECT ")
	// The select list's parameters come before the VALUES' in the text, and so
	// number first.
	args := make([]any, 0, nShared+len(part)*(width-nShared))
	k := 0
	for j := range width {
		if j > 0 {
			b.WriteString(", ")
		}
		if shared[j] {
			b.WriteByte('?')
			args = append(args, part[0][j])
			continue
		}
		k++
		b.WriteString("column")
		b.WriteString(strconv.Itoa(k))
	}
	row := placeholders(width - nShared)
	b.WriteString(" FROM (VALUES ")
	b.WriteString(row)
	b.WriteString(strings.Repeat(", "+row, len(part)-1))
	b.WriteByte(')')
	if tail != "" {
		// Without a WHERE, SQLite would read the upsert's ON as a join's.
		b.WriteString(" WHERE true")
		b.WriteString(tail)
	}
	for _, row := range part {
		for j, v := range row {
			if !shared[j] {
				args = append(args, v)
			}
		}
	}
	return b.String(), args
}

// sameArg reports whether two statement arguments are the same value. Only the kinds
// the batched rows bind are compared; any other is never the same.
func sameArg(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case int64:
		y, ok := b.(int64)
		return ok && x == y
	}
	return false
}

func insertSorted(ids []int64, id int64) []int64 {
	i, found := slices.BinarySearch(ids, id)
	if found {
		return ids
	}
	return slices.Insert(ids, i, id)
}

// crosswalk finds a provider's record: the account or contact its external id is
// linked to, 0 when none. The key is (customer, entity, provider, external id): the
// interaction type does not take part, so the ids of every account type of a provider
// share one space, as they do in the providers themselves.
func (r *resolver) crosswalk(ctx context.Context, entity, provider, externalID string) (int64, error) {
	k := crosswalkKey{entity, provider, externalID}
	if id, ok := r.lookups.crosswalk[k]; ok {
		return id, nil
	}
	var id int64
	err := r.queryRow(ctx, `SELECT entity_id FROM entity_links WHERE customer_id = ? AND entity = ? AND provider = ? AND external_id = ?`,
		r.customer, entity, provider, externalID).Scan(&id)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	r.lookups.crosswalk[k] = id
	return id, nil
}

// contactsByEmail are the ids of the customer's contacts with the address, ascending.
func (r *resolver) contactsByEmail(ctx context.Context, email string) ([]int64, error) {
	return r.byKey(ctx, r.lookups.emails, `SELECT id FROM contacts WHERE customer_id = ? AND email = ? ORDER BY id`, email)
}

// accountsByDomain are the ids of the customer's accounts with the domain, ascending.
func (r *resolver) accountsByDomain(ctx context.Context, domain string) ([]int64, error) {
	return r.byKey(ctx, r.lookups.domains, `SELECT id FROM accounts WHERE customer_id = ? AND domain = ? ORDER BY id`, domain)
}

func (r *resolver) byKey(ctx context.Context, m map[string][]int64, q, key string) ([]int64, error) {
	if ids, ok := m[key]; ok {
		return ids, nil
	}
	ids, err := r.ids(ctx, q, r.customer, key)
	if err != nil {
		return nil, err
	}
	m[key] = ids
	return ids, nil
}

// hasEmail and hasDomain record that a write gave an entity the key: the page's
// lookups stay exact, and the references waiting for the key are settled with the
// page. An empty key is none.
func (r *resolver) hasEmail(id int64, email string) { r.hasKey(r.lookups.emails, evEmail, id, email) }

func (r *resolver) hasDomain(id int64, domain string) {
	r.hasKey(r.lookups.domains, evDomain, id, domain)
}

// hasKey is hasEmail and hasDomain: m is the lookup of the key, event its link event.
func (r *resolver) hasKey(m map[string][]int64, event int, id int64, key string) {
	if key == "" {
		return
	}
	if ids, ok := m[key]; ok {
		m[key] = insertSorted(ids, id)
	}
	r.push(linkEvent{kind: event, key: key})
}
