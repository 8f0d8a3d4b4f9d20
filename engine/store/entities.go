package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/intakehq/intake/engine/jsonx"
)

// MatchKeys are what resolves one record to an Account or Contact, already normalised.
type MatchKeys struct {
	Entity     string         // EntityAccount or EntityContact
	Domain     string         // account: registrable company domain; "" when none
	Name       string         // display name
	NameKey    string         // account: normalised name, set only when matching by name
	Email      string         // contact: normalised address
	EmailOrg   string         // contact: company domain of the address, "" for freemail
	AccountRef string         // contact: the provider's external id of the person's account
	Fields     map[string]any // attributes, merged by survivorship
	Rules      map[string]FieldRule
	At         time.Time // when the provider changed the record: most recent wins
	// Mode is spec.ModeCreate ("" means it too), ModeUpdateOnly or ModeLinkOnly: the
	// last two never create an entity, and link_only never changes one.
	Mode string
}

// Match modes (spec.Mode*).
const (
	modeUpdateOnly = "update_only"
	modeLinkOnly   = "link_only"
)

// creates reports whether a record that matches nothing creates its entity.
func (k *MatchKeys) creates() bool { return k.Mode != modeUpdateOnly && k.Mode != modeLinkOnly }

// FieldRule is how one attribute survives when providers disagree.
type FieldRule struct {
	Prefer        string // this provider's value wins whenever it has one
	FillOnlyEmpty bool   // only fill the attribute when no provider set it yet
}

// resolver runs entity resolution and reference linking for one page inside its
// transaction. Its fields name the integration object whose records it resolves; a
// copy with other fields (forRecord) resolves another object's record in the same
// transaction, sharing the statements and the queue of link events.
type resolver struct {
	s                              *Store
	tx                             *sql.Tx
	typ                            string
	customer, provider, integ, now string
	stmts                          map[string]*sql.Stmt
	lookups                        *lookups
	changes                        *objectChanges // the page's, written when it commits
	rows                           *newRows       // the page's new rows, written before any statement reads them
	*pageLinks
}

// entityTable is the table of each entity.
var entityTable = map[string]string{EntityAccount: "accounts", EntityContact: "contacts"}

// stmt prepares q once per page: statements prepared on the transaction close with it.
// The page's waiting rows are written first, since q runs next and may read them.
func (r *resolver) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if err := r.rows.flush(ctx); err != nil {
		return nil, err
	}
	if st, ok := r.stmts[q]; ok {
		return st, nil
	}
	st, err := r.tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	r.stmts[q] = st
	return st, nil
}

func (r *resolver) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := r.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (r *resolver) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := r.stmt(ctx, q)
	if err != nil {
		// A failed prepare surfaces through Scan, like any query error.
		return r.tx.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// newResolver starts resolution for a page. Resolution reads what other pages of the
// customer wrote (accounts, contacts, crosswalk, waiting references) and decides from
// it, so two pages of one customer must not resolve at the same time: SQLite has one
// writer at a time; on PostgreSQL with concurrent workers, the transaction must first
// serialize on the customer (pg_advisory_xact_lock on it), or a reference written by one
// page could miss the contact another page creates at the same moment.
func (s *Store) newResolver(ctx context.Context, tx *sql.Tx, obj *Object, changes *objectChanges, rows *newRows) (*resolver, error) {
	r := &resolver{s: s, tx: tx, changes: changes, rows: rows, typ: obj.Type, integ: obj.IntegrationID, now: s.ts(), stmts: map[string]*sql.Stmt{}, lookups: newLookups(), pageLinks: &pageLinks{inserted: map[int64]bool{}}}
	err := tx.QueryRowContext(ctx, `SELECT customer_id, provider FROM integrations WHERE id = ?`, obj.IntegrationID).Scan(&r.customer, &r.provider)
	if err != nil {
		return nil, fmt.Errorf("resolve entities of %s: %w", obj.IntegrationID, err)
	}
	return r, nil
}

// resolve finds or creates the record's entity and links the record to it, returning
// the entity's id. Ambiguous matches go to match_reviews instead (id 0). unmatched
// reports a record that matched nothing and, by its mode, created nothing.
func (r *resolver) resolve(ctx context.Context, rec *Record, externalID string, k *MatchKeys) (id int64, unmatched bool, err error) {
	switch k.Entity {
	case EntityAccount:
		id, unmatched, err = r.account(ctx, rec, externalID, k)
	case EntityContact:
		id, unmatched, err = r.contact(ctx, rec, externalID, k)
	default:
		err = fmt.Errorf("unknown entity %q", k.Entity)
	}
	if err != nil {
		return 0, false, fmt.Errorf("resolve %s %s: %w", k.Entity, externalID, err)
	}
	return id, unmatched, nil
}

// changed puts an account or contact change on the change feed.
func (r *resolver) changed(ctx context.Context, entity, op string, id int64, externalID string) error {
	c := Change{Entity: entity, Op: op, EntityID: id, CustomerID: r.customer, IntegrationID: r.integ, Type: r.typ, ExternalID: externalID}
	return r.changes.add(r.now, c)
}

// link finds this provider's record in the crosswalk.
func (r *resolver) link(ctx context.Context, entity, externalID string) (int64, error) {
	return r.crosswalk(ctx, entity, r.provider, externalID)
}

// addLink puts a record in the crosswalk; the references waiting for that provider id
// are resolved again.
func (r *resolver) addLink(ctx context.Context, entity string, id int64, externalID, by string) error {
	// Queued: the page's lookups answer for it until flushCrosswalk writes it.
	r.crosswalkRows = append(r.crosswalkRows, []any{r.customer, entity, id, r.provider, r.integ, externalID, by, r.now})
	r.lookups.crosswalk[crosswalkKey{entity, r.provider, externalID}] = id
	r.push(linkEvent{kind: evLink, entity: entity, provider: r.provider, key: externalID})
	return nil
}

// crosswalkPerInsert is how many crosswalk rows one INSERT writes (8 parameters each).
const crosswalkPerInsert = 100

// flushCrosswalk writes the queued crosswalk rows. A row another writer inserted
// first fails the page on the unique key, which retries it (txRetry).
func (r *resolver) flushCrosswalk(ctx context.Context) error {
	if err := insertRows(ctx, r.tx, r.s.dialect, `INSERT INTO entity_links (customer_id, entity, entity_id, provider, integration_id, external_id, matched_by, created_at) VALUES `,
		"", r.crosswalkRows, crosswalkPerInsert); err != nil {
		return fmt.Errorf("crosswalk: %w", err)
	}
	r.crosswalkRows = r.crosswalkRows[:0]
	return nil
}

func (r *resolver) review(ctx context.Context, entity, externalID, reason string, candidates []int64) error {
	c, _ := json.Marshal(candidates)
	_, err := r.exec(ctx, `INSERT INTO match_reviews (customer_id, entity, provider, integration_id, external_id, reason, candidates, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (customer_id, entity, provider, external_id) DO UPDATE SET reason = excluded.reason, candidates = excluded.candidates, resolved_at = NULL`,
		r.customer, entity, r.provider, r.integ, externalID, reason, string(c), r.now)
	return err
}

func (r *resolver) ids(ctx context.Context, q string, args ...any) ([]int64, error) {
	st, err := r.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func (r *resolver) account(ctx context.Context, rec *Record, ext string, k *MatchKeys) (int64, bool, error) {
	id, err := r.link(ctx, EntityAccount, ext)
	if err != nil {
		return 0, false, err
	}
	linked := id != 0
	by := "crosswalk"
	if id == 0 && k.Domain != "" {
		var found []int64
		if found, err = r.accountsByDomain(ctx, k.Domain); err != nil {
			return 0, false, err
		}
		if len(found) == 1 {
			id, by = found[0], "domain"
		}
	}
	if id == 0 && k.NameKey != "" {
		found, err := r.ids(ctx, `SELECT id FROM accounts WHERE customer_id = ? AND name_key = ? ORDER BY id`, r.customer, k.NameKey)
		if err != nil {
			return 0, false, err
		}
		switch {
		case len(found) == 1:
			id, by = found[0], "name"
		case len(found) > 1:
			return 0, false, r.review(ctx, EntityAccount, ext, fmt.Sprintf("%d accounts are named %q", len(found), k.Name), found)
		}
	}
	switch {
	case id == 0 && !k.creates():
		return 0, true, nil
	case id == 0:
		data, sources := r.created(rec, k)
		if id, err = r.rows.id(ctx, "accounts"); err != nil {
			return 0, false, err
		}
		r.rows.entity(&newEntity{table: "accounts", id: id, customer: r.customer, key: k.Domain, name: k.Name, nameKey: k.NameKey, data: data, sources: sources, created: r.now, updated: r.now})
		by = "created"
		if err := r.changed(ctx, EntityAccount, OpInsert, id, ext); err != nil {
			return 0, false, err
		}
		r.hasDomain(id, k.Domain)
	case k.Mode == modeLinkOnly:
		// Linked, never changed.
	default:
		updated, err := r.update(ctx, EntityAccount, id, ext, k)
		if err != nil {
			return 0, false, err
		}
		if k.Domain != "" && by != "domain" {
			// An account found by crosswalk or name learns its domain, unless another
			// account already holds it: two accounts are never merged silently.
			if err := r.learnKeyChange(ctx, EntityAccount, id, ext, k.Domain, updated); err != nil {
				return 0, false, err
			}
		}
	}
	if !linked {
		if err := r.addLink(ctx, EntityAccount, id, ext, by); err != nil {
			return 0, false, err
		}
	}
	return id, false, nil
}

// contact resolves a contact record. Its account is not set here: the record's
// company reference is an interaction_links row (origin company), resolved when the
// record is stored and again whenever an account that satisfies it appears.
func (r *resolver) contact(ctx context.Context, rec *Record, ext string, k *MatchKeys) (int64, bool, error) {
	id, err := r.link(ctx, EntityContact, ext)
	if err != nil {
		return 0, false, err
	}
	linked := id != 0
	by := "crosswalk"
	if id == 0 && k.Email != "" {
		var found []int64
		if found, err = r.contactsByEmail(ctx, k.Email); err != nil {
			return 0, false, err
		}
		if len(found) == 1 {
			id, by = found[0], "email"
		}
	}
	switch {
	case id == 0 && !k.creates():
		return 0, true, nil
	case id == 0:
		data, sources := r.created(rec, k)
		if id, err = r.rows.id(ctx, "contacts"); err != nil {
			return 0, false, err
		}
		r.rows.entity(&newEntity{table: "contacts", id: id, customer: r.customer, key: k.Email, name: k.Name, data: data, sources: sources, created: r.now, updated: r.now})
		by = "created"
		if err := r.changed(ctx, EntityContact, OpInsert, id, ext); err != nil {
			return 0, false, err
		}
		r.inserted[id] = true
		r.hasEmail(id, k.Email)
	case k.Mode == modeLinkOnly:
		// Linked, never changed.
	default:
		updated, err := r.update(ctx, EntityContact, id, ext, k)
		if err != nil {
			return 0, false, err
		}
		if k.Email != "" && by != "email" {
			if err := r.learnKeyChange(ctx, EntityContact, id, ext, k.Email, updated); err != nil {
				return 0, false, err
			}
		}
	}
	if !linked {
		if err := r.addLink(ctx, EntityContact, id, ext, by); err != nil {
			return 0, false, err
		}
	}
	return id, false, nil
}

// Giving an account found by other means its domain, or a contact its address:
// only one without, and only when no other of the customer's has it.
const (
	learnDomainSQL = `UPDATE accounts SET domain = ? WHERE id = ? AND domain IS NULL
		AND NOT EXISTS (SELECT 1 FROM accounts o WHERE o.customer_id = ? AND o.domain = ?)`
	learnEmailSQL = `UPDATE contacts SET email = ? WHERE id = ? AND email IS NULL
		AND NOT EXISTS (SELECT 1 FROM contacts o WHERE o.customer_id = ? AND o.email = ?)`
)

// learnKeyChange is learnKey for the entity a record resolved to, which puts it on
// the change feed when it learned its key and survivorship did not already (updated).
func (r *resolver) learnKeyChange(ctx context.Context, entity string, id int64, ext, key string, updated bool) error {
	learned, err := r.learnKey(ctx, entityTable[entity], id, key)
	if err != nil || !learned || updated {
		return err
	}
	return r.changed(ctx, entity, OpUpdate, id, ext)
}

// learnKey gives the account or contact id (table) its domain or address key, as
// learnDomainSQL and learnEmailSQL do, and reports whether it did. One the page
// created and has not written yet learns it where it waits.
func (r *resolver) learnKey(ctx context.Context, table string, id int64, key string) (bool, error) {
	learned := r.hasDomain
	find, q := r.accountsByDomain, learnDomainSQL
	if table == "contacts" {
		learned, find, q = r.hasEmail, r.contactsByEmail, learnEmailSQL
	}
	if e := r.rows.waitingEntity(table, id); e != nil {
		if e.key != "" {
			return false, nil
		}
		holders, err := find(ctx, key)
		if err != nil || len(holders) > 0 {
			return false, err
		}
		// find may have written the waiting rows: e is then the row to update.
		if r.rows.waitingEntity(table, id) != nil {
			e.key = key
			learned(id, key)
			return true, nil
		}
	}
	res, err := r.exec(ctx, q, key, id, r.customer, key)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	if n > 0 {
		learned(id, key)
	}
	return n > 0, nil
}

// created are the attributes of the entity a record creates.
func (r *resolver) created(rec *Record, k *MatchKeys) (data, sources string) {
	if rec != nil && rec.prep != nil && rec.prep.provider == r.provider && rec.prep.data != "" {
		return rec.prep.data, rec.prep.sources
	}
	return createdAttributes(k, r.provider)
}

// createdAttributes is merge into an entity that has no attributes yet, which every
// non-null field of the record sets, encoded without building the maps: it runs for
// every record of a first sync.
func createdAttributes(k *MatchKeys, provider string) (data, sources string) {
	keys := make([]string, 0, len(k.Fields))
	for f, v := range k.Fields {
		if v != nil {
			keys = append(keys, f)
		}
	}
	slices.Sort(keys)
	at := k.At.UTC().Format(time.RFC3339Nano)
	// Both documents in one buffer, and one string cut in two: this runs for every
	// record of a first sync, and separate buffers and strings were a tenth of its
	// allocations.
	var b strings.Builder
	b.Grow(len(keys)*64 + len(at) + len(provider) + 48)
	scratch := make([]byte, 0, 128)
	b.WriteByte('{')
	for i, f := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		scratch = jsonxAppendString(scratch[:0], f)
		b.Write(scratch)
		b.WriteByte(':')
		var err error
		if scratch, err = jsonx.Append(scratch[:0], k.Fields[f], true); err != nil {
			return merge(map[string]any{}, map[string]attrSource{}, k, provider) // what encoding/json makes of it
		}
		b.Write(scratch)
	}
	b.WriteByte('}')
	split := b.Len()
	// Every field has the same source: one group (encodeSources).
	if len(keys) == 0 {
		b.WriteString("[]")
	} else {
		b.WriteByte('[')
		b.Write(appendSourceGroup(scratch[:0], attrSource{provider: provider, at: at}, keys))
		b.WriteByte(']')
	}
	both := b.String()
	return both[:split], both[split:]
}

// jsonxAppendString appends s encoded as a JSON string, as encoding/json does.
func jsonxAppendString(b []byte, s string) []byte { return jsonx.AppendString(b, s, true) }

// update merges a record's attributes into an existing entity by survivorship. It
// reports whether they changed, which puts the entity on the change feed.
func (r *resolver) update(ctx context.Context, entity string, id int64, ext string, k *MatchKeys) (bool, error) {
	table := entityTable[entity]
	var dataText, sourcesText string
	waiting := r.rows.waitingEntity(table, id)
	if waiting != nil {
		// Created by this page and not written yet: merged where it waits.
		dataText, sourcesText = waiting.data, waiting.sources
	} else if err := r.queryRow(ctx, `SELECT data, sources FROM `+table+` WHERE id = ?`, id).Scan(&dataText, &sourcesText); err != nil {
		return false, err
	}
	var data map[string]any
	if err := json.Unmarshal([]byte(dataText), &data); err != nil {
		return false, err
	}
	sources, err := decodeSources(sourcesText)
	if err != nil {
		return false, err
	}
	before := maps.Clone(sources)
	newData, newSources := merge(data, sources, k, r.provider)
	// Compared as sources, not as text: a row in the older form of the column is
	// not a change.
	if newData == dataText && maps.Equal(before, sources) {
		return false, nil
	}
	name, _ := data["name"].(string)
	if waiting != nil {
		waiting.data, waiting.sources, waiting.updated = newData, newSources, r.now
		if name != "" {
			waiting.name = name
		}
	} else if _, err := r.exec(ctx, `UPDATE `+table+` SET data = ?, sources = ?, name = COALESCE(?, name), updated_at = ? WHERE id = ?`,
		newData, newSources, nullStr(name), r.now, id); err != nil {
		return false, err
	}
	return true, r.changed(ctx, entity, OpUpdate, id, ext)
}

// merge applies a record's attributes to an entity's: by default the most recently
// changed record wins each attribute; a rule may prefer one provider or only fill
// empty attributes. A null never erases a value.
func merge(data map[string]any, sources map[string]attrSource, k *MatchKeys, provider string) (string, string) {
	at := k.At.UTC().Format(time.RFC3339Nano)
	for field, v := range k.Fields {
		if v == nil {
			continue
		}
		rule := k.Rules[field]
		src, hasSrc := sources[field]
		cur, has := data[field]
		switch {
		case rule.FillOnlyEmpty && has && cur != nil:
			continue
		case rule.Prefer != "" && provider != rule.Prefer && src.provider == rule.Prefer:
			continue
		case rule.Prefer == "" && !rule.FillOnlyEmpty && hasSrc && src.provider != provider && laterThan(src.at, at):
			continue
		}
		data[field] = v
		sources[field] = attrSource{provider: provider, at: at}
	}
	d, _ := jsonx.Marshal(data)
	return string(d), encodeSources(sources)
}

// laterThan compares two RFC 3339 times.
func laterThan(a, b string) bool {
	ta, err1 := time.Parse(time.RFC3339Nano, a)
	tb, err2 := time.Parse(time.RFC3339Nano, b)
	return err1 == nil && err2 == nil && ta.After(tb)
}
