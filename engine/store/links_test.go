package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ticket stores a ticket of the integration with its references.
func (f *readFixture) ticket(integration, id string, refs ...Ref) PageResult {
	f.t.Helper()
	data, _ := json.Marshal(map[string]any{"subject": "ticket " + id, "refs": refs})
	obj, run := f.object(integration, "tickets")
	res, err := f.s.CommitPage(context.Background(), run, obj, Page{Records: []Record{{ExternalID: id, Kind: "ticket", Data: data, Raw: data, Hash: string(data), Refs: refs}}})
	require.NoError(f.t, err)
	return res
}

// linkOf is what one interaction's reference of a role resolved to.
type linkOf struct {
	Entity     int64
	By, Reason string
	Detail     string
	Origin     string
	ContactID  int64
}

func (f *readFixture) linkOf(integration, typ, externalID, role string) linkOf {
	f.t.Helper()
	var l linkOf
	err := f.s.DB().QueryRow(`SELECT COALESCE(k.entity_id, 0), COALESCE(k.resolved_by, ''), COALESCE(k.reason, ''), COALESCE(k.detail, ''), k.origin, COALESCE(k.contact_id, 0)
		FROM interaction_links k JOIN interactions i ON i.id = k.interaction_id JOIN integration_objects o ON o.id = i.integration_object_id
		WHERE o.integration_id = ? AND o.interaction_type = ? AND i.external_id = ? AND k.role = ?`, integration, typ, externalID, role).
		Scan(&l.Entity, &l.By, &l.Reason, &l.Detail, &l.Origin, &l.ContactID)
	require.NoError(f.t, err, "%s %s/%s %s", integration, typ, externalID, role)
	return l
}

func contactByEmail(t *testing.T, s *Store, email string) *ContactSummary {
	t.Helper()
	rows, err := s.ListContacts(context.Background(), ContactFilter{Email: email})
	require.NoError(t, err)
	require.Len(t, rows, 1, email)
	return rows[0]
}

// A ticket stored before its organization and requester waits for them, with the
// reasons, and is linked when they arrive: by the crosswalk for the organization, by
// e-mail for a requester known by address only.
func TestTicketLinkedWhenItsEntitiesArrive(t *testing.T) {
	f := newReadFixture(t, "acme-zendesk", "acme-hubspot")
	ctx := context.Background()
	f.ticket("acme-zendesk", "t1", Ref{Role: EntityAccount, Type: "organizations", ID: "77"}, Ref{Role: EntityContact, Email: "ana@acme.com", Name: "Ana"})
	f.ticket("acme-zendesk", "t2", Ref{Role: EntityContact, ID: "901", Type: "users"})

	assert.Equal(t, linkOf{Reason: ReasonNotFound, Detail: "no account with zendesk/organizations id 77", Origin: OriginRef},
		f.linkOf("acme-zendesk", "tickets", "t1", EntityAccount))
	assert.Equal(t, linkOf{Reason: ReasonNotFound, Detail: "no contact with email ana@acme.com", Origin: OriginRef},
		f.linkOf("acme-zendesk", "tickets", "t1", EntityContact))
	assert.Equal(t, linkOf{Reason: ReasonContactUnresolved, Detail: "names no account, and its contact is unresolved", Origin: OriginContact},
		f.linkOf("acme-zendesk", "tickets", "t2", EntityAccount))

	counts, err := f.s.CountUnresolved(ctx, UnresolvedFilter{CustomerID: "acme"})
	require.NoError(t, err)
	assert.Equal(t, []ReasonCount{{ReasonContactUnresolved, 1}, {ReasonNotFound, 3}}, counts)
	list, err := f.s.ListUnresolved(ctx, UnresolvedFilter{CustomerID: "acme", Reason: ReasonNotFound, Type: "tickets", IntegrationID: "acme-zendesk"})
	require.NoError(t, err)
	require.Len(t, list, 3)
	assert.Equal(t, UnresolvedLink{ID: list[0].ID, CustomerID: "acme", IntegrationID: "acme-zendesk", Provider: "zendesk", Type: "tickets",
		InteractionID: list[0].InteractionID, ExternalID: "t1", Role: EntityContact, Origin: OriginRef, RefEmail: "ana@acme.com", RefName: "Ana",
		Reason: ReasonNotFound, Detail: "no contact with email ana@acme.com", UpdatedAt: list[0].UpdatedAt}, *list[0])
	for _, filter := range []UnresolvedFilter{{CustomerID: "globex"}, {IntegrationID: "acme-hubspot"}, {Type: "deals"}, {Reason: ReasonAmbiguous}} {
		none, err := f.s.ListUnresolved(ctx, filter)
		require.NoError(t, err)
		assert.Empty(t, none, "%+v", filter)
	}
	one, err := f.s.ListUnresolved(ctx, UnresolvedFilter{Limit: 1})
	require.NoError(t, err)
	assert.Len(t, one, 1)

	// The organization arrives, from another provider first (by domain: the ticket
	// names zendesk's id, so it still waits), then from zendesk.
	f.account("acme-hubspot", "h1", "acme.com", "Acme", 1)
	assert.Equal(t, ReasonNotFound, f.linkOf("acme-zendesk", "tickets", "t1", EntityAccount).Reason)
	f.commit("acme-zendesk", "organizations", "account", "77", &MatchKeys{Entity: EntityAccount, Domain: "acme.com", Name: "Acme", At: rday(1)}, map[string]any{"name": "Acme"})
	acme := accountByDomain(t, f.s, "acme.com")
	assert.Equal(t, linkOf{Entity: acme.ID, By: ByCrosswalk, Origin: OriginRef}, f.linkOf("acme-zendesk", "tickets", "t1", EntityAccount))

	// Ana arrives from HubSpot: t1 finds her by address; t2 names zendesk's user 901,
	// which she is not (yet).
	f.contact("acme-hubspot", "hc1", "ana@acme.com", "h1", 1)
	ana := contactByEmail(t, f.s, "ana@acme.com")
	assert.Equal(t, acme.ID, ana.AccountID)
	assert.Equal(t, linkOf{Entity: ana.ID, By: ByEmail, Origin: OriginRef}, f.linkOf("acme-zendesk", "tickets", "t1", EntityContact))
	assert.Equal(t, ReasonNotFound, f.linkOf("acme-zendesk", "tickets", "t2", EntityContact).Reason)

	// Zendesk's user 901 is Ana: t2 is hers, and so is its account, through her.
	f.contact("acme-zendesk", "901", "ana@acme.com", "", 2)
	assert.Equal(t, linkOf{Entity: ana.ID, By: ByCrosswalk, Origin: OriginRef}, f.linkOf("acme-zendesk", "tickets", "t2", EntityContact))
	assert.Equal(t, linkOf{Entity: acme.ID, By: ByContact, Origin: OriginContact, ContactID: ana.ID}, f.linkOf("acme-zendesk", "tickets", "t2", EntityAccount))

	counts, err = f.s.CountUnresolved(ctx, UnresolvedFilter{})
	require.NoError(t, err)
	assert.Empty(t, counts)

	// Reading it back: the account's own records and its tickets, by type; the
	// contact's.
	d, err := f.s.AccountDetail(ctx, "acme", acme.ID, 1)
	require.NoError(t, err)
	assert.Equal(t, []TypeCount{{"accounts", 1}, {"organizations", 1}, {"tickets", 2}}, d.InteractionCounts)
	require.Len(t, d.Interactions, 3, "one per type")
	assert.Equal(t, []string{"tickets", "t2", ByContact}, []string{d.Interactions[2].Type, d.Interactions[2].ExternalID, d.Interactions[2].Via}, "newest ticket first")
	assert.Equal(t, ViaRecord, d.Interactions[0].Via)
	d, err = f.s.AccountDetail(ctx, "acme", acme.ID, 0)
	require.NoError(t, err)
	assert.Len(t, d.Interactions, 4)
	_, err = f.s.AccountDetail(ctx, "globex", acme.ID, 5)
	assert.True(t, errors.Is(err, ErrNotFound), "another customer's account: %v", err)

	c, err := f.s.ContactDetail(ctx, "acme", ana.ID, 5)
	require.NoError(t, err)
	assert.Equal(t, []TypeCount{{"contacts", 2}, {"tickets", 2}}, c.InteractionCounts)
	_, err = f.s.ContactDetail(ctx, "globex", ana.ID, 5)
	assert.True(t, errors.Is(err, ErrNotFound), "%v", err)
}

// A contact stored before its company is attached to it when the company arrives,
// and the change is on the feed.
func TestContactAttachedWhenItsAccountArrives(t *testing.T) {
	f := newReadFixture(t, "acme-hubspot")
	ctx := context.Background()
	f.contact("acme-hubspot", "hc1", "ana@gmail.com", "9001", 1)
	ana := contactByEmail(t, f.s, "ana@gmail.com")
	assert.Zero(t, ana.AccountID)
	assert.Equal(t, linkOf{Reason: ReasonNotFound, Detail: "no account with hubspot id 9001", Origin: OriginCompany, ContactID: ana.ID},
		f.linkOf("acme-hubspot", "contacts", "hc1", EntityAccount))
	last, err := f.s.LastChange(ctx)
	require.NoError(t, err)

	f.account("acme-hubspot", "9001", "acme.com", "Acme", 1)
	acme := accountByDomain(t, f.s, "acme.com")
	assert.Equal(t, acme.ID, contactByEmail(t, f.s, "ana@gmail.com").AccountID)
	assert.Equal(t, linkOf{Entity: acme.ID, By: ByCrosswalk, Origin: OriginCompany, ContactID: ana.ID}, f.linkOf("acme-hubspot", "contacts", "hc1", EntityAccount))
	changes, err := f.s.Changes(ctx, ChangeFilter{Since: last})
	require.NoError(t, err)
	var ops []string
	for _, c := range changes {
		ops = append(ops, c.Entity+" "+c.Op)
	}
	// A page lists its changes in the order it made them (changes.go): the account
	// its record created, the record, then the contact the page's settling attached.
	assert.Equal(t, []string{"account insert", "interaction insert", "contact update"}, ops)
}

// A reference found by domain first follows the crosswalk when the provider's own
// record of it appears: the stronger key wins, whatever the order.
func TestCrosswalkReplacesDomain(t *testing.T) {
	f := newReadFixture(t, "acme-crm")
	f.account("acme-crm", "other", "acme.com", "Acme", 1)
	f.ticket("acme-crm", "t1", Ref{Role: EntityAccount, ID: "a2", Domain: "acme.com"})
	acme := accountByDomain(t, f.s, "acme.com")
	assert.Equal(t, linkOf{Entity: acme.ID, By: ByDomain, Origin: OriginRef}, f.linkOf("acme-crm", "tickets", "t1", EntityAccount))

	f.account("acme-crm", "a2", "acme-subsidiary.com", "Acme Sub", 1)
	sub := accountByDomain(t, f.s, "acme-subsidiary.com")
	assert.Equal(t, linkOf{Entity: sub.ID, By: ByCrosswalk, Origin: OriginRef}, f.linkOf("acme-crm", "tickets", "t1", EntityAccount))
}

// A record whose content is unchanged but whose references are not (links changed
// in the spec) gets its references rewritten, without being stored again.
func TestReferencesRewrittenWhenOnlyTheyChange(t *testing.T) {
	f := newReadFixture(t, "acme-crm")
	ctx := context.Background()
	f.account("acme-crm", "a1", "acme.com", "Acme", 1)
	acme := accountByDomain(t, f.s, "acme.com")
	res := f.ticket("acme-crm", "t1")
	assert.Equal(t, 1, res.New)
	var n int
	require.NoError(t, f.s.DB().QueryRow(`SELECT COUNT(*) FROM interaction_links`).Scan(&n))
	assert.Zero(t, n)
	last, err := f.s.LastChange(ctx)
	require.NoError(t, err)

	// Same content (the fixture's data does not include the refs: same hash).
	obj, run := f.object("acme-crm", "tickets")
	data, _ := json.Marshal(map[string]any{"subject": "ticket t1", "refs": nil})
	commit := func(refs ...Ref) PageResult {
		res, err := f.s.CommitPage(ctx, run, obj, Page{Records: []Record{{ExternalID: "t1", Kind: "ticket", Data: data, Raw: data, Hash: string(data), Refs: refs}}})
		require.NoError(t, err)
		return res
	}
	res = commit(Ref{Role: EntityAccount, ID: "a1"})
	assert.Equal(t, PageResult{Unchanged: 1}, res)
	assert.Equal(t, linkOf{Entity: acme.ID, By: ByCrosswalk, Origin: OriginRef}, f.linkOf("acme-crm", "tickets", "t1", EntityAccount))
	changes, err := f.s.Changes(ctx, ChangeFilter{Since: last})
	require.NoError(t, err)
	assert.Empty(t, changes, "the record did not change")

	// Now it names a contact instead: its account comes from the contact.
	commit(Ref{Role: EntityContact, Email: "ana@acme.com"})
	assert.Equal(t, ReasonNotFound, f.linkOf("acme-crm", "tickets", "t1", EntityContact).Reason)
	assert.Equal(t, OriginContact, f.linkOf("acme-crm", "tickets", "t1", EntityAccount).Origin)

	// And then nothing: its rows go.
	commit()
	require.NoError(t, f.s.DB().QueryRow(`SELECT COUNT(*) FROM interaction_links`).Scan(&n))
	assert.Zero(t, n)
}

// update_only and link_only records that match nothing create nothing: they are
// counted, listed as unmatched, and matched when the entity appears. update_only then
// merges their attributes; link_only never changes the entity.
func TestMatchModes(t *testing.T) {
	f := newReadFixture(t, "acme-crm", "acme-billing", "acme-events")
	ctx := context.Background()
	billing := func(id, domain, plan string) PageResult {
		k := &MatchKeys{Entity: EntityAccount, Domain: domain, Name: "Billing " + id, Mode: modeUpdateOnly, At: rday(5), Fields: map[string]any{"plan": plan}}
		data, _ := json.Marshal(k.Fields)
		obj, run := f.object("acme-billing", "customers")
		res, err := f.s.CommitPage(ctx, run, obj, Page{Records: []Record{{ExternalID: id, Kind: "account", Data: data, Raw: data, Hash: string(data), Match: k}}})
		require.NoError(t, err)
		return res
	}
	signup := func(id, email, name string) PageResult {
		k := &MatchKeys{Entity: EntityContact, Email: email, EmailOrg: "acme.com", Mode: modeLinkOnly, At: rday(9), Fields: map[string]any{"name": name, "opt_in": true}}
		data, _ := json.Marshal(k.Fields)
		obj, run := f.object("acme-events", "signups")
		res, err := f.s.CommitPage(ctx, run, obj, Page{Records: []Record{{ExternalID: id, Kind: "contact", Data: data, Raw: data, Hash: string(data), Match: k}}})
		require.NoError(t, err)
		return res
	}
	assert.Equal(t, PageResult{New: 1, Unmatched: 1}, billing("cus_1", "acme.com", "pro"))
	assert.Equal(t, PageResult{New: 1, Unmatched: 1}, billing("cus_2", "nowhere.example", "free"))
	assert.Equal(t, PageResult{New: 1, Unmatched: 1}, signup("s1", "ana@acme.com", "Signed Up"))
	var n int
	require.NoError(t, f.s.DB().QueryRow(`SELECT (SELECT COUNT(*) FROM accounts) + (SELECT COUNT(*) FROM contacts)`).Scan(&n))
	assert.Zero(t, n, "nothing created")
	list, err := f.s.ListUnresolved(ctx, UnresolvedFilter{Reason: ReasonUnmatched})
	require.NoError(t, err)
	var details []string
	for _, u := range list {
		details = append(details, u.ExternalID+": "+u.Detail)
	}
	assert.Equal(t, []string{"cus_1: update_only: no account with domain acme.com", "cus_2: update_only: no account with domain nowhere.example",
		"s1: link_only: no contact with email ana@acme.com"}, details)

	// The CRM creates Acme and Ana: the billing customer updates Acme, the signup
	// links to Ana without changing her.
	f.account("acme-crm", "a1", "acme.com", "Acme", 1)
	f.contact("acme-crm", "c1", "ana@acme.com", "a1", 1)
	acme, err := f.s.Account(ctx, accountByDomain(t, f.s, "acme.com").ID)
	require.NoError(t, err)
	assert.JSONEq(t, `{"name":"Acme","domain":"acme.com","plan":"pro"}`, string(acme.Data))
	assert.Equal(t, []string{"acme-billing cus_1 domain", "acme-crm a1 created"}, linkNames(acme.Links))
	ana, err := f.s.Contact(ctx, contactByEmail(t, f.s, "ana@acme.com").ID)
	require.NoError(t, err)
	assert.JSONEq(t, `{"email":"ana@acme.com"}`, string(ana.Data), "link_only never changes the contact")
	assert.Equal(t, []string{"acme-crm c1 created", "acme-events s1 email"}, linkNames(ana.Links))
	assert.Equal(t, acme.ID, ana.AccountID)

	list, err = f.s.ListUnresolved(ctx, UnresolvedFilter{Reason: ReasonUnmatched})
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "cus_2", list[0].ExternalID)

	// Now that they match, later records of those types update and link at once.
	assert.Equal(t, PageResult{Updated: 1}, billing("cus_1", "acme.com", "enterprise"))
	assert.Equal(t, PageResult{Updated: 1}, signup("s1", "ana@acme.com", "Ana L."))
	acme, err = f.s.Account(ctx, acme.ID)
	require.NoError(t, err)
	assert.JSONEq(t, `{"name":"Acme","domain":"acme.com","plan":"enterprise"}`, string(acme.Data))
	ana, err = f.s.Contact(ctx, ana.ID)
	require.NoError(t, err)
	assert.JSONEq(t, `{"email":"ana@acme.com"}`, string(ana.Data))
}

func linkNames(ls []EntityLink) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.IntegrationID+" "+l.ExternalID+" "+l.MatchedBy)
	}
	return out
}

// Each lookup that re-resolves references after an event seeks an index made for it:
// never a scan of interaction_links, nor of every unresolved row.
func TestLinkLookupsUseIndexes(t *testing.T) {
	f := crmFixture(t)
	keys := func(fixed ...any) []any {
		for i := range settleChunk {
			fixed = append(fixed, fmt.Sprint("key", i))
		}
		return fixed
	}
	for _, q := range []struct {
		where string
		args  []any
		index string
	}{
		{settleLinkWhere + inList, keys(EntityAccount, "p", OriginRef, OriginCompany), "interaction_links_ref_id (customer_id=? AND role=? AND provider=? AND ref_id=?)"},
		{settleDomainWhere + inList, keys(EntityAccount), "interaction_links_domain (customer_id=? AND ref_domain=?)"},
		{settleEmailWhere + inList, keys(EntityContact), "interaction_links_email (customer_id=? AND ref_email=?)"},
		{settleContactWhere + inList, keys(OriginContact), "interaction_links_contact (contact_id=?)"},
		{`interaction_id = ? AND origin <> ?`, []any{1, OriginSelf}, "sqlite_autoindex_interaction_links_1 (interaction_id=?)"},
		{`id = ?`, []any{1}, "INTEGER PRIMARY KEY (rowid=?)"},
	} {
		rows, err := f.s.DB().Query(`EXPLAIN QUERY PLAN SELECT `+linkRowCols+` FROM interaction_links WHERE customer_id = ? AND `+q.where+` ORDER BY id`, append([]any{"acme"}, q.args...)...)
		require.NoError(t, err)
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
			plan = append(plan, detail)
		}
		require.NoError(t, rows.Err())
		rows.Close()
		want := "SEARCH interaction_links USING INDEX " + q.index
		if strings.HasPrefix(q.index, "INTEGER") {
			want = "SEARCH interaction_links USING " + q.index
		}
		assert.Contains(t, plan, want, "%s: %v", q.where, plan)
	}
}

// A record that comes twice in one page, first matching nothing and then matching,
// ends linked and not pending: the second copy's unpend drops the first's queued
// pending row, and the page's rows stay correct though they are written in batches.
func TestPendThenMatchInOnePage(t *testing.T) {
	f := newReadFixture(t, "acme-crm", "acme-billing")
	ctx := context.Background()
	f.account("acme-crm", "a1", "acme.com", "Acme", 1)
	rec := func(domain, plan string) Record {
		k := &MatchKeys{Entity: EntityAccount, Domain: domain, Name: "Billing", Mode: modeUpdateOnly, At: rday(5), Fields: map[string]any{"plan": plan}}
		data, _ := json.Marshal(k.Fields)
		return Record{ExternalID: "cus_9", Kind: "account", Data: data, Raw: data, Hash: string(data), Match: k}
	}
	obj, run := f.object("acme-billing", "customers")
	res, err := f.s.CommitPage(ctx, run, obj, Page{Records: []Record{rec("nowhere.example", "free"), rec("acme.com", "pro")}})
	require.NoError(t, err)
	assert.Equal(t, PageResult{New: 1, Updated: 1, Unmatched: 1}, res)
	list, err := f.s.ListUnresolved(ctx, UnresolvedFilter{Reason: ReasonUnmatched})
	require.NoError(t, err)
	assert.Empty(t, list, "the second copy matched: nothing is pending")
	acme, err := f.s.Account(ctx, accountByDomain(t, f.s, "acme.com").ID)
	require.NoError(t, err)
	assert.JSONEq(t, `{"name":"Acme","domain":"acme.com","plan":"pro"}`, string(acme.Data))
	assert.Equal(t, []string{"acme-billing cus_9 domain", "acme-crm a1 created"}, linkNames(acme.Links))
}
