package store

import (
	"context"
	"database/sql"
	"fmt"
)

// newRows are the rows a page inserts into accounts, contacts and interactions. Their
// ids are handed out ahead (id), so the page can use them at once, and the rows wait
// here to be written many per INSERT: a statement a row, with RETURNING, was a
// third of a new record's commit.
//
// A waiting row is invisible to SQL, so the rows are written (flush) before any
// statement that could read or write those tables, or refer to them through a
// foreign key: the resolver's statements, its link and crosswalk batches, and
// CommitPage's updates of a record that came twice. What the resolver asks and changes
// most of an account or contact it just created (a contact's account and address, an
// entity's attributes and key) it reads and changes here instead, so that a first
// sync's page stays in batches.
type newRows struct {
	tx      *sql.Tx
	dialect Dialect
	// blocks are the ids handed out ahead, by table. On SQLite the page's transaction
	// is the only writer from BEGIN on, so ids simply continue after the largest
	// (which is what SQLite itself does for an INTEGER PRIMARY KEY). On PostgreSQL
	// other transactions insert at the same time: ids come from the table's identity
	// sequence, a block at a time, and the ones a page does not use are skipped, as
	// those of a rolled-back insert are.
	blocks map[string]*idBlock
	// hints are, by table, how many more ids the page may want at most: the size of
	// a PostgreSQL block.
	hints        map[string]int
	interactions [][]any
	entities     []*newEntity                    // accounts and contacts, in the order created
	byTable      map[string]map[int64]*newEntity // the same, by table and id
}

// newEntity is an account or contact a page created, not written yet.
type newEntity struct {
	table    string // "accounts" or "contacts"
	id       int64
	customer string
	key      string // domain of an account, address of a contact; "" for none
	name     string
	nameKey  string // accounts only
	data     string
	sources  string
	account  int64 // contacts only: account_id, 0 for none
	created  string
	updated  string
}

type idBlock struct {
	next int64   // SQLite: the next id
	ids  []int64 // PostgreSQL: the ids left of the block
}

// newNewRows starts a page's new rows; hints are newRowHints.
func newNewRows(tx *sql.Tx, dialect Dialect, hints map[string]int) *newRows {
	return &newRows{tx: tx, dialect: dialect, blocks: map[string]*idBlock{}, hints: hints, byTable: map[string]map[int64]*newEntity{}}
}

// id hands out the next id of table.
func (n *newRows) id(ctx context.Context, table string) (int64, error) {
	hint := n.hints[table]
	n.hints[table] = max(hint-1, 0)
	b := n.blocks[table]
	if n.dialect == SQLite {
		if b == nil {
			b = &idBlock{}
			// table is one of three constants, never input.
			if err := n.tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM `+table).Scan(&b.next); err != nil {
				return 0, fmt.Errorf("next id of %s: %w", table, err)
			}
			n.blocks[table] = b
		}
		id := b.next
		b.next++
		return id, nil
	}
	if b == nil {
		b = &idBlock{}
		n.blocks[table] = b
	}
	if len(b.ids) == 0 {
		rows, err := n.tx.QueryContext(ctx, `SELECT nextval(pg_get_serial_sequence('`+table+`', 'id')) FROM generate_series(1, ?)`, max(hint, 1))
		if err != nil {
			return 0, fmt.Errorf("ids of %s: %w", table, err)
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return 0, fmt.Errorf("ids of %s: %w", table, err)
			}
			b.ids = append(b.ids, id)
		}
		if err := rows.Close(); err != nil {
			return 0, fmt.Errorf("ids of %s: %w", table, err)
		}
		if len(b.ids) == 0 {
			return 0, fmt.Errorf("ids of %s: the sequence gave none", table)
		}
	}
	id := b.ids[0]
	b.ids = b.ids[1:]
	return id, nil
}

// interaction queues an interactions row: the values of insertInteractionHead's columns.
func (n *newRows) interaction(args []any) { n.interactions = append(n.interactions, args) }

// entity queues an account or contact.
func (n *newRows) entity(e *newEntity) {
	n.entities = append(n.entities, e)
	m := n.byTable[e.table]
	if m == nil {
		m = map[int64]*newEntity{}
		n.byTable[e.table] = m
	}
	m[e.id] = e
}

// waitingEntity is the account or contact with the id if it is not written yet.
func (n *newRows) waitingEntity(table string, id int64) *newEntity { return n.byTable[table][id] }

// Insert statements of the rows, up to VALUES, with the rows a statement writes.
const (
	insertInteractionHead = `INSERT INTO interactions (id, integration_object_id, external_id, kind, data, raw, content_hash, source_updated_at, first_seen_at, updated_at, sync_run_id, deleted_at, parent_id, links_hash) VALUES `
	insertAccountHead     = `INSERT INTO accounts (id, customer_id, domain, name, name_key, data, sources, created_at, updated_at) VALUES `
	insertContactHead     = `INSERT INTO contacts (id, customer_id, email, name, data, sources, account_id, created_at, updated_at) VALUES `
	interactionsPerInsert = 50  // 14 parameters each
	entitiesPerInsert     = 100 // 9 parameters each
)

// flush writes the waiting rows: accounts, then contacts (which may name them), then
// interactions.
func (n *newRows) flush(ctx context.Context) error {
	if len(n.entities) > 0 {
		var accounts, contacts [][]any
		for _, e := range n.entities {
			if e.table == "accounts" {
				accounts = append(accounts, []any{e.id, e.customer, textArg(e.key), textArg(e.name), textArg(e.nameKey), e.data, e.sources, e.created, e.updated})
			} else {
				contacts = append(contacts, []any{e.id, e.customer, textArg(e.key), textArg(e.name), e.data, e.sources, idArg(e.account), e.created, e.updated})
			}
		}
		if err := insertRows(ctx, n.tx, n.dialect, insertAccountHead, "", accounts, entitiesPerInsert); err != nil {
			return fmt.Errorf("insert accounts: %w", err)
		}
		if err := insertRows(ctx, n.tx, n.dialect, insertContactHead, "", contacts, entitiesPerInsert); err != nil {
			return fmt.Errorf("insert contacts: %w", err)
		}
		n.entities = n.entities[:0]
		clear(n.byTable)
	}
	if len(n.interactions) > 0 {
		if err := insertRows(ctx, n.tx, n.dialect, insertInteractionHead, "", n.interactions, interactionsPerInsert); err != nil {
			return fmt.Errorf("insert records: %w", err)
		}
		n.interactions = n.interactions[:0]
	}
	return nil
}
