package store

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type entityFixture struct {
	t   *testing.T
	s   *Store
	run map[string]int64
	obj map[string]*Object
}

// newEntityFixture registers one customer's integrations with several providers.
func newEntityFixture(t *testing.T, providers ...string) *entityFixture {
	s, _ := openTest(t)
	f := &entityFixture{t: t, s: s, run: map[string]int64{}, obj: map[string]*Object{}}
	ctx := context.Background()
	for _, p := range providers {
		require.NoError(t, s.CreateIntegration(ctx, Integration{ID: "acme-" + p, CustomerID: "acme", Provider: p}, nil, nil))
		for _, typ := range []string{"accounts", "contacts"} {
			obj, err := s.EnsureObject(ctx, "acme-"+p, typ)
			require.NoError(t, err)
			run, err := s.StartRun(ctx, obj)
			require.NoError(t, err)
			f.obj[p+"/"+typ], f.run[p+"/"+typ] = obj, run
		}
	}
	return f
}

func (f *entityFixture) commit(provider, typ, id string, k *MatchKeys) {
	f.t.Helper()
	data, _ := json.Marshal(k.Fields)
	rec := Record{ExternalID: id, Kind: typ[:len(typ)-1], Data: data, Raw: data, Hash: string(data), Match: k}
	_, err := f.s.CommitPage(context.Background(), f.run[provider+"/"+typ], f.obj[provider+"/"+typ], Page{Records: []Record{rec}})
	require.NoError(f.t, err)
}

func (f *entityFixture) count(q string, args ...any) int {
	f.t.Helper()
	var n int
	require.NoError(f.t, f.s.DB().QueryRow(q, args...).Scan(&n))
	return n
}

func at(day int) time.Time { return time.Date(2026, 1, day, 0, 0, 0, 0, time.UTC) }

// The same company in three providers under one domain is one Account with three
// links; the same person with the address in any letter case is one Contact.
func TestOneAccountAndContactAcrossProviders(t *testing.T) {
	f := newEntityFixture(t, "salesforce", "hubspot", "zendesk")
	f.commit("salesforce", "accounts", "001A", &MatchKeys{Entity: EntityAccount, Domain: "acme.com", Name: "Acme Inc", At: at(1), Fields: map[string]any{"name": "Acme Inc", "industry": "Retail"}})
	f.commit("hubspot", "accounts", "9001", &MatchKeys{Entity: EntityAccount, Domain: "acme.com", Name: "ACME", At: at(2), Fields: map[string]any{"name": "ACME", "employees": json.Number("250")}})
	f.commit("zendesk", "accounts", "77", &MatchKeys{Entity: EntityAccount, Domain: "acme.com", Name: "Acme", At: at(3), Fields: map[string]any{"name": "Acme"}})
	assert.Equal(t, 1, f.count(`SELECT COUNT(*) FROM accounts`))
	assert.Equal(t, 3, f.count(`SELECT COUNT(*) FROM entity_links WHERE entity = 'account'`))
	assert.Equal(t, 2, f.count(`SELECT COUNT(*) FROM entity_links WHERE matched_by = 'domain'`))

	for i, p := range []string{"salesforce", "hubspot", "zendesk"} {
		email := []string{"Ana.Lopez@acme.com", "ana.lopez@ACME.com", "ana.lopez@acme.com"}[i]
		f.commit(p, "contacts", "c-"+p, &MatchKeys{Entity: EntityContact, Email: normEmail(email), EmailOrg: "acme.com", Name: "Ana Lopez", At: at(i + 1), Fields: map[string]any{"email": email}})
	}
	assert.Equal(t, 1, f.count(`SELECT COUNT(*) FROM contacts`))
	assert.Equal(t, 3, f.count(`SELECT COUNT(*) FROM entity_links WHERE entity = 'contact'`))
	assert.Equal(t, 1, f.count(`SELECT COUNT(*) FROM contacts c JOIN accounts a ON a.id = c.account_id WHERE a.domain = 'acme.com'`), "attached to its account by the address's domain")

	// Most recent wins by default: zendesk's name (day 3) is kept; attributes only one
	// provider has survive.
	var data string
	require.NoError(t, f.s.DB().QueryRow(`SELECT data FROM accounts`).Scan(&data))
	assert.JSONEq(t, `{"name":"Acme","industry":"Retail","employees":250}`, data)
}

func normEmail(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func TestCrosswalkFirstAndCompanyReference(t *testing.T) {
	f := newEntityFixture(t, "salesforce")
	f.commit("salesforce", "accounts", "001A", &MatchKeys{Entity: EntityAccount, Name: "No Domain Co", At: at(1), Fields: map[string]any{"name": "No Domain Co"}})
	// The record changes its name and gains a domain: still the same account.
	f.commit("salesforce", "accounts", "001A", &MatchKeys{Entity: EntityAccount, Domain: "nodomain.example", Name: "NoDomain", At: at(2), Fields: map[string]any{"name": "NoDomain"}})
	assert.Equal(t, 1, f.count(`SELECT COUNT(*) FROM accounts`))
	assert.Equal(t, 1, f.count(`SELECT COUNT(*) FROM accounts WHERE domain = 'nodomain.example' AND name = 'NoDomain'`))
	// A contact with a freemail address finds its account by the provider's reference.
	f.commit("salesforce", "contacts", "003X", &MatchKeys{Entity: EntityContact, Email: "bob@gmail.com", AccountRef: "001A", At: at(2), Fields: map[string]any{"email": "bob@gmail.com"}})
	assert.Equal(t, 1, f.count(`SELECT COUNT(*) FROM contacts c JOIN entity_links l ON l.entity = 'account' AND l.entity_id = c.account_id AND l.external_id = '001A'`))
}

func TestFreemailAndAmbiguousNames(t *testing.T) {
	f := newEntityFixture(t, "hubspot", "zendesk")
	// Without a company domain, two records create two accounts: never merged on a guess.
	f.commit("hubspot", "accounts", "1", &MatchKeys{Entity: EntityAccount, Name: "Globex", NameKey: "globex", At: at(1), Fields: map[string]any{"name": "Globex"}})
	f.commit("hubspot", "accounts", "2", &MatchKeys{Entity: EntityAccount, Name: "Globex", At: at(1), Fields: map[string]any{"name": "Globex"}})
	assert.Equal(t, 2, f.count(`SELECT COUNT(*) FROM accounts`))
	// By name, one candidate matches...
	f.commit("zendesk", "accounts", "z1", &MatchKeys{Entity: EntityAccount, Name: "Initech", NameKey: "initech", At: at(1), Fields: map[string]any{"name": "Initech"}})
	f.commit("hubspot", "accounts", "3", &MatchKeys{Entity: EntityAccount, Name: "Initech LLC", NameKey: "initech", At: at(1), Fields: map[string]any{"name": "Initech LLC"}})
	assert.Equal(t, 1, f.count(`SELECT COUNT(*) FROM entity_links WHERE matched_by = 'name'`))
	// ...several go to review, and nothing is linked.
	require.NoError(t, func() error {
		_, err := f.s.DB().Exec(`UPDATE accounts SET name_key = 'globex'`)
		return err
	}())
	f.commit("zendesk", "accounts", "z2", &MatchKeys{Entity: EntityAccount, Name: "Globex", NameKey: "globex", At: at(1), Fields: map[string]any{"name": "Globex"}})
	assert.Equal(t, 1, f.count(`SELECT COUNT(*) FROM match_reviews WHERE external_id = 'z2' AND resolved_at IS NULL`))
	assert.Equal(t, 0, f.count(`SELECT COUNT(*) FROM entity_links WHERE external_id = 'z2'`))
	// A contact with a freemail address is not attached by domain.
	f.commit("hubspot", "contacts", "c1", &MatchKeys{Entity: EntityContact, Email: "joe@gmail.com", At: at(1), Fields: map[string]any{}})
	assert.Equal(t, 1, f.count(`SELECT COUNT(*) FROM contacts WHERE account_id IS NULL`))
}

func TestSurvivorshipRules(t *testing.T) {
	f := newEntityFixture(t, "salesforce", "hubspot")
	rules := map[string]FieldRule{"owner": {Prefer: "salesforce"}, "segment": {FillOnlyEmpty: true}}
	f.commit("salesforce", "accounts", "001", &MatchKeys{Entity: EntityAccount, Domain: "acme.com", At: at(1), Rules: rules,
		Fields: map[string]any{"owner": "sf-owner", "segment": "smb", "tier": "gold"}})
	f.commit("hubspot", "accounts", "h1", &MatchKeys{Entity: EntityAccount, Domain: "acme.com", At: at(5), Rules: rules,
		Fields: map[string]any{"owner": "hs-owner", "segment": "enterprise", "tier": "silver", "phone": nil}})
	// An older record does not overwrite a newer value.
	f.commit("salesforce", "accounts", "001", &MatchKeys{Entity: EntityAccount, Domain: "acme.com", At: at(2), Rules: rules,
		Fields: map[string]any{"owner": "sf-owner-2", "tier": "bronze"}})
	var data, sources string
	require.NoError(t, f.s.DB().QueryRow(`SELECT data, sources FROM accounts`).Scan(&data, &sources))
	assert.JSONEq(t, `{"owner":"sf-owner-2","segment":"smb","tier":"silver"}`, data)
	assert.Equal(t, `[{"at":"2026-01-05T00:00:00Z","fields":["tier"],"provider":"hubspot"},`+
		`{"at":"2026-01-01T00:00:00Z","fields":["segment"],"provider":"salesforce"},`+
		`{"at":"2026-01-02T00:00:00Z","fields":["owner"],"provider":"salesforce"}]`, sources)
}

// TestCreatedAttributesAreMerge requires the shortcut for a new entity to give what
// merge gives on empty attributes, byte for byte.
func TestCreatedAttributesAreMerge(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 890, time.FixedZone("x", 3600))
	for _, fields := range []map[string]any{
		nil,
		{},
		{"name": "Ann <Lee> & co", "email": "ann@example.com", "score": 87.5, "n": json.Number("12"), "gone": nil},
		{"tags": []any{"a", 1.0, nil}, "addr": map[string]any{"city": "Köln", "zip": "50667"}, "é": true, "\u2028": "line"},
		{"bad": func() {}}, // encoding/json cannot: merge's way, whatever that is
	} {
		k := &MatchKeys{Entity: EntityContact, Fields: fields, At: at, Rules: map[string]FieldRule{"name": {Prefer: "other"}}}
		d, s := createdAttributes(k, "hub<spot>")
		wd, ws := merge(map[string]any{}, map[string]attrSource{}, k, "hub<spot>")
		if d != wd || s != ws {
			t.Errorf("fields %v:\n got %s %s\nwant %s %s", fields, d, s, wd, ws)
		}
	}
}

// An account or contact that learns its domain or address is changed, and is on the
// change feed, even when survivorship changed none of its attributes: stored, or
// created earlier in the same page and still waiting to be written. Learning nothing
// is no change.
func TestLearningAKeyIsAChange(t *testing.T) {
	f := newEntityFixture(t, "hubspot")
	changes := func(entity string) []string {
		var out []string
		for _, c := range allChanges(t, f.s, 0) {
			if c.Entity == entity {
				out = append(out, c.Op+" "+c.ExternalID)
			}
		}
		return out
	}
	// Records whose attributes are the same each time, the hash of the rest not.
	commit := func(typ string, records ...Record) {
		t.Helper()
		_, err := f.s.CommitPage(context.Background(), f.run["hubspot/"+typ], f.obj["hubspot/"+typ], Page{Records: records})
		require.NoError(t, err)
	}
	account := func(hash, domain string) Record {
		return Record{ExternalID: "a1", Kind: "account", Data: []byte(`{}`), Raw: []byte(`{}`), Hash: hash,
			Match: &MatchKeys{Entity: EntityAccount, Domain: domain, Name: "Acme", NameKey: "acme", At: at(1), Fields: map[string]any{"name": "Acme"}}}
	}
	commit("accounts", account("h1", ""))
	commit("accounts", account("h2", "acme.com"))
	commit("accounts", account("h3", "acme.com"))
	assert.Equal(t, 1, f.count(`SELECT COUNT(*) FROM accounts WHERE domain = 'acme.com'`))
	assert.Equal(t, []string{"insert a1", "update a1"}, changes("account"))

	// One page: c1 created without an address, then found again by the crosswalk
	// with one while its row waits.
	contact := func(hash, email string) Record {
		return Record{ExternalID: "c1", Kind: "contact", Data: []byte(`{}`), Raw: []byte(`{}`), Hash: hash,
			Match: &MatchKeys{Entity: EntityContact, Email: email, Name: "Ann", At: at(1), Fields: map[string]any{"name": "Ann"}}}
	}
	commit("contacts", contact("h1", ""), contact("h2", "ann@acme.com"))
	assert.Equal(t, 1, f.count(`SELECT COUNT(*) FROM contacts WHERE email = 'ann@acme.com'`))
	assert.Equal(t, []string{"insert c1", "update c1"}, changes("contact"))
}
