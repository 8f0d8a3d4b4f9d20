package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Entities whose changes the feed records.
const (
	EntityInteraction = "interaction"
	EntityAccount     = "account"
	EntityContact     = "contact"
)

// Operations the feed records.
const (
	OpInsert = "insert"
	OpUpdate = "update"
	OpDelete = "delete"
)

// How many changes one call to Changes returns.
const (
	DefaultChangeLimit = 1000
	MaxChangeLimit     = 10000
)

// Change is one entry of the change feed: an insert, update or delete of an
// interaction, account or contact. Seq is its position: every change takes the next
// value of one monotonic sequence, and a value is never handed out twice, so a
// consumer can remember the last Seq it processed and ask for what came after it.
type Change struct {
	Seq      int64
	At       time.Time
	Entity   string // EntityInteraction, EntityAccount or EntityContact
	Op       string // OpInsert, OpUpdate or OpDelete
	EntityID int64  // row id in interactions, accounts or contacts
	// Who the change belongs to. IntegrationID, Type and ExternalID are "" for changes
	// that no single integration object made (a merged account, say).
	CustomerID    string
	IntegrationID string
	Type          string // interaction type
	ExternalID    string
}

// ChangeFilter narrows Changes.
type ChangeFilter struct {
	Since      int64  // only changes with Seq > Since; 0 reads from the beginning
	Limit      int    // at most this many; <= 0 means DefaultChangeLimit, capped at MaxChangeLimit
	CustomerID string // "" matches every customer
	Entity     string // "" matches every entity
}

const (
	insertChangeHead = `INSERT INTO changes (at, entity, entity_id, op, customer_id, integration_id, interaction_type, external_id) VALUES `
	insertChangeSQL  = insertChangeHead + `(?, ?, ?, ?, ?, ?, ?, ?)`
)

func checkEntity(e string) error {
	switch e {
	case EntityInteraction, EntityAccount, EntityContact:
		return nil
	}
	return fmt.Errorf("entity %q: use %s, %s or %s", e, EntityInteraction, EntityAccount, EntityContact)
}

func checkChange(c Change) error {
	if err := checkEntity(c.Entity); err != nil {
		return fmt.Errorf("record change: %w", err)
	}
	switch c.Op {
	case OpInsert, OpUpdate, OpDelete:
	default:
		return fmt.Errorf("record change: op %q: use %s, %s or %s", c.Op, OpInsert, OpUpdate, OpDelete)
	}
	if c.EntityID <= 0 {
		return fmt.Errorf("record change: %s %s: entity id %d is not a row id", c.Op, c.Entity, c.EntityID)
	}
	return nil
}

func changeArgs(at string, c Change) []any {
	return []any{at, c.Entity, c.EntityID, c.Op, textArg(c.CustomerID), textArg(c.IntegrationID), textArg(c.Type), textArg(c.ExternalID)}
}

// RecordChange appends c to the change feed inside tx, the transaction that makes the
// change, so the feed holds a change if and only if it committed. c.Seq is ignored (the
// database assigns it); a zero c.At means now. Code that holds the Store should prefer
// RecordChangeTx, which takes the time from the store's clock.
func RecordChange(ctx context.Context, tx *sql.Tx, c Change) error {
	if err := checkChange(c); err != nil {
		return err
	}
	if c.At.IsZero() {
		c.At = time.Now()
	}
	if _, err := tx.ExecContext(ctx, insertChangeSQL, changeArgs(formatTS(c.At), c)...); err != nil {
		return fmt.Errorf("record change: %s %s %d: %w", c.Op, c.Entity, c.EntityID, err)
	}
	return nil
}

// RecordChangeTx is RecordChange with a zero c.At taken from the store's clock. Call it
// from the transaction that inserts, updates or deletes the entity (accounts and
// contacts record their changes this way).
func (s *Store) RecordChangeTx(ctx context.Context, tx *sql.Tx, c Change) error {
	if c.At.IsZero() {
		c.At = s.now()
	}
	return RecordChange(ctx, tx, c)
}

// objectChanges records the changes of one page of an integration object: its
// interactions', and the accounts' and contacts' its resolution made. It keeps them
// until flush, which the page's transaction calls last, just before it commits: on
// PostgreSQL appending to the feed takes a lock that is held until the commit (see
// postgresSetup), so the later the feed is written, the less concurrent pages wait
// for each other. A page of unchanged records costs nothing; the changes of a page
// are written with a statement per hundred.
type objectChanges struct {
	tx       *sql.Tx
	dialect  Dialect
	objectID int64
	at       string
	pending  []pendingChange
	// expect is how many changes to make room for at the first: a page's changes
	// grown one append at a time cost twice their size in allocations.
	expect int
}

type pendingChange struct {
	Change
	at    string
	owned bool // CustomerID, IntegrationID and Type are set; otherwise they are the object's
}

func newObjectChanges(tx *sql.Tx, d Dialect, objectID int64, at string) *objectChanges {
	return &objectChanges{tx: tx, dialect: d, objectID: objectID, at: at}
}

func (o *objectChanges) record(_ context.Context, op string, id int64, externalID string) error {
	c := Change{Entity: EntityInteraction, Op: op, EntityID: id, ExternalID: externalID}
	if err := checkChange(c); err != nil {
		return err
	}
	o.pending = append(o.grown(), pendingChange{Change: c, at: o.at})
	return nil
}

// add records a change of any entity, with its owner set, at the given time.
func (o *objectChanges) add(at string, c Change) error {
	if err := checkChange(c); err != nil {
		return err
	}
	o.pending = append(o.grown(), pendingChange{Change: c, at: at, owned: true})
	return nil
}

// grown is pending, with room for expect changes once the first comes: a page
// of unchanged records makes none.
func (o *objectChanges) grown() []pendingChange {
	if o.pending == nil && o.expect > 0 {
		o.pending = make([]pendingChange, 0, o.expect)
	}
	return o.pending
}

// changesPerInsert is how many changes one INSERT writes (8 parameters each).
const changesPerInsert = 100

// flush writes the recorded changes, in the order they were recorded: a multi-row
// INSERT assigns seq in the order of its VALUES.
func (o *objectChanges) flush(ctx context.Context) error {
	if len(o.pending) == 0 {
		return nil
	}
	var owner Change
	for _, p := range o.pending {
		if p.owned {
			continue
		}
		err := o.tx.QueryRowContext(ctx, `SELECT i.customer_id, o.integration_id, o.interaction_type FROM integration_objects o JOIN integrations i ON i.id = o.integration_id WHERE o.id = ?`, o.objectID).
			Scan(&owner.CustomerID, &owner.IntegrationID, &owner.Type)
		if err != nil {
			return fmt.Errorf("record change: integration object %d: %w", o.objectID, err)
		}
		break
	}
	rows := make([][]any, len(o.pending))
	for i, p := range o.pending {
		c := p.Change
		if !p.owned {
			c.CustomerID, c.IntegrationID, c.Type = owner.CustomerID, owner.IntegrationID, owner.Type
		}
		rows[i] = changeArgs(p.at, c)
	}
	if err := insertRows(ctx, o.tx, o.dialect, insertChangeHead, "", rows, changesPerInsert); err != nil {
		return fmt.Errorf("record changes: %w", err)
	}
	o.pending = nil
	return nil
}

// Changes returns the changes after f.Since that match f, in Seq order. To read the
// whole feed, call it again with Since set to the Seq of the last change returned,
// until it returns fewer than the limit.
func (s *Store) Changes(ctx context.Context, f ChangeFilter) ([]Change, error) {
	if f.Since < 0 {
		return nil, fmt.Errorf("changes: since %d: positions start at 0", f.Since)
	}
	if f.Entity != "" {
		if err := checkEntity(f.Entity); err != nil {
			return nil, fmt.Errorf("changes: %w", err)
		}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultChangeLimit
	}
	limit = min(limit, MaxChangeLimit)
	q := `SELECT seq, at, entity, entity_id, op, customer_id, integration_id, interaction_type, external_id FROM changes WHERE seq > ?`
	args := []any{f.Since}
	if f.CustomerID != "" {
		q += ` AND customer_id = ?`
		args = append(args, f.CustomerID)
	}
	if f.Entity != "" {
		q += ` AND entity = ?`
		args = append(args, f.Entity)
	}
	q += ` ORDER BY seq LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	defer rows.Close()
	out := []Change{}
	for rows.Next() {
		var c Change
		var at, cust, integ, typ, ext sql.NullString
		if err := rows.Scan(&c.Seq, &at, &c.Entity, &c.EntityID, &c.Op, &cust, &integ, &typ, &ext); err != nil {
			return nil, fmt.Errorf("changes: %w", err)
		}
		c.At = parseTS(at)
		c.CustomerID, c.IntegrationID, c.Type, c.ExternalID = cust.String, integ.String, typ.String, ext.String
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	return out, nil
}

// LastChange returns the Seq of the latest change in the feed, 0 when it is empty. A
// consumer that only wants what happens from now on starts from it.
func (s *Store) LastChange(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM changes`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("last change: %w", err)
	}
	return seq, nil
}
