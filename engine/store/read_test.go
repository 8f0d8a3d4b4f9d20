package store

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readFixture is a store filled through the public API (CreateIntegration,
// EnsureObject, StartRun, CommitPage with match keys), with a clock that moves one
// second per reading so that "most recently changed first" is well defined.
type readFixture struct {
	t    *testing.T
	s    *Store
	mu   sync.Mutex
	now  time.Time
	runs map[string]int64
	objs map[string]*Object
}

func newReadFixture(t *testing.T, integrations ...string) *readFixture {
	t.Helper()
	f := &readFixture{t: t, now: time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC), runs: map[string]int64{}, objs: map[string]*Object{}}
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "intake.db"), WithClock(f.tick))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	f.s = s
	for _, id := range integrations {
		customer, provider, _ := strings.Cut(id, "-")
		require.NoError(t, s.CreateIntegration(context.Background(), Integration{ID: id, CustomerID: customer, Provider: provider}, nil, nil))
	}
	return f
}

func (f *readFixture) tick() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(time.Second)
	return f.now
}

// clock is the fixture's time without moving it.
func (f *readFixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// object returns the integration object, starting a run of it on first use.
func (f *readFixture) object(integration, typ string) (*Object, int64) {
	f.t.Helper()
	key := integration + "/" + typ
	if obj, ok := f.objs[key]; ok {
		return obj, f.runs[key]
	}
	ctx := context.Background()
	obj, err := f.s.EnsureObject(ctx, integration, typ)
	require.NoError(f.t, err)
	run, err := f.s.StartRun(ctx, obj)
	require.NoError(f.t, err)
	f.objs[key], f.runs[key] = obj, run
	return obj, run
}

func (f *readFixture) commit(integration, typ, kind, id string, k *MatchKeys, fields map[string]any) {
	f.t.Helper()
	if k != nil {
		k.Fields = fields
	}
	data, _ := json.Marshal(fields)
	obj, run := f.object(integration, typ)
	_, err := f.s.CommitPage(context.Background(), run, obj, Page{Records: []Record{{ExternalID: id, Kind: kind, Data: data, Raw: data, Hash: string(data), Match: k}}})
	require.NoError(f.t, err)
}

func (f *readFixture) account(integration, id, domain, name string, day int) {
	f.t.Helper()
	f.commit(integration, "accounts", "account", id, &MatchKeys{Entity: EntityAccount, Domain: domain, Name: name, At: rday(day)},
		map[string]any{"name": name, "domain": domain})
}

func (f *readFixture) contact(integration, id, email, accountRef string, day int) {
	f.t.Helper()
	e := strings.ToLower(email)
	org := e[strings.IndexByte(e, '@')+1:]
	if org == "gmail.com" {
		org = ""
	}
	f.commit(integration, "contacts", "contact", id, &MatchKeys{Entity: EntityContact, Email: e, EmailOrg: org, AccountRef: accountRef, Name: strings.Split(email, "@")[0], At: rday(day)},
		map[string]any{"email": email})
}

func rday(day int) time.Time { return time.Date(2026, 1, day, 0, 0, 0, 0, time.UTC) }

func accountByDomain(t *testing.T, s *Store, domain string) *AccountSummary {
	t.Helper()
	rows, err := s.ListAccounts(context.Background(), AccountFilter{Domain: domain})
	require.NoError(t, err)
	require.Len(t, rows, 1, domain)
	return rows[0]
}

// acme: one company in two providers, another in one; globex: one company.
func crmFixture(t *testing.T) *readFixture {
	f := newReadFixture(t, "acme-salesforce", "acme-hubspot", "globex-hubspot")
	f.account("acme-salesforce", "001A", "acme.com", "Acme Inc", 1)
	f.account("acme-hubspot", "h1", "acme.com", "ACME", 2)
	f.account("acme-hubspot", "h2", "initech.com", "Initech_Labs", 1)
	f.account("globex-hubspot", "g1", "globex.com", "Globex 100%", 1)
	f.contact("acme-salesforce", "003A", "Ana@acme.com", "001A", 1)
	f.contact("acme-hubspot", "hc1", "ana@ACME.com", "", 3)
	f.contact("acme-hubspot", "hc2", "bob@acme.com", "h1", 1)
	f.contact("acme-hubspot", "hc3", "joe@gmail.com", "", 1)
	// A ticket that happens to share the account's external id is not the account's.
	f.commit("acme-hubspot", "tickets", "ticket", "h1", nil, map[string]any{"subject": "Login broken"})
	return f
}

func TestListAccounts(t *testing.T) {
	f := crmFixture(t)
	ctx := context.Background()

	all, err := f.s.ListAccounts(ctx, AccountFilter{})
	require.NoError(t, err)
	require.Len(t, all, 3)
	for i := 1; i < len(all); i++ {
		assert.False(t, all[i].UpdatedAt.After(all[i-1].UpdatedAt), "most recently changed first")
	}

	acme := accountByDomain(t, f.s, "acme.com")
	assert.Equal(t, "acme", acme.CustomerID)
	assert.Equal(t, "ACME", acme.Name, "the most recent record's name wins")
	assert.Equal(t, 2, acme.ContactCount, "ana (two providers, one contact) and bob")
	assert.Equal(t, 2, acme.LinkCount)
	assert.Equal(t, []string{"hubspot", "salesforce"}, acme.Providers)

	initech := accountByDomain(t, f.s, "initech.com")
	assert.Equal(t, 0, initech.ContactCount)
	assert.Equal(t, 1, initech.LinkCount)
	assert.Equal(t, []string{"hubspot"}, initech.Providers)

	rows, err := f.s.ListAccounts(ctx, AccountFilter{CustomerID: "acme"})
	require.NoError(t, err)
	assert.Len(t, rows, 2)
	rows, err = f.s.ListAccounts(ctx, AccountFilter{CustomerID: "globex", Domain: "acme.com"})
	require.NoError(t, err)
	assert.Empty(t, rows)

	search := func(text string) []string {
		rows, err := f.s.ListAccounts(ctx, AccountFilter{Search: text})
		require.NoError(t, err)
		var ds []string
		for _, r := range rows {
			ds = append(ds, r.Domain)
		}
		return ds
	}
	assert.Equal(t, []string{"acme.com"}, search("cMe"), "any letter case, name or domain")
	assert.Equal(t, []string{"initech.com"}, search("tech.c"))
	assert.Equal(t, []string{"globex.com"}, search("100%"))
	assert.Empty(t, search("e%c"), "% is a character, not a wildcard")
	assert.Equal(t, []string{"initech.com"}, search("h_l"))
	assert.Empty(t, search("c_e"), "_ is a character, not a wildcard")
	assert.Empty(t, search("nothing"))

	rows, err = f.s.ListAccounts(ctx, AccountFilter{Limit: 1})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, all[0].ID, rows[0].ID)
}

func TestAccountDetail(t *testing.T) {
	f := crmFixture(t)
	ctx := context.Background()
	acme := accountByDomain(t, f.s, "acme.com")

	d, err := f.s.Account(ctx, acme.ID)
	require.NoError(t, err)
	assert.Equal(t, *acme, d.AccountSummary)
	assert.JSONEq(t, `{"name":"ACME","domain":"acme.com"}`, string(d.Data))
	require.Len(t, d.Attributes, 2)
	assert.Equal(t, "domain", d.Attributes[0].Name, "sorted by name")
	assert.Equal(t, Attribute{Name: "name", Value: json.RawMessage(`"ACME"`), Provider: "hubspot", At: rday(2)}, d.Attributes[1])

	require.Len(t, d.Links, 2)
	assert.Equal(t, []string{"hubspot", "h1", "acme-hubspot", "domain"}, []string{d.Links[0].Provider, d.Links[0].ExternalID, d.Links[0].IntegrationID, d.Links[0].MatchedBy})
	assert.Equal(t, []string{"salesforce", "001A", "acme-salesforce", "created"}, []string{d.Links[1].Provider, d.Links[1].ExternalID, d.Links[1].IntegrationID, d.Links[1].MatchedBy})
	assert.False(t, d.Links[0].CreatedAt.IsZero())

	require.Len(t, d.Contacts, 2)
	assert.Equal(t, "ana@acme.com", d.Contacts[0].Email)
	assert.Equal(t, "bob@acme.com", d.Contacts[1].Email)

	// The account's own records in each provider, newest first; not the ticket.
	require.Len(t, d.Interactions, 2)
	for _, it := range d.Interactions {
		assert.Equal(t, "account", it.Kind)
		assert.Equal(t, "accounts", it.Type)
	}
	assert.Equal(t, []string{"hubspot", "h1"}, []string{d.Interactions[0].Provider, d.Interactions[0].ExternalID}, "changed last")
	assert.Equal(t, []string{"salesforce", "001A"}, []string{d.Interactions[1].Provider, d.Interactions[1].ExternalID})
	assert.JSONEq(t, `{"name":"ACME","domain":"acme.com"}`, string(d.Interactions[0].Data))

	_, err = f.s.Account(ctx, 999)
	assert.True(t, errors.Is(err, ErrNotFound), "%v", err)
}

func TestAccountInteractionsAreLatestPerType(t *testing.T) {
	var ids []string
	for i := range LatestPerType + 2 {
		ids = append(ids, "acme-p"+string(rune('a'+i)))
	}
	f := newReadFixture(t, ids...)
	for i, id := range ids {
		f.account(id, "rec", "acme.com", "Acme", i+1)
		// A second type of the same kind, in one provider only.
		if i == 0 {
			f.commit(id, "companies", "account", "rec", nil, map[string]any{"name": "Acme"})
		}
	}
	acme := accountByDomain(t, f.s, "acme.com")
	assert.Equal(t, LatestPerType+2, acme.LinkCount)
	d, err := f.s.Account(context.Background(), acme.ID)
	require.NoError(t, err)
	require.Len(t, d.Interactions, LatestPerType+1)
	assert.Equal(t, "accounts", d.Interactions[0].Type)
	assert.Equal(t, "acme-p"+string(rune('a'+LatestPerType+1)), d.Interactions[0].IntegrationID, "newest first")
	assert.Equal(t, "acme-pc", d.Interactions[LatestPerType-1].IntegrationID, "the two oldest are left out")
	assert.Equal(t, "companies", d.Interactions[LatestPerType].Type)
	assert.Equal(t, "pa", d.Interactions[LatestPerType].Provider)
}

// The account's interactions are found from its links, through indexes, never by
// scanning interactions.
func TestAccountInteractionsQueryPlan(t *testing.T) {
	f := crmFixture(t)
	rows, err := f.s.DB().Query(`EXPLAIN QUERY PLAN `+entityInteractionsSQL, EntityAccount, 1, EntityAccount, EntityAccount, 1, LatestPerType)
	require.NoError(t, err)
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		plan = append(plan, detail)
	}
	require.NoError(t, rows.Err())
	text := strings.Join(plan, "\n")
	assert.Contains(t, text, "entity_links_entity", text)
	assert.Contains(t, text, "sqlite_autoindex_interactions_1", text)
	assert.Contains(t, text, "interaction_links_entity", text)
	assert.NotContains(t, text, "interactions_kind", text)
	for _, step := range plan {
		assert.NotEqual(t, "SCAN i", step, text)
		assert.NotEqual(t, "SCAN l", step, text)
	}
}

func TestListContactsAndContact(t *testing.T) {
	f := crmFixture(t)
	ctx := context.Background()
	acme := accountByDomain(t, f.s, "acme.com")

	all, err := f.s.ListContacts(ctx, ContactFilter{})
	require.NoError(t, err)
	require.Len(t, all, 3)
	for i := 1; i < len(all); i++ {
		assert.False(t, all[i].UpdatedAt.After(all[i-1].UpdatedAt), "most recently changed first")
	}

	rows, err := f.s.ListContacts(ctx, ContactFilter{AccountID: acme.ID})
	require.NoError(t, err)
	require.Len(t, rows, 2)
	for _, r := range rows {
		assert.Equal(t, acme.ID, r.AccountID)
		assert.Equal(t, "acme.com", r.AccountDomain)
		assert.Equal(t, "ACME", r.AccountName)
	}

	rows, err = f.s.ListContacts(ctx, ContactFilter{CustomerID: "acme", Email: "ana@acme.com"})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	ana := rows[0]
	assert.Equal(t, 2, ana.LinkCount)
	assert.Equal(t, []string{"hubspot", "salesforce"}, ana.Providers)

	rows, err = f.s.ListContacts(ctx, ContactFilter{Search: "JOE"})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, int64(0), rows[0].AccountID, "a freemail address attaches to no account")
	assert.Equal(t, "", rows[0].AccountDomain)

	rows, err = f.s.ListContacts(ctx, ContactFilter{CustomerID: "globex"})
	require.NoError(t, err)
	assert.Empty(t, rows)
	rows, err = f.s.ListContacts(ctx, ContactFilter{Limit: 2})
	require.NoError(t, err)
	assert.Len(t, rows, 2)

	d, err := f.s.Contact(ctx, ana.ID)
	require.NoError(t, err)
	assert.Equal(t, *ana, d.ContactSummary)
	require.Len(t, d.Links, 2)
	assert.Equal(t, []string{"hubspot", "hc1", "email"}, []string{d.Links[0].Provider, d.Links[0].ExternalID, d.Links[0].MatchedBy})
	assert.Equal(t, []string{"salesforce", "003A", "created"}, []string{d.Links[1].Provider, d.Links[1].ExternalID, d.Links[1].MatchedBy})
	require.Len(t, d.Attributes, 1)
	assert.Equal(t, Attribute{Name: "email", Value: json.RawMessage(`"ana@ACME.com"`), Provider: "hubspot", At: rday(3)}, d.Attributes[0])

	_, err = f.s.Contact(ctx, 999)
	assert.True(t, errors.Is(err, ErrNotFound), "%v", err)
}

func TestListInteractionsSince(t *testing.T) {
	f := newReadFixture(t, "acme-crm")
	f.commit("acme-crm", "tickets", "ticket", "t1", nil, map[string]any{"n": 1})
	f.commit("acme-crm", "tickets", "ticket", "t2", nil, map[string]any{"n": 2})
	since := f.clock().Add(time.Millisecond)
	f.commit("acme-crm", "tickets", "ticket", "t3", nil, map[string]any{"n": 3})
	f.commit("acme-crm", "tickets", "ticket", "t1", nil, map[string]any{"n": 1, "changed": true})

	ids := func(rows []Interaction) []string {
		var out []string
		for _, r := range rows {
			out = append(out, r.ExternalID)
		}
		return out
	}
	ctx := context.Background()
	rows, err := f.s.ListInteractions(ctx, InteractionFilter{Since: since})
	require.NoError(t, err)
	assert.Equal(t, []string{"t1", "t3"}, ids(rows), "changed at or after since, newest first")
	rows, err = f.s.ListInteractions(ctx, InteractionFilter{Limit: 1, Since: since})
	require.NoError(t, err)
	assert.Equal(t, []string{"t1"}, ids(rows))
	rows, err = f.s.ListInteractions(ctx, InteractionFilter{})
	require.NoError(t, err)
	assert.Len(t, rows, 3)

	// The bound is inclusive.
	at, err := time.Parse(time.RFC3339Nano, rows[0].UpdatedAt)
	require.NoError(t, err)
	rows, err = f.s.ListInteractions(ctx, InteractionFilter{IntegrationID: "acme-crm", Type: "tickets", Since: at})
	require.NoError(t, err)
	assert.Equal(t, []string{"t1"}, ids(rows))
	rows, err = f.s.ListInteractions(ctx, InteractionFilter{Type: "other", Since: since})
	require.NoError(t, err)
	assert.Empty(t, rows)
}

func TestListRuns(t *testing.T) {
	f := newReadFixture(t, "acme-crm", "globex-crm")
	ctx := context.Background()
	finish := func(integration, typ, status, class, msg string, page Page) int64 {
		obj, err := f.s.EnsureObject(ctx, integration, typ)
		require.NoError(t, err)
		run, err := f.s.StartRun(ctx, obj)
		require.NoError(t, err)
		_, err = f.s.CommitPage(ctx, run, obj, page)
		require.NoError(t, err)
		if status != RunRunning {
			_, err = f.s.FinishRun(ctx, run, obj, status, class, msg)
			require.NoError(t, err)
		}
		return run
	}
	rec := func(id string) Record {
		return Record{ExternalID: id, Kind: "ticket", Data: []byte(`{}`), Raw: []byte(`{}`), Hash: id}
	}
	r1 := finish("acme-crm", "tickets", RunSucceeded, "", "", Page{Records: []Record{rec("a"), rec("b")}, Filtered: 1})
	r2 := finish("globex-crm", "tickets", RunFailed, "auth", "GET /tickets: HTTP 401 Unauthorized", Page{Quarantined: []Quarantined{{ExternalID: "q", Reason: "bad", Raw: []byte(`{}`)}}})
	r3 := finish("acme-crm", "users", RunRunning, "", "", Page{Records: []Record{rec("u")}})

	runs, err := f.s.ListRuns(ctx, RunFilter{})
	require.NoError(t, err)
	require.Len(t, runs, 3)
	assert.Equal(t, []int64{r3, r2, r1}, []int64{runs[0].ID, runs[1].ID, runs[2].ID}, "newest first")

	ok := runs[2]
	assert.Equal(t, "acme-crm", ok.IntegrationID)
	assert.Equal(t, "acme", ok.CustomerID)
	assert.Equal(t, "tickets", ok.Type)
	assert.Equal(t, RunSucceeded, ok.Status)
	assert.Equal(t, []int{1, 2, 0, 0, 0, 1}, []int{ok.Pages, ok.RecordsNew, ok.RecordsUpdated, ok.RecordsUnchanged, ok.RecordsQuarantined, ok.RecordsFiltered})
	assert.Equal(t, ok.FinishedAt.Sub(ok.StartedAt), ok.Duration(time.Now()))
	assert.Greater(t, ok.Duration(time.Now()), time.Duration(0))

	bad := runs[1]
	assert.Equal(t, RunFailed, bad.Status)
	assert.Equal(t, "auth", bad.ErrorClass)
	assert.Equal(t, "GET /tickets: HTTP 401 Unauthorized", bad.Error)
	assert.Equal(t, 1, bad.RecordsQuarantined)

	running := runs[0]
	assert.True(t, running.FinishedAt.IsZero())
	assert.Equal(t, time.Minute, running.Duration(running.StartedAt.Add(time.Minute)), "running: how long so far")

	runs, err = f.s.ListRuns(ctx, RunFilter{IntegrationID: "acme-crm"})
	require.NoError(t, err)
	assert.Len(t, runs, 2)
	runs, err = f.s.ListRuns(ctx, RunFilter{Status: RunFailed})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	assert.Equal(t, r2, runs[0].ID)
	runs, err = f.s.ListRuns(ctx, RunFilter{IntegrationID: "acme-crm", Status: RunFailed})
	require.NoError(t, err)
	assert.Empty(t, runs)
	runs, err = f.s.ListRuns(ctx, RunFilter{Limit: 1})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	assert.Equal(t, r3, runs[0].ID)
}

func TestListQuarantine(t *testing.T) {
	f := newReadFixture(t, "acme-crm", "globex-crm")
	ctx := context.Background()
	quarantine := func(integration string, qs ...Quarantined) int64 {
		obj, err := f.s.EnsureObject(ctx, integration, "contacts")
		require.NoError(t, err)
		run, err := f.s.StartRun(ctx, obj)
		require.NoError(t, err)
		_, err = f.s.CommitPage(ctx, run, obj, Page{Quarantined: qs})
		require.NoError(t, err)
		return run
	}
	r1 := quarantine("acme-crm", Quarantined{ExternalID: "c1", Reason: "email: not a string", Raw: []byte(`{"id":"c1","email":7}`)},
		Quarantined{Reason: "id: missing", Raw: []byte(`{"email":"x@y.z"}`)})
	r2 := quarantine("globex-crm", Quarantined{ExternalID: "g1", Reason: "bad", Raw: []byte(`{"id":"g1"}`)})

	rows, err := f.s.ListQuarantine(ctx, QuarantineFilter{})
	require.NoError(t, err)
	require.Len(t, rows, 3)
	assert.Equal(t, "g1", rows[0].ExternalID, "newest first")
	assert.Nil(t, rows[0].Raw, "raw only when asked")
	noID := rows[1]
	assert.Equal(t, "", noID.ExternalID)
	assert.Equal(t, "id: missing", noID.Reason)
	assert.Equal(t, r1, noID.RunID)
	assert.Equal(t, "acme-crm", noID.IntegrationID)
	assert.Equal(t, "contacts", noID.Type)
	assert.False(t, noID.CreatedAt.IsZero())

	rows, err = f.s.ListQuarantine(ctx, QuarantineFilter{IntegrationID: "acme-crm", WithRaw: true})
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.JSONEq(t, `{"id":"c1","email":7}`, string(rows[1].Raw))

	rows, err = f.s.ListQuarantine(ctx, QuarantineFilter{RunID: r2})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, "globex-crm", rows[0].IntegrationID)
	rows, err = f.s.ListQuarantine(ctx, QuarantineFilter{RunID: r2, IntegrationID: "acme-crm"})
	require.NoError(t, err)
	assert.Empty(t, rows)
	rows, err = f.s.ListQuarantine(ctx, QuarantineFilter{Limit: 2})
	require.NoError(t, err)
	assert.Len(t, rows, 2)
}

func TestListReviews(t *testing.T) {
	f := newReadFixture(t, "acme-hubspot", "acme-zendesk", "globex-zendesk")
	ctx := context.Background()
	byName := func(integration, id, name string) {
		f.commit(integration, "accounts", "account", id, &MatchKeys{Entity: EntityAccount, Name: name, NameKey: strings.ToLower(name), At: rday(1)}, map[string]any{"name": name})
	}
	byName("acme-hubspot", "1", "Globex")
	f.account("acme-hubspot", "2", "globex.net", "Globex", 1)
	f.account("globex-zendesk", "9", "umbrella.com", "Umbrella", 1)
	// Two acme accounts share the name key now: a record matching them by name is
	// left for review.
	_, err := f.s.DB().Exec(`UPDATE accounts SET name_key = LOWER(name)`)
	require.NoError(t, err)
	byName("acme-zendesk", "z1", "Globex")
	byName("globex-zendesk", "z9", "Umbrella")
	byName("globex-zendesk", "z10", "Umbrella")

	reviews, err := f.s.ListReviews(ctx, ReviewFilter{})
	require.NoError(t, err)
	require.Len(t, reviews, 1, "one candidate is a match, not a review")
	r := reviews[0]
	assert.Equal(t, "acme", r.CustomerID)
	assert.Equal(t, EntityAccount, r.Entity)
	assert.Equal(t, "zendesk", r.Provider)
	assert.Equal(t, "acme-zendesk", r.IntegrationID)
	assert.Equal(t, "z1", r.ExternalID)
	assert.Contains(t, r.Reason, `2 accounts are named "Globex"`)
	assert.Len(t, r.Candidates, 2)
	assert.False(t, r.CreatedAt.IsZero())

	reviews, err = f.s.ListReviews(ctx, ReviewFilter{CustomerID: "globex"})
	require.NoError(t, err)
	assert.Empty(t, reviews)

	_, err = f.s.DB().Exec(`UPDATE match_reviews SET resolved_at = '2026-03-01T00:00:00.000Z'`)
	require.NoError(t, err)
	reviews, err = f.s.ListReviews(ctx, ReviewFilter{CustomerID: "acme"})
	require.NoError(t, err)
	assert.Empty(t, reviews, "resolved reviews are not open")
}

// Links are counted in one grouped query per linkChunk listed rows: a list longer than
// that still counts every row's links.
func TestListAccountsBeyondOneLinkChunk(t *testing.T) {
	f := newReadFixture(t, "acme-crm")
	obj, run := f.object("acme-crm", "accounts")
	var page Page
	n := linkChunk + 17
	for i := range n {
		id := "a" + strconv.Itoa(i)
		data := []byte(`{"name":"` + id + `"}`)
		page.Records = append(page.Records, Record{ExternalID: id, Kind: "account", Data: data, Raw: data, Hash: id,
			Match: &MatchKeys{Entity: EntityAccount, Domain: id + ".example", Name: id, At: rday(1), Fields: map[string]any{"name": id}}})
	}
	_, err := f.s.CommitPage(context.Background(), run, obj, page)
	require.NoError(t, err)
	rows, err := f.s.ListAccounts(context.Background(), AccountFilter{CustomerID: "acme"})
	require.NoError(t, err)
	require.Len(t, rows, n)
	for _, r := range rows {
		require.Equal(t, 1, r.LinkCount, r.Domain)
		require.Equal(t, []string{"crm"}, r.Providers, r.Domain)
	}
}
