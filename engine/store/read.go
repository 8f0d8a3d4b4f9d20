package store

// Read-only queries behind the processor CLI (intake accounts, contacts, runs,
// quarantine, reviews): typed results and filter structs. A list is one query for its
// rows, whose contact counts are correlated subqueries seeking contacts_account, plus
// one grouped query per linkChunk rows for their links (entity_links_entity): never a
// query per row. The SQL is portable (no group_concat), for the PostgreSQL dialect.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Attribute is one attribute of an account or contact with where its value came from:
// the provider and time that survivorship kept (accounts.sources).
type Attribute struct {
	Name     string
	Value    json.RawMessage
	Provider string    // "" when sources does not say
	At       time.Time // when the provider changed the record; zero when unknown
}

// EntityLink is one provider record linked to an account or contact (entity_links).
type EntityLink struct {
	ID            int64
	Provider      string
	IntegrationID string
	ExternalID    string
	MatchedBy     string // crosswalk, domain, email, name or created
	CreatedAt     time.Time
}

// AccountFilter narrows ListAccounts; zero fields match everything.
type AccountFilter struct {
	CustomerID string
	Domain     string // exact registrable domain, as stored (lower case)
	Search     string // substring of the name or the domain, ignoring ASCII letter case
	Limit      int    // 0: all
}

// AccountSummary is one row of ListAccounts.
type AccountSummary struct {
	ID           int64
	CustomerID   string
	Domain       string
	Name         string
	ContactCount int      // contacts attached to the account
	LinkCount    int      // provider records linked to it
	Providers    []string // distinct providers of those links, sorted
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// ContactRef names a contact.
type ContactRef struct {
	ID    int64
	Email string
	Name  string
}

// LinkedInteraction is a stored interaction of an account or contact.
type LinkedInteraction struct {
	Provider string
	// Via says how it belongs to the entity: ViaRecord for the entity's own records
	// in each provider (the crosswalk), else how its reference resolved (ByCrosswalk,
	// ByDomain, ByEmail, ByContact).
	Via string
	Interaction
}

// ViaRecord marks an account's or contact's own provider record among its interactions.
const ViaRecord = "record"

// TypeCount is how many interactions of one interaction type an entity has.
type TypeCount struct {
	Type  string
	Count int
}

// AccountDetail is one account with its attributes, links, contacts and latest
// interactions.
type AccountDetail struct {
	AccountSummary
	Data       json.RawMessage // merged attributes, as stored
	Attributes []Attribute     // Data with sources, sorted by name
	Links      []EntityLink    // sorted by provider, external id
	// Contacts holds the first AccountContactsShown contacts by id; ContactCount is
	// how many there are.
	Contacts []ContactRef
	// Interactions are the account's latest interactions by interaction type, across
	// providers (up to the perType asked for, most recently changed in the provider
	// first, else most recently stored): its own records in each
	// provider, and the records linked to it (a ticket of its organization or of one
	// of its people, a deal for it). Sorted by interaction type, then newest first.
	Interactions []LinkedInteraction
	// InteractionCounts says how many there are of each type, sorted by type.
	InteractionCounts []TypeCount
}

// How much Account returns of an account's contacts and interactions.
const (
	AccountContactsShown = 100
	LatestPerType        = 5
)

// likePattern is a LIKE pattern matching text anywhere, ignoring ASCII case; compare it
// with LOWER(column) LIKE ? ESCAPE '\'.
func likePattern(text string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(text)) + "%"
}

// linkChunk is how many entity ids one query for their links names.
const linkChunk = 500

// linkSummary is how many provider records are linked to an entity, and from which
// providers.
type linkSummary struct {
	count     int
	providers []string // sorted
}

// linkSummaries counts the links of the given accounts or contacts, by provider, in
// one grouped query per linkChunk ids (entity_links_entity).
func (s *Store) linkSummaries(ctx context.Context, entity string, ids []int64) (map[int64]*linkSummary, error) {
	out := make(map[int64]*linkSummary, len(ids))
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), linkChunk)]
		ids = ids[len(chunk):]
		args := []any{entity}
		for _, id := range chunk {
			args = append(args, id)
		}
		rows, err := s.db.QueryContext(ctx, `SELECT entity_id, provider, COUNT(*) FROM entity_links
			WHERE entity = ? AND entity_id IN (?`+strings.Repeat(", ?", len(chunk)-1)+`) GROUP BY entity_id, provider ORDER BY entity_id, provider`, args...)
		if err != nil {
			return nil, fmt.Errorf("links: %w", err)
		}
		for rows.Next() {
			var id int64
			var provider string
			var n int
			if err := rows.Scan(&id, &provider, &n); err != nil {
				rows.Close()
				return nil, fmt.Errorf("links: %w", err)
			}
			l := out[id]
			if l == nil {
				l = &linkSummary{}
				out[id] = l
			}
			l.count += n
			l.providers = append(l.providers, provider)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("links: %w", err)
		}
	}
	return out, nil
}

// linkSummaryOf is linkSummaries for the links of one entity already read.
func linkSummaryOf(links []EntityLink) *linkSummary {
	l := &linkSummary{count: len(links), providers: []string{}}
	seen := map[string]bool{}
	for _, k := range links {
		if !seen[k.Provider] {
			seen[k.Provider] = true
			l.providers = append(l.providers, k.Provider)
		}
	}
	sort.Strings(l.providers)
	return l
}

// accountCols reads an account and how many contacts it has (a subquery seeking
// contacts_account, run for the rows returned only: see ListAccounts).
const accountCols = `a.id, a.customer_id, COALESCE(a.domain, ''), COALESCE(a.name, ''), a.created_at, a.updated_at,
	(SELECT COUNT(*) FROM contacts c WHERE c.account_id = a.id)`

func scanAccountSummary(row interface{ Scan(...any) error }, extra ...any) (*AccountSummary, error) {
	a := AccountSummary{Providers: []string{}}
	var created, updated sql.NullString
	dest := append([]any{&a.ID, &a.CustomerID, &a.Domain, &a.Name, &created, &updated, &a.ContactCount}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	a.CreatedAt, a.UpdatedAt = parseTS(created), parseTS(updated)
	return &a, nil
}

// ListAccounts returns accounts, most recently changed first.
func (s *Store) ListAccounts(ctx context.Context, f AccountFilter) ([]*AccountSummary, error) {
	// The page is chosen first, so the counting subqueries run for its rows only.
	inner := `SELECT a.id, a.customer_id, a.domain, a.name, a.created_at, a.updated_at FROM accounts a WHERE 1 = 1`
	var args []any
	if f.CustomerID != "" {
		inner += ` AND a.customer_id = ?`
		args = append(args, f.CustomerID)
	}
	if f.Domain != "" {
		inner += ` AND a.domain = ?`
		args = append(args, f.Domain)
	}
	if f.Search != "" {
		p := likePattern(f.Search)
		inner += ` AND (LOWER(a.name) LIKE ? ESCAPE '\' OR a.domain LIKE ? ESCAPE '\')`
		args = append(args, p, p)
	}
	inner += ` ORDER BY a.updated_at DESC, a.id DESC`
	if f.Limit > 0 {
		inner += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	q := `SELECT ` + accountCols + ` FROM (` + inner + `) a ORDER BY a.updated_at DESC, a.id DESC`
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	defer rows.Close()
	out := []*AccountSummary{}
	var ids []int64
	for rows.Next() {
		a, err := scanAccountSummary(rows)
		if err != nil {
			return nil, fmt.Errorf("list accounts: %w", err)
		}
		out = append(out, a)
		ids = append(ids, a.ID)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	rows.Close()
	links, err := s.linkSummaries(ctx, EntityAccount, ids)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	for _, a := range out {
		if l := links[a.ID]; l != nil {
			a.LinkCount, a.Providers = l.count, l.providers
		}
	}
	return out, nil
}

// Account returns one account with its attributes, links, contacts and latest
// LatestPerType interactions of each type. It is ErrNotFound when there is no such
// account.
func (s *Store) Account(ctx context.Context, id int64) (*AccountDetail, error) {
	return s.AccountDetail(ctx, "", id, LatestPerType)
}

// AccountDetail returns one account of a customer ("": any customer) with its
// attributes, links, contacts and its latest perType (<= 0: LatestPerType)
// interactions of each interaction type. It is ErrNotFound when the customer has no
// such account.
func (s *Store) AccountDetail(ctx context.Context, customerID string, id int64, perType int) (*AccountDetail, error) {
	if perType <= 0 {
		perType = LatestPerType
	}
	var data, sources string
	sum, err := scanAccountSummary(s.db.QueryRowContext(ctx, `SELECT `+accountCols+`, a.data, a.sources FROM accounts a WHERE a.id = ? AND (? = '' OR a.customer_id = ?)`,
		id, customerID, customerID), &data, &sources)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("account %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("account %d: %w", id, err)
	}
	d := &AccountDetail{AccountSummary: *sum, Data: json.RawMessage(data)}
	if d.Attributes, err = attributes(data, sources); err != nil {
		return nil, fmt.Errorf("account %d: %w", id, err)
	}
	if d.Links, err = s.links(ctx, EntityAccount, id); err != nil {
		return nil, fmt.Errorf("account %d: %w", id, err)
	}
	l := linkSummaryOf(d.Links)
	d.LinkCount, d.Providers = l.count, l.providers
	if d.Contacts, err = s.accountContacts(ctx, id); err != nil {
		return nil, fmt.Errorf("account %d: %w", id, err)
	}
	if d.Interactions, d.InteractionCounts, err = s.entityInteractions(ctx, EntityAccount, id, perType); err != nil {
		return nil, fmt.Errorf("account %d: %w", id, err)
	}
	return d, nil
}

// attributes pairs each attribute of data with its source.
func attributes(data, sources string) ([]Attribute, error) {
	var values map[string]json.RawMessage
	if err := json.Unmarshal([]byte(data), &values); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	srcs, err := decodeSources(sources)
	if err != nil {
		return nil, err
	}
	out := make([]Attribute, 0, len(values))
	for name, v := range values {
		a := Attribute{Name: name, Value: v}
		if src, ok := srcs[name]; ok {
			a.Provider = src.provider
			a.At, _ = time.Parse(time.RFC3339Nano, src.at)
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// links returns the provider records linked to one account or contact (through the
// entity_links_entity index).
func (s *Store) links(ctx context.Context, entity string, id int64) ([]EntityLink, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, provider, integration_id, external_id, matched_by, created_at FROM entity_links
		WHERE entity = ? AND entity_id = ? ORDER BY provider, external_id`, entity, id)
	if err != nil {
		return nil, fmt.Errorf("links: %w", err)
	}
	defer rows.Close()
	out := []EntityLink{}
	for rows.Next() {
		var l EntityLink
		var created sql.NullString
		if err := rows.Scan(&l.ID, &l.Provider, &l.IntegrationID, &l.ExternalID, &l.MatchedBy, &created); err != nil {
			return nil, fmt.Errorf("links: %w", err)
		}
		l.CreatedAt = parseTS(created)
		out = append(out, l)
	}
	return out, rows.Err()
}

func (s *Store) accountContacts(ctx context.Context, id int64) ([]ContactRef, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, COALESCE(email, ''), COALESCE(name, '') FROM contacts WHERE account_id = ? ORDER BY id LIMIT ?`, id, AccountContactsShown)
	if err != nil {
		return nil, fmt.Errorf("contacts: %w", err)
	}
	defer rows.Close()
	out := []ContactRef{}
	for rows.Next() {
		var c ContactRef
		if err := rows.Scan(&c.ID, &c.Email, &c.Name); err != nil {
			return nil, fmt.Errorf("contacts: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// entityInteractionsSQL finds an account's or contact's interactions two ways and
// keeps the latest of each interaction type. Its own records: from its links in the
// crosswalk (entity_links_entity) to the customer's integrations of each linked
// provider, their objects, and the interaction with the linked external id (the
// unique index on object + external id); CROSS JOIN is an inner join that keeps this
// order on SQLite, whose planner might otherwise start from every interaction of the
// kind (interactions_kind). The records that refer to it: interaction_links_entity
// (a contact record's company reference is not an interaction of the account: the
// account lists its contacts). Then each interaction by primary key. Latest means
// most recently changed in the provider (the incremental cursor), else stored.
// Interactions deleted at the source are left out.
const entityInteractionsSQL = `SELECT provider, via, id, integration_id, interaction_type, external_id, kind, data, source_updated_at, first_seen_at, updated_at, total FROM (
	SELECT m.provider, m.via, i.id, o.integration_id, o.interaction_type, i.external_id, i.kind, i.data,
		COALESCE(i.source_updated_at, '') AS source_updated_at, i.first_seen_at, i.updated_at,
		COALESCE(i.source_updated_at, i.updated_at) AS changed_at,
		ROW_NUMBER() OVER (PARTITION BY o.interaction_type ORDER BY COALESCE(i.source_updated_at, i.updated_at) DESC, i.id DESC) AS n,
		COUNT(*) OVER (PARTITION BY o.interaction_type) AS total
	FROM (
		SELECT g.provider, 'record' AS via, i.id AS interaction_id
		FROM entity_links l CROSS JOIN integrations g CROSS JOIN integration_objects o CROSS JOIN interactions i
		WHERE l.entity = ? AND l.entity_id = ?
			AND g.customer_id = l.customer_id AND g.provider = l.provider
			AND o.integration_id = g.id
			AND i.integration_object_id = o.id AND i.external_id = l.external_id AND i.kind = ?
		UNION ALL
		SELECT k.provider, k.resolved_by, k.interaction_id FROM interaction_links k
		WHERE k.role = ? AND k.entity_id = ? AND k.origin <> 'company'
	) m CROSS JOIN interactions i CROSS JOIN integration_objects o
	WHERE i.id = m.interaction_id AND o.id = i.integration_object_id AND i.deleted_at IS NULL
	) latest WHERE n <= ? ORDER BY interaction_type, changed_at DESC, id DESC`

// entityInteractions returns an account's or contact's latest perType interactions of
// each interaction type, and how many it has of each.
func (s *Store) entityInteractions(ctx context.Context, entity string, id int64, perType int) ([]LinkedInteraction, []TypeCount, error) {
	rows, err := s.db.QueryContext(ctx, entityInteractionsSQL, entity, id, entity, entity, id, perType)
	if err != nil {
		return nil, nil, fmt.Errorf("interactions: %w", err)
	}
	defer rows.Close()
	out := []LinkedInteraction{}
	counts := []TypeCount{}
	for rows.Next() {
		var it LinkedInteraction
		var data string
		var total int
		if err := rows.Scan(&it.Provider, &it.Via, &it.ID, &it.IntegrationID, &it.Type, &it.ExternalID, &it.Kind, &data, &it.SourceUpdatedAt, &it.FirstSeenAt, &it.UpdatedAt, &total); err != nil {
			return nil, nil, fmt.Errorf("interactions: %w", err)
		}
		it.Data = json.RawMessage(data)
		out = append(out, it)
		if len(counts) == 0 || counts[len(counts)-1].Type != it.Type {
			counts = append(counts, TypeCount{Type: it.Type, Count: total})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("interactions: %w", err)
	}
	return out, counts, nil
}

// ContactFilter narrows ListContacts; zero fields match everything.
type ContactFilter struct {
	CustomerID string
	AccountID  int64
	Email      string // exact normalised address (lower case)
	Search     string // substring of the name or the address, ignoring ASCII letter case
	Limit      int    // 0: all
}

// ContactSummary is one row of ListContacts.
type ContactSummary struct {
	ID            int64
	CustomerID    string
	Email         string
	Name          string
	AccountID     int64 // 0 when the contact has no account (yet)
	AccountDomain string
	AccountName   string
	LinkCount     int
	Providers     []string // distinct providers of the links, sorted
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// ContactDetail is one contact with its attributes, links and latest interactions.
type ContactDetail struct {
	ContactSummary
	Data       json.RawMessage
	Attributes []Attribute
	Links      []EntityLink
	// Interactions are the contact's latest interactions by interaction type, across
	// providers, as for an account: its own records and the records that refer to it.
	Interactions      []LinkedInteraction
	InteractionCounts []TypeCount
}

const contactCols = `c.id, c.customer_id, COALESCE(c.email, ''), COALESCE(c.name, ''), COALESCE(c.account_id, 0),
	COALESCE(a.domain, ''), COALESCE(a.name, ''), c.created_at, c.updated_at`

func scanContactSummary(row interface{ Scan(...any) error }, extra ...any) (*ContactSummary, error) {
	c := ContactSummary{Providers: []string{}}
	var created, updated sql.NullString
	dest := append([]any{&c.ID, &c.CustomerID, &c.Email, &c.Name, &c.AccountID, &c.AccountDomain, &c.AccountName, &created, &updated}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = parseTS(created), parseTS(updated)
	return &c, nil
}

// ListContacts returns contacts, most recently changed first, with their account.
func (s *Store) ListContacts(ctx context.Context, f ContactFilter) ([]*ContactSummary, error) {
	inner := `SELECT c.id, c.customer_id, c.email, c.name, c.account_id, c.created_at, c.updated_at FROM contacts c WHERE 1 = 1`
	var args []any
	if f.CustomerID != "" {
		inner += ` AND c.customer_id = ?`
		args = append(args, f.CustomerID)
	}
	if f.AccountID != 0 {
		inner += ` AND c.account_id = ?`
		args = append(args, f.AccountID)
	}
	if f.Email != "" {
		inner += ` AND c.email = ?`
		args = append(args, f.Email)
	}
	if f.Search != "" {
		p := likePattern(f.Search)
		inner += ` AND (LOWER(c.name) LIKE ? ESCAPE '\' OR c.email LIKE ? ESCAPE '\')`
		args = append(args, p, p)
	}
	inner += ` ORDER BY c.updated_at DESC, c.id DESC`
	if f.Limit > 0 {
		inner += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	q := `SELECT ` + contactCols + ` FROM (` + inner + `) c LEFT JOIN accounts a ON a.id = c.account_id ORDER BY c.updated_at DESC, c.id DESC`
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list contacts: %w", err)
	}
	defer rows.Close()
	out := []*ContactSummary{}
	var ids []int64
	for rows.Next() {
		c, err := scanContactSummary(rows)
		if err != nil {
			return nil, fmt.Errorf("list contacts: %w", err)
		}
		out = append(out, c)
		ids = append(ids, c.ID)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list contacts: %w", err)
	}
	rows.Close()
	links, err := s.linkSummaries(ctx, EntityContact, ids)
	if err != nil {
		return nil, fmt.Errorf("list contacts: %w", err)
	}
	for _, c := range out {
		if l := links[c.ID]; l != nil {
			c.LinkCount, c.Providers = l.count, l.providers
		}
	}
	return out, nil
}

// Contact returns one contact with its account, attributes, links and latest
// LatestPerType interactions of each type. It is ErrNotFound when there is no such
// contact.
func (s *Store) Contact(ctx context.Context, id int64) (*ContactDetail, error) {
	return s.ContactDetail(ctx, "", id, LatestPerType)
}

// ContactDetail returns one contact of a customer ("": any customer) with its
// account, attributes, links and its latest perType (<= 0: LatestPerType)
// interactions of each interaction type. It is ErrNotFound when the customer has no
// such contact.
func (s *Store) ContactDetail(ctx context.Context, customerID string, id int64, perType int) (*ContactDetail, error) {
	if perType <= 0 {
		perType = LatestPerType
	}
	var data, sources string
	sum, err := scanContactSummary(s.db.QueryRowContext(ctx, `SELECT `+contactCols+`, c.data, c.sources FROM contacts c LEFT JOIN accounts a ON a.id = c.account_id
		WHERE c.id = ? AND (? = '' OR c.customer_id = ?)`, id, customerID, customerID), &data, &sources)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("contact %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("contact %d: %w", id, err)
	}
	d := &ContactDetail{ContactSummary: *sum, Data: json.RawMessage(data)}
	if d.Attributes, err = attributes(data, sources); err != nil {
		return nil, fmt.Errorf("contact %d: %w", id, err)
	}
	if d.Links, err = s.links(ctx, EntityContact, id); err != nil {
		return nil, fmt.Errorf("contact %d: %w", id, err)
	}
	l := linkSummaryOf(d.Links)
	d.LinkCount, d.Providers = l.count, l.providers
	if d.Interactions, d.InteractionCounts, err = s.entityInteractions(ctx, EntityContact, id, perType); err != nil {
		return nil, fmt.Errorf("contact %d: %w", id, err)
	}
	return d, nil
}

// RunFilter narrows ListRuns; zero fields match everything.
type RunFilter struct {
	IntegrationID string
	Status        string // RunRunning, RunSucceeded, ...
	Limit         int    // 0: all
}

// RunSummary is a sync run with the integration object it synced.
type RunSummary struct {
	Run
	IntegrationID string
	CustomerID    string
	Type          string // interaction type
}

// Duration is how long the run took; for a run still going, how long it has run by
// now. Zero when the run has no start time.
func (r RunSummary) Duration(now time.Time) time.Duration {
	switch {
	case r.StartedAt.IsZero():
		return 0
	case r.FinishedAt.IsZero():
		return now.Sub(r.StartedAt)
	default:
		return r.FinishedAt.Sub(r.StartedAt)
	}
}

// ListRuns returns sync runs, newest first.
func (s *Store) ListRuns(ctx context.Context, f RunFilter) ([]*RunSummary, error) {
	q := `SELECT r.id, r.integration_object_id, r.started_at, r.finished_at, r.status, r.cursor_before, r.cursor_after, r.pages,
		r.records_new, r.records_updated, r.records_unchanged, r.records_quarantined, r.records_filtered, r.records_unmatched, r.records_deleted, r.error, r.error_class, r.owner,
		o.integration_id, g.customer_id, o.interaction_type
		FROM sync_runs r JOIN integration_objects o ON o.id = r.integration_object_id JOIN integrations g ON g.id = o.integration_id WHERE 1 = 1`
	var args []any
	if f.IntegrationID != "" {
		q += ` AND o.integration_id = ?`
		args = append(args, f.IntegrationID)
	}
	if f.Status != "" {
		q += ` AND r.status = ?`
		args = append(args, f.Status)
	}
	// Ids grow with start times: newest first is the primary key backwards.
	q += ` ORDER BY r.id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	out := []*RunSummary{}
	for rows.Next() {
		var r RunSummary
		var started, finished, before, after, errMsg, class, owner sql.NullString
		if err := rows.Scan(&r.ID, &r.ObjectID, &started, &finished, &r.Status, &before, &after, &r.Pages,
			&r.RecordsNew, &r.RecordsUpdated, &r.RecordsUnchanged, &r.RecordsQuarantined, &r.RecordsFiltered, &r.RecordsUnmatched, &r.RecordsDeleted, &errMsg, &class, &owner,
			&r.IntegrationID, &r.CustomerID, &r.Type); err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		r.StartedAt, r.FinishedAt = parseTS(started), parseTS(finished)
		r.CursorBefore, r.CursorAfter, r.Error, r.ErrorClass, r.Owner = before.String, after.String, errMsg.String, class.String, owner.String
		out = append(out, &r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return out, nil
}

// QuarantineFilter narrows ListQuarantine; zero fields match everything.
type QuarantineFilter struct {
	IntegrationID string
	RunID         int64
	Limit         int  // 0: all
	WithRaw       bool // also read each record's raw payload (it may be large)
}

// QuarantineEntry is a record that could not be stored, with why.
type QuarantineEntry struct {
	ID            int64
	IntegrationID string
	Type          string // interaction type
	RunID         int64  // 0 when unknown
	ExternalID    string // "" when the record had none
	Reason        string
	Raw           json.RawMessage // nil unless QuarantineFilter.WithRaw
	CreatedAt     time.Time
}

// ListQuarantine returns quarantined records, newest first.
func (s *Store) ListQuarantine(ctx context.Context, f QuarantineFilter) ([]*QuarantineEntry, error) {
	raw := `NULL`
	if f.WithRaw {
		raw = `q.raw`
	}
	q := `SELECT q.id, o.integration_id, o.interaction_type, COALESCE(q.sync_run_id, 0), COALESCE(q.external_id, ''), q.reason, ` + raw + `, q.created_at
		FROM quarantine q JOIN integration_objects o ON o.id = q.integration_object_id WHERE 1 = 1`
	var args []any
	if f.IntegrationID != "" {
		q += ` AND o.integration_id = ?`
		args = append(args, f.IntegrationID)
	}
	if f.RunID != 0 {
		q += ` AND q.sync_run_id = ?`
		args = append(args, f.RunID)
	}
	q += ` ORDER BY q.id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	defer rows.Close()
	out := []*QuarantineEntry{}
	for rows.Next() {
		var e QuarantineEntry
		var rawText, created sql.NullString
		if err := rows.Scan(&e.ID, &e.IntegrationID, &e.Type, &e.RunID, &e.ExternalID, &e.Reason, &rawText, &created); err != nil {
			return nil, fmt.Errorf("list quarantine: %w", err)
		}
		if rawText.Valid {
			e.Raw = json.RawMessage(rawText.String)
		}
		e.CreatedAt = parseTS(created)
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	return out, nil
}

// ReviewFilter narrows ListReviews; zero fields match everything.
type ReviewFilter struct {
	CustomerID string
	Limit      int // 0: all
}

// MatchReview is a record that matched several accounts or contacts and was left
// unlinked for a person to decide.
type MatchReview struct {
	ID            int64
	CustomerID    string
	Entity        string // EntityAccount or EntityContact
	Provider      string
	IntegrationID string
	ExternalID    string
	Reason        string
	Candidates    []int64 // ids of the accounts or contacts it matched
	CreatedAt     time.Time
}

// ListReviews returns the open (unresolved) match reviews, oldest first.
func (s *Store) ListReviews(ctx context.Context, f ReviewFilter) ([]*MatchReview, error) {
	q := `SELECT id, customer_id, entity, provider, integration_id, external_id, reason, candidates, created_at
		FROM match_reviews WHERE resolved_at IS NULL`
	var args []any
	if f.CustomerID != "" {
		q += ` AND customer_id = ?`
		args = append(args, f.CustomerID)
	}
	q += ` ORDER BY id`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list match reviews: %w", err)
	}
	defer rows.Close()
	out := []*MatchReview{}
	for rows.Next() {
		var r MatchReview
		var candidates string
		var created sql.NullString
		if err := rows.Scan(&r.ID, &r.CustomerID, &r.Entity, &r.Provider, &r.IntegrationID, &r.ExternalID, &r.Reason, &candidates, &created); err != nil {
			return nil, fmt.Errorf("list match reviews: %w", err)
		}
		if err := json.Unmarshal([]byte(candidates), &r.Candidates); err != nil {
			return nil, fmt.Errorf("list match reviews: review %d: candidates: %w", r.ID, err)
		}
		if r.Candidates == nil {
			r.Candidates = []int64{}
		}
		r.CreatedAt = parseTS(created)
		out = append(out, &r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list match reviews: %w", err)
	}
	return out, nil
}
