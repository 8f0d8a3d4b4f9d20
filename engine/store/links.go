package store

// Linking interactions to accounts and contacts (docs/linking.md).
//
// Every reference a stored record makes is a row of interaction_links: a ticket's
// requester (role contact, origin ref), its organization (role account, origin ref) or,
// when it names no account, its contact's account (origin contact); a contact record's
// company (origin company), which sets the contact's account; and an update_only or
// link_only record that matched nothing yet (origin self). A row holds the keys the
// record named and what they resolved to, or why they did not.
//
// Rows are written with their record, in the page's transaction, and resolved there.
// Whatever later creates or changes an account or contact in a way that could satisfy
// a reference (a crosswalk link, a new account domain, a new contact address, a
// contact's account) queues a link event; the page's events are handled before it
// commits, a few keys at a time, by indexed lookups of the rows they could satisfy. Every resolution
// is a function of what is stored, and a stronger key (the crosswalk) replaces a
// weaker one (domain, e-mail) when it appears, so the links end up the same whatever
// order the records arrived in.

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Ref is one reference of a record to an account or a contact (an interaction type's
// links), its keys already normalised. A Ref with no key names nothing.
type Ref struct {
	Role   string // EntityAccount or EntityContact
	Type   string // the interaction type whose external ids ID holds; "" when not said
	ID     string // the provider's external id of the account or contact
	Email  string // contact: normalised address
	Domain string // account: registrable domain
	Name   string // a label for reports; never matched
}

func (r Ref) named() bool { return r.ID != "" || r.Email != "" || r.Domain != "" }

// Origins of interaction_links rows.
const (
	OriginRef     = "ref"     // the record names the entity (links)
	OriginContact = "contact" // the account of the record's contact: it names no account
	OriginCompany = "company" // a contact record's company: sets the contact's account
	OriginSelf    = "self"    // an update_only or link_only record that matched nothing yet
)

// Why a reference is unresolved (interaction_links.reason).
const (
	ReasonNotFound          = "not_found"          // no account or contact has the keys
	ReasonAmbiguous         = "ambiguous"          // several have them: never a guess
	ReasonNoAccount         = "no_account"         // the record's contact has no account
	ReasonContactUnresolved = "contact_unresolved" // the record's contact is unresolved
	ReasonUnmatched         = "unmatched"          // origin self: nothing to update or link to
)

// Reasons lists the reasons, for flag checks and reports.
var Reasons = []string{ReasonNotFound, ReasonAmbiguous, ReasonNoAccount, ReasonContactUnresolved, ReasonUnmatched}

// How a reference resolved (interaction_links.resolved_by).
const (
	ByCrosswalk = "crosswalk"
	ByDomain    = "domain"
	ByEmail     = "email"
	ByContact   = "contact"
)

// linkRow is one row of interaction_links.
type linkRow struct {
	id            int64
	interactionID int64
	role, origin  string
	provider      string
	refType       string
	refID         string
	refEmail      string
	refDomain     string
	refName       string
	contactID     int64
	entityID      int64
	by            string
	reason        string
	detail        string
	matchKeys     string
}

const linkRowCols = `id, interaction_id, role, origin, provider, COALESCE(ref_type, ''), COALESCE(ref_id, ''), COALESCE(ref_email, ''),
	COALESCE(ref_domain, ''), COALESCE(ref_name, ''), COALESCE(contact_id, 0), COALESCE(entity_id, 0), COALESCE(resolved_by, ''),
	COALESCE(reason, ''), COALESCE(detail, ''), COALESCE(match_keys, '')`

func (l *linkRow) scan(row interface{ Scan(...any) error }) error {
	return row.Scan(&l.id, &l.interactionID, &l.role, &l.origin, &l.provider, &l.refType, &l.refID, &l.refEmail,
		&l.refDomain, &l.refName, &l.contactID, &l.entityID, &l.by, &l.reason, &l.detail, &l.matchKeys)
}

// sameOutcome reports whether two rows resolved the same way.
func (l *linkRow) sameOutcome(o *linkRow) bool {
	return l.entityID == o.entityID && l.by == o.by && l.reason == o.reason && l.detail == o.detail && l.contactID == o.contactID
}

// Link events: something that may satisfy waiting references.
const (
	evLink           = iota + 1 // a provider record joined the crosswalk: entity, provider, key (external id)
	evDomain                    // an account got a domain: key
	evEmail                     // a contact got an address: key
	evContactAccount            // a contact's account changed: id
)

type linkEvent struct {
	kind     int
	entity   string
	provider string
	key      string
	id       int64
}

// pageLinks is the linking state of one page's transaction, shared by the resolver
// and its copies for other integration objects.
type pageLinks struct {
	// upserts are interaction_links rows written but not yet sent: they go a batch
	// at a time, before anything reads or deletes rows of the table (flushLinks).
	upserts  [][]any        // nil: dropped (unpend)
	upsertAt map[[2]any]int // (interaction id, role) -> index in upserts
	// unpended are the interactions whose pending (origin self) rows are to go, in a
	// batch before the queued upserts (which may add one again).
	unpended []any
	// oldRoles are the reference rows (not self) that the page's stored records had
	// when it began, by interaction, read at once (prefetchOldLinks); rewritten are the
	// records whose rows the page has written since, for which they are stale.
	oldRoles  map[int64][]oldLink
	rewritten map[int64]bool
	// crosswalk rows not yet sent: nothing reads them but the page's lookups, which
	// hold them already; they go when the page ends.
	crosswalkRows [][]any
	events        []linkEvent
	// inserted are the contacts this page created, whose inserts are on the change feed
	// in this transaction already: setting their account is not another change.
	inserted map[int64]bool
}

func (p *pageLinks) push(e linkEvent) { p.events = append(p.events, e) }

// forRecord is a copy of the resolver for a record of another integration object.
func (r *resolver) forRecord(provider, integ, typ string) *resolver {
	c := *r
	c.provider, c.integ, c.typ = provider, integ, typ
	return &c
}

// linkStep is what CommitPage did with a record before linking it.
type linkStep struct {
	resolved  bool  // its match keys were resolved (new or changed account or contact)
	existed   bool  // it was stored before this page
	relink    bool  // its reference rows are to be rewritten
	unmatched bool  // resolved, matched nothing, and its mode creates nothing
	entity    int64 // resolved: the account or contact it is; 0 when none
}

// linkRecord brings a stored record's interaction_links rows up to date. What it and
// its resolution may satisfy is settled with the rest of the page.
func (r *resolver) linkRecord(ctx context.Context, interactionID int64, rec *Record, want []linkRow, step linkStep) error {
	switch {
	case step.unmatched:
		if err := r.pend(ctx, interactionID, rec.Match); err != nil {
			return err
		}
	case step.resolved && step.existed:
		if err := r.unpend(ctx, interactionID); err != nil {
			return err
		}
	}
	if step.relink {
		return r.writeLinks(ctx, interactionID, rec.ExternalID, want, step)
	}
	return nil
}

// wantLinks are the reference rows (all but self) a record should have, contacts
// first: an account may come from the record's contact.
func wantLinks(rec *Record) []linkRow {
	var out []linkRow
	named := map[string]bool{}
	for _, role := range []string{EntityContact, EntityAccount} {
		for _, ref := range rec.Refs {
			if ref.Role != role || !ref.named() || named[role] {
				continue
			}
			named[role] = true
			out = append(out, linkRow{role: role, origin: OriginRef, refType: ref.Type, refID: ref.ID,
				refEmail: ref.Email, refDomain: ref.Domain, refName: ref.Name})
		}
	}
	if named[EntityContact] && !named[EntityAccount] {
		out = append(out, linkRow{role: EntityAccount, origin: OriginContact})
	}
	if k := rec.Match; k != nil && k.Entity == EntityContact && k.Mode != modeLinkOnly && (k.AccountRef != "" || k.EmailOrg != "") {
		out = append(out, linkRow{role: EntityAccount, origin: OriginCompany, refID: k.AccountRef, refDomain: k.EmailOrg})
	}
	return out
}

// linksHash is a digest of a record's reference rows, "" for none. The provider is
// the integration's, the same for every record of an object: it is left out.
func linksHash(rows []linkRow) string {
	if len(rows) == 0 {
		return ""
	}
	h := sha256.New()
	for _, l := range rows {
		for _, f := range []string{l.role, l.origin, l.refType, l.refID, l.refEmail, l.refDomain, l.refName} {
			h.Write([]byte(f))
			h.Write([]byte{0})
		}
		h.Write([]byte{1})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// writeLinks replaces a stored record's reference rows (all but self) with want and
// resolves them. The record was just stored: its company reference sets its contact's
// account whichever way it resolved.
func (r *resolver) writeLinks(ctx context.Context, interactionID int64, externalID string, want []linkRow, step linkStep) error {
	if step.existed {
		// Roles it no longer refers to go; the others are overwritten below.
		roles := map[string]bool{}
		for _, l := range want {
			roles[l.role] = true
		}
		old, err := r.oldLinks(ctx, interactionID)
		if err != nil {
			return err
		}
		for _, o := range old {
			if !roles[o.role] {
				if _, err := r.exec(ctx, `DELETE FROM interaction_links WHERE id = ?`, o.id); err != nil {
					return err
				}
			}
		}
	}
	if r.rewritten == nil {
		r.rewritten = map[int64]bool{}
	}
	r.rewritten[interactionID] = true
	var err error
	var contact int64 // what the record's contact reference resolved to
	for i := range want {
		l := &want[i]
		l.interactionID, l.provider = interactionID, r.provider
		switch l.origin {
		case OriginContact:
			l.contactID = contact
		case OriginCompany:
			// The contact the record is: just resolved, or as the crosswalk has it.
			l.contactID = step.entity
			if !step.resolved {
				if l.contactID, err = r.link(ctx, EntityContact, externalID); err != nil {
					return err
				}
			}
		}
		if err := r.evaluate(ctx, l); err != nil {
			return err
		}
		if l.role == EntityContact {
			contact = l.entityID
		}
		if err := r.upsertLink(ctx, l); err != nil {
			return err
		}
		if l.origin == OriginCompany && l.entityID != 0 && l.contactID != 0 {
			if err := r.setContactAccount(ctx, l.contactID, l.entityID, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// An interaction's reference of one role, written keeping the row's id: the INSERT up
// to its VALUES, one row, and what a conflict on (interaction, role) updates.
const (
	upsertLinkHead = `INSERT INTO interaction_links (customer_id, interaction_id, role, origin, provider, ref_type, ref_id, ref_email, ref_domain, ref_name,
		contact_id, entity_id, resolved_by, reason, detail, match_keys, updated_at)
	VALUES `
	upsertLinkConflict = `
	ON CONFLICT (interaction_id, role) DO UPDATE SET origin = excluded.origin, provider = excluded.provider, ref_type = excluded.ref_type,
		ref_id = excluded.ref_id, ref_email = excluded.ref_email, ref_domain = excluded.ref_domain, ref_name = excluded.ref_name,
		contact_id = excluded.contact_id, entity_id = excluded.entity_id, resolved_by = excluded.resolved_by, reason = excluded.reason,
		detail = excluded.detail, match_keys = excluded.match_keys, updated_at = excluded.updated_at`
	// upsertLinkSQL writes one, returning its id.
	upsertLinkSQL = upsertLinkHead + `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)` + upsertLinkConflict + `
	RETURNING id`
)

// upsertLink queues a reference row; flushLinks writes it. A row queued again for
// the same interaction and role replaces the queued one: PostgreSQL refuses an
// INSERT that upserts one row twice.
func (r *resolver) upsertLink(_ context.Context, l *linkRow) error {
	args := []any{r.customer, l.interactionID, l.role, l.origin, l.provider, textArg(l.refType), textArg(l.refID), textArg(l.refEmail), textArg(l.refDomain),
		textArg(l.refName), idArg(l.contactID), idArg(l.entityID), textArg(l.by), textArg(l.reason), textArg(l.detail), textArg(l.matchKeys), r.now}
	key := [2]any{l.interactionID, l.role}
	if i, ok := r.upsertAt[key]; ok {
		r.upserts[i] = args
		return nil
	}
	if r.upsertAt == nil {
		r.upsertAt = map[[2]any]int{}
	}
	r.upsertAt[key] = len(r.upserts)
	r.upserts = append(r.upserts, args)
	return nil
}

// linksPerUpsert is how many reference rows one statement writes (17 parameters each).
const linksPerUpsert = 50

// flushLinks writes the queued reference rows, in the order queued.
func (r *resolver) flushLinks(ctx context.Context) error {
	if len(r.upserts) == 0 && len(r.unpended) == 0 {
		return nil
	}
	// The rows name interactions, accounts and contacts that may still wait.
	if err := r.rows.flush(ctx); err != nil {
		return err
	}
	if len(r.unpended) > 0 {
		if err := execInChunks(ctx, r.tx, unpendSQL, []any{OriginSelf}, r.unpended); err != nil {
			return fmt.Errorf("references: %w", err)
		}
		r.unpended = r.unpended[:0]
	}
	live := slices.DeleteFunc(r.upserts, func(a []any) bool { return a == nil })
	if err := insertRows(ctx, r.tx, r.s.dialect, upsertLinkHead, upsertLinkConflict, live, linksPerUpsert); err != nil {
		return fmt.Errorf("references: %w", err)
	}
	r.upserts, r.upsertAt = r.upserts[:0], nil
	return nil
}

// linkRows reads the interaction_links rows of this customer that match where.
func (r *resolver) linkRows(ctx context.Context, where string, args ...any) ([]linkRow, error) {
	if err := r.flushLinks(ctx); err != nil {
		return nil, err
	}
	st, err := r.stmt(ctx, `SELECT `+linkRowCols+` FROM interaction_links WHERE customer_id = ? AND `+where+` ORDER BY id`)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, append([]any{r.customer}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []linkRow
	for rows.Next() {
		var l linkRow
		if err := l.scan(rows); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// source names where a reference's id comes from: "zendesk" or "zendesk/organizations".
func (l *linkRow) source() string {
	if l.refType != "" {
		return l.provider + "/" + l.refType
	}
	return l.provider
}

// evaluate resolves a reference row (not self) from what is stored now: the
// crosswalk first, then the domain or address; for origin contact, the account of the
// record's contact. Zero or several candidates leave it unresolved with the reason.
func (r *resolver) evaluate(ctx context.Context, l *linkRow) error {
	l.entityID, l.by, l.reason, l.detail = 0, "", "", ""
	if l.origin == OriginContact {
		if l.contactID == 0 {
			l.reason, l.detail = ReasonContactUnresolved, "names no account, and its contact is unresolved"
			return nil
		}
		var account sql.NullInt64
		var email string
		if c := r.rows.waitingEntity("contacts", l.contactID); c != nil {
			account, email = nullInt(c.account), c.key
		} else if err := r.queryRow(ctx, `SELECT account_id, COALESCE(email, '') FROM contacts WHERE id = ?`, l.contactID).Scan(&account, &email); err != nil {
			return fmt.Errorf("contact %d: %w", l.contactID, err)
		}
		if !account.Valid {
			// Named by address, not row id: the reason reads the same whatever order
			// the records arrived in.
			who := email
			if who == "" {
				who = strconv.FormatInt(l.contactID, 10)
			}
			l.reason, l.detail = ReasonNoAccount, fmt.Sprintf("names no account, and its contact %s has none", who)
			return nil
		}
		l.entityID, l.by = account.Int64, ByContact
		return nil
	}
	var looked []string
	if l.refID != "" {
		id, err := r.crosswalk(ctx, l.role, l.provider, l.refID)
		if err != nil {
			return err
		}
		if id != 0 {
			l.entityID, l.by = id, ByCrosswalk
			return nil
		}
		looked = append(looked, fmt.Sprintf("%s id %s", l.source(), l.refID))
	}
	key, value, find, by := "domain", l.refDomain, r.accountsByDomain, ByDomain
	if l.role == EntityContact {
		key, value, find, by = "email", l.refEmail, r.contactsByEmail, ByEmail
	}
	if value != "" {
		found, err := find(ctx, value)
		if err != nil {
			return err
		}
		// The detail counts at most 10, as it always has.
		found = found[:min(len(found), 10)]
		switch {
		case len(found) == 1:
			l.entityID, l.by = found[0], by
			return nil
		case len(found) > 1:
			l.reason, l.detail = ReasonAmbiguous, fmt.Sprintf("%d %ss have %s %s", len(found), l.role, key, value)
			return nil
		}
		looked = append(looked, key+" "+value)
	}
	l.reason, l.detail = ReasonNotFound, fmt.Sprintf("no %s with %s", l.role, strings.Join(looked, " or "))
	return nil
}

// Setting a contact's account: only where it has none, or over another one. Both
// affect no row when the contact already has that account.
const (
	fillContactAccountSQL = `UPDATE contacts SET account_id = ?, updated_at = ? WHERE id = ? AND account_id IS NULL`
	setContactAccountSQL  = `UPDATE contacts SET account_id = ?, updated_at = ? WHERE id = ? AND (account_id IS NULL OR account_id <> ?)`
)

// setContactAccount sets a contact's account. force sets it over another account (the
// reference of a record just stored, or one resolved through the crosswalk); otherwise
// it only fills a contact without one.
func (r *resolver) setContactAccount(ctx context.Context, contact, account int64, force bool) error {
	if c := r.rows.waitingEntity("contacts", contact); c != nil {
		// Created by this page and not written yet: set where it waits, as the
		// statements below would.
		if c.account == account || (c.account != 0 && !force) {
			return nil
		}
		c.account, c.updated = account, r.now
	} else {
		q, args := fillContactAccountSQL, []any{account, r.now, contact}
		if force {
			q, args = setContactAccountSQL, append(args, account)
		}
		res, err := r.exec(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("set the account of contact %d: %w", contact, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
	}
	r.push(linkEvent{kind: evContactAccount, id: contact})
	if r.inserted[contact] {
		return nil
	}
	return r.changed(ctx, EntityContact, OpUpdate, contact, "")
}

// pend records a record of an update_only or link_only type that matched nothing,
// with its keys, so that it is matched when an account or contact with them appears.
func (r *resolver) pend(ctx context.Context, interactionID int64, k *MatchKeys) error {
	stored, err := json.Marshal(storedKeys{Entity: k.Entity, Domain: k.Domain, Name: k.Name, NameKey: k.NameKey, Email: k.Email,
		EmailOrg: k.EmailOrg, AccountRef: k.AccountRef, Mode: k.Mode, Rules: k.Rules, At: k.At})
	if err != nil {
		return err
	}
	l := &linkRow{interactionID: interactionID, role: k.Entity, origin: OriginSelf, provider: r.provider, refDomain: k.Domain,
		refEmail: k.Email, refName: k.Name, reason: ReasonUnmatched, matchKeys: string(stored)}
	var keys []string
	switch {
	case k.Entity == EntityContact:
		l.refDomain = ""
		if k.Email != "" {
			keys = append(keys, "email "+k.Email)
		}
	default:
		if k.Domain != "" {
			keys = append(keys, "domain "+k.Domain)
		}
		if k.NameKey != "" {
			keys = append(keys, fmt.Sprintf("name %q", k.Name))
		}
	}
	key := "this " + r.provider + " id"
	if len(keys) > 0 {
		key = strings.Join(keys, " or ")
	}
	l.detail = fmt.Sprintf("%s: no %s with %s", k.Mode, k.Entity, key)
	return r.upsertLink(ctx, l)
}

// unpend forgets that a record is waiting for its entity.
// Queued, like the upserts: a changed record of a matching type is unpended every
// time, and a statement each (with the upserts written before it) broke the page's
// batches. A pending row queued for it is dropped.
func (r *resolver) unpend(_ context.Context, interactionID int64) error {
	for _, role := range []string{EntityAccount, EntityContact} {
		key := [2]any{interactionID, role}
		if i, ok := r.upsertAt[key]; ok && r.upserts[i][3] == OriginSelf {
			r.upserts[i] = nil
			delete(r.upsertAt, key)
		}
	}
	r.unpended = append(r.unpended, interactionID)
	return nil
}

// oldLink is a stored reference row: its id and role.
type oldLink struct {
	id   int64
	role string
}

// oldLinksSQL reads the reference rows (not self) of interactions, a list of ids after it.
const oldLinksSQL = `SELECT interaction_id, id, role FROM interaction_links WHERE origin <> ? AND interaction_id IN `

// prefetchOldLinks reads the reference rows of the page's stored records at once:
// reading them a record at a time, with the page's queued rows written before each
// read, broke the page's batches for every changed record.
func (r *resolver) prefetchOldLinks(ctx context.Context, interactionIDs []int64) error {
	if r.oldRoles == nil {
		r.oldRoles = map[int64][]oldLink{}
	}
	for _, id := range interactionIDs {
		r.oldRoles[id] = nil
	}
	return inChunks(ctx, r.tx, oldLinksSQL, []any{OriginSelf}, interactionIDs, func(rows *sql.Rows) error {
		var interaction int64
		var l oldLink
		if err := rows.Scan(&interaction, &l.id, &l.role); err != nil {
			return err
		}
		r.oldRoles[interaction] = append(r.oldRoles[interaction], l)
		return nil
	})
}

// oldLinks are the reference rows (not self) an interaction has now: as read ahead,
// unless the page has written its rows since (a record that came twice).
func (r *resolver) oldLinks(ctx context.Context, interactionID int64) ([]oldLink, error) {
	if old, ok := r.oldRoles[interactionID]; ok && !r.rewritten[interactionID] {
		return old, nil
	}
	rows, err := r.linkRows(ctx, `interaction_id = ? AND origin <> ?`, interactionID, OriginSelf)
	if err != nil {
		return nil, err
	}
	out := make([]oldLink, len(rows))
	for i, l := range rows {
		out[i] = oldLink{id: l.id, role: l.role}
	}
	return out, nil
}

// unpendSQL deletes the pending rows of interactions, a list of ids after it.
const unpendSQL = `DELETE FROM interaction_links WHERE origin = ? AND interaction_id IN `

// storedKeys are the match keys of a pending record (interaction_links.match_keys);
// its attributes are its stored data.
type storedKeys struct {
	Entity     string               `json:"entity"`
	Domain     string               `json:"domain,omitempty"`
	Name       string               `json:"name,omitempty"`
	NameKey    string               `json:"name_key,omitempty"`
	Email      string               `json:"email,omitempty"`
	EmailOrg   string               `json:"email_org,omitempty"`
	AccountRef string               `json:"account_ref,omitempty"`
	Mode       string               `json:"mode"`
	Rules      map[string]FieldRule `json:"rules,omitempty"`
	At         time.Time            `json:"at"`
}

// The rows each link event could satisfy, after customer_id = ? (linkRows), each an
// index seek (TestLinkLookupsUseIndexes): references to a provider id, resolved or not
// (the crosswalk beats a domain or address); unresolved references to a domain or an
// address; accounts taken from a contact. The last column is compared with IN, a
// chunk of keys at a time.
const (
	settleLinkWhere    = `role = ? AND provider = ? AND origin IN (?, ?) AND ref_id IN `
	settleDomainWhere  = `entity_id IS NULL AND role = ? AND ref_domain IN `
	settleEmailWhere   = `entity_id IS NULL AND role = ? AND ref_email IN `
	settleContactWhere = `origin = ? AND contact_id IN `
)

// settleChunk is how many keys one lookup names. Shorter chunks are padded with their
// last key, so each lookup is one prepared statement.
const settleChunk = 32

// inList is "(?, ?, ...)" for settleChunk keys.
var inList = "(" + strings.TrimSuffix(strings.Repeat("?, ", settleChunk), ", ") + ")"

// settle handles the queued link events until none is left: each kind of event looks
// up the rows its keys could satisfy and resolves them again, which may queue more.
func (r *resolver) settle(ctx context.Context) error {
	for len(r.events) > 0 {
		events := r.events
		r.events = nil
		type group struct {
			where string
			fixed []any
			keys  []any
		}
		var groups []*group
		byKey := map[string]*group{}
		seen := make(map[linkEvent]bool, len(events))
		for _, ev := range events {
			if seen[ev] {
				continue
			}
			seen[ev] = true
			var g *group
			name := fmt.Sprint(ev.kind, "\x00", ev.entity, "\x00", ev.provider)
			if g = byKey[name]; g == nil {
				g = &group{}
				switch ev.kind {
				case evLink:
					g.where, g.fixed = settleLinkWhere, []any{ev.entity, ev.provider, OriginRef, OriginCompany}
				case evDomain:
					g.where, g.fixed = settleDomainWhere, []any{EntityAccount}
				case evEmail:
					g.where, g.fixed = settleEmailWhere, []any{EntityContact}
				case evContactAccount:
					g.where, g.fixed = settleContactWhere, []any{OriginContact}
				}
				byKey[name] = g
				groups = append(groups, g)
			}
			if ev.kind == evContactAccount {
				g.keys = append(g.keys, ev.id)
			} else {
				g.keys = append(g.keys, ev.key)
			}
		}
		for _, g := range groups {
			for len(g.keys) > 0 {
				chunk := g.keys[:min(len(g.keys), settleChunk)]
				g.keys = g.keys[len(chunk):]
				args := append(append([]any(nil), g.fixed...), chunk...)
				for len(args) < len(g.fixed)+settleChunk {
					args = append(args, chunk[len(chunk)-1])
				}
				rows, err := r.linkRows(ctx, g.where+inList, args...)
				if err != nil {
					return fmt.Errorf("link references: %w", err)
				}
				for _, l := range rows {
					if err := r.reresolveID(ctx, l.id); err != nil {
						return fmt.Errorf("link references of interaction %d: %w", l.interactionID, err)
					}
				}
			}
		}
	}
	return nil
}

// reresolveID resolves a row again as it is stored now: an earlier row of the same
// lookup may have changed it.
func (r *resolver) reresolveID(ctx context.Context, id int64) error {
	rows, err := r.linkRows(ctx, `id = ?`, id)
	if err != nil || len(rows) == 0 {
		return err // a row deleted since: nothing to do
	}
	return r.reresolve(ctx, &rows[0])
}

// reresolve resolves a stored row again and carries the consequences: a record's
// account that comes from its contact follows the contact; a contact record's company
// sets the contact's account; a pending record is matched.
func (r *resolver) reresolve(ctx context.Context, l *linkRow) error {
	if l.origin == OriginSelf {
		return r.retryPending(ctx, l)
	}
	before := *l
	if err := r.evaluate(ctx, l); err != nil {
		return err
	}
	if l.sameOutcome(&before) {
		return nil
	}
	if _, err := r.exec(ctx, `UPDATE interaction_links SET contact_id = ?, entity_id = ?, resolved_by = ?, reason = ?, detail = ?, updated_at = ? WHERE id = ?`,
		nullInt(l.contactID), nullInt(l.entityID), nullStr(l.by), nullStr(l.reason), nullStr(l.detail), r.now, l.id); err != nil {
		return err
	}
	switch {
	case l.role == EntityContact && l.origin == OriginRef && l.entityID != before.entityID:
		accounts, err := r.linkRows(ctx, `interaction_id = ? AND role = ? AND origin = ?`, l.interactionID, EntityAccount, OriginContact)
		if err != nil {
			return err
		}
		for i := range accounts {
			accounts[i].contactID = l.entityID
			if err := r.reresolve(ctx, &accounts[i]); err != nil {
				return err
			}
		}
	case l.origin == OriginCompany && l.entityID != 0 && l.contactID != 0:
		return r.setContactAccount(ctx, l.contactID, l.entityID, l.by == ByCrosswalk)
	}
	return nil
}

// retryPending matches a pending update_only or link_only record again, as its own
// integration object would; when it matches, it is linked (and, update_only, merged)
// and stops waiting.
func (r *resolver) retryPending(ctx context.Context, l *linkRow) error {
	var ext, data, integ, typ, provider string
	err := r.queryRow(ctx, `SELECT i.external_id, i.data, o.integration_id, o.interaction_type, g.provider
		FROM interactions i JOIN integration_objects o ON o.id = i.integration_object_id JOIN integrations g ON g.id = o.integration_id
		WHERE i.id = ?`, l.interactionID).Scan(&ext, &data, &integ, &typ, &provider)
	if err != nil {
		return fmt.Errorf("pending record: %w", err)
	}
	var sk storedKeys
	if err := json.Unmarshal([]byte(l.matchKeys), &sk); err != nil {
		return fmt.Errorf("pending record %s: match keys: %w", ext, err)
	}
	k := &MatchKeys{Entity: sk.Entity, Domain: sk.Domain, Name: sk.Name, NameKey: sk.NameKey, Email: sk.Email, EmailOrg: sk.EmailOrg,
		AccountRef: sk.AccountRef, Mode: sk.Mode, Rules: sk.Rules, At: sk.At}
	dec := json.NewDecoder(strings.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&k.Fields); err != nil {
		return fmt.Errorf("pending record %s: data: %w", ext, err)
	}
	rec := r.forRecord(provider, integ, typ)
	id, _, err := rec.resolve(ctx, nil, ext, k)
	if err != nil || id == 0 {
		return err
	}
	if err := rec.unpend(ctx, l.interactionID); err != nil {
		return err
	}
	if k.Entity != EntityContact {
		return nil
	}
	// The contact exists now: its record's company reference can set its account.
	companies, err := rec.linkRows(ctx, `interaction_id = ? AND origin = ?`, l.interactionID, OriginCompany)
	if err != nil {
		return err
	}
	for _, c := range companies {
		if _, err := rec.exec(ctx, `UPDATE interaction_links SET contact_id = ?, updated_at = ? WHERE id = ?`, id, r.now, c.id); err != nil {
			return err
		}
		if c.entityID != 0 {
			if err := rec.setContactAccount(ctx, id, c.entityID, true); err != nil {
				return err
			}
		}
	}
	return nil
}
