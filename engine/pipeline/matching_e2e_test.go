package pipeline

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

// Provider-shaped mocks: each answers in its API's own shape and paging.
func salesforceMock(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("/services/data/v59.0/query", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query().Get("q")
		switch {
		case strings.Contains(q, "FROM Account"):
			// Two pages: SOQL's nextRecordsUrl.
			writeJSONBody(w, map[string]any{"totalSize": 2, "done": false, "nextRecordsUrl": "/services/data/v59.0/query/01gAB-2000",
				"records": []any{map[string]any{"attributes": map[string]any{"type": "Account"}, "Id": "001A000001", "Name": "Acme Inc", "Website": "https://www.acme.com", "Industry": "Retail", "LastModifiedDate": "2026-01-01T10:00:00.000+0000"}}})
		case strings.Contains(q, "FROM Contact"):
			writeJSONBody(w, map[string]any{"totalSize": 1, "done": true,
				"records": []any{map[string]any{"Id": "003A000001", "FirstName": "Ana", "LastName": "Lopez", "Email": "Ana.Lopez@Acme.com", "AccountId": "001A000001", "LastModifiedDate": "2026-01-01T10:00:00.000+0000"}}})
		default:
			http.Error(w, `[{"errorCode":"MALFORMED_QUERY"}]`, http.StatusBadRequest)
		}
	})
	mux.HandleFunc("/services/data/v59.0/query/01gAB-2000", func(w http.ResponseWriter, r *http.Request) {
		writeJSONBody(w, map[string]any{"totalSize": 2, "done": true,
			"records": []any{map[string]any{"Id": "001A000002", "Name": "Initech", "Website": "initech.example", "LastModifiedDate": "2026-01-01T10:00:00.000+0000"}}})
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func hubspotMock(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/crm/v3/objects/companies", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("after") == "" {
			writeJSONBody(w, map[string]any{"results": []any{map[string]any{"id": "9001", "properties": map[string]any{"name": "ACME", "domain": "acme.com", "numberofemployees": "250", "hs_lastmodifieddate": "2026-01-02T10:00:00Z"}}},
				"paging": map[string]any{"next": map[string]any{"after": "9001"}}})
			return
		}
		writeJSONBody(w, map[string]any{"results": []any{}})
	})
	mux.HandleFunc("/crm/v3/objects/contacts", func(w http.ResponseWriter, r *http.Request) {
		writeJSONBody(w, map[string]any{"results": []any{
			map[string]any{"id": "501", "properties": map[string]any{"email": "ana.lopez@ACME.com", "firstname": "Ana", "lastname": "Lopez", "lastmodifieddate": "2026-01-02T10:00:00Z"},
				"associations": map[string]any{"companies": map[string]any{"results": []any{map[string]any{"id": "9001", "type": "contact_to_company"}}}}},
			map[string]any{"id": "502", "properties": map[string]any{"email": "bob@gmail.com", "firstname": "Bob", "lastmodifieddate": "2026-01-02T10:00:00Z"}},
		}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func zendeskMock(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v2/organizations.json", func(w http.ResponseWriter, r *http.Request) {
		writeJSONBody(w, map[string]any{"organizations": []any{
			map[string]any{"id": 77, "name": "Acme", "domain_names": []any{"acme.com", "acme.co.uk"}, "updated_at": "2026-01-03T10:00:00Z"},
			map[string]any{"id": 78, "name": "Globex", "domain_names": []any{}, "updated_at": "2026-01-03T10:00:00Z"},
		}, "next_page": nil})
	})
	mux.HandleFunc("/api/v2/users.json", func(w http.ResponseWriter, r *http.Request) {
		writeJSONBody(w, map[string]any{"users": []any{
			map[string]any{"id": 9100000001, "name": "Ana Lopez", "email": "ana.lopez@acme.com", "organization_id": 77, "updated_at": "2026-01-03T10:00:00Z"},
			map[string]any{"id": 9100000002, "name": "Carl Agent", "email": "carl@initech.example", "organization_id": nil, "updated_at": "2026-01-03T10:00:00Z"},
		}, "next_page": nil})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func writeJSONBody(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

const salesforceSpec = `
provider: salesforce
config: {url: {}}
base_url: '${ .config.url }/services/data/v59.0'
interaction_types:
  accounts:
    kind: account
    request: {path: /query, params: {q: 'SELECT Id, Name, Website, Industry, LastModifiedDate FROM Account'}}
    records: .records[]
    pagination: {type: next_url, next: .nextRecordsUrl}
    id: .Id
    fields: {name: .Name, website: .Website, industry: .Industry}
  contacts:
    kind: contact
    request: {path: /query, params: {q: 'SELECT Id, FirstName, LastName, Email, AccountId FROM Contact'}}
    records: .records[]
    pagination: {type: next_url, next: .nextRecordsUrl}
    id: .Id
    fields: {email: .Email, name: '[.FirstName, .LastName] | join(" ")', account_id: .AccountId}
`

const hubspotSpec = `
provider: hubspot
config: {url: {}}
base_url: '${ .config.url }/crm/v3/objects'
interaction_types:
  companies:
    kind: account
    request: {path: /companies}
    records: .results[]
    pagination: {type: cursor, param: after, next: .paging.next.after}
    id: .id
    fields: {name: .properties.name, domain: .properties.domain, employees: '.properties.numberofemployees | tonumber?'}
  contacts:
    kind: contact
    request: {path: /contacts, params: {associations: companies}}
    records: .results[]
    id: .id
    fields:
      email: .properties.email
      name: '[.properties.firstname, .properties.lastname] | map(select(. != null)) | join(" ")'
      account_id: .associations.companies.results[0].id?
`

const zendeskSpec = `
provider: zendesk
config: {url: {}}
base_url: '${ .config.url }/api/v2'
interaction_types:
  organizations:
    kind: account
    request: {path: /organizations.json}
    records: .organizations[]
    pagination: {type: next_url, next: .next_page}
    id: .id
    fields: {name: .name, domain: '.domain_names[0]'}
  users:
    kind: contact
    request: {path: /users.json}
    records: .users[]
    pagination: {type: next_url, next: .next_page}
    id: .id
    fields: {email: .email, name: .name, account_id: .organization_id}
`

// The same company in Salesforce, HubSpot and Zendesk under one domain becomes one
// Account with three links; one person in the three, with the address in any letter
// case, becomes one Contact attached to it.
func TestOneCustomerAcrossThreeProviders(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "acme.db"))
	require.NoError(t, err)
	defer db.Close()
	for _, p := range []struct {
		spec string
		srv  *httptest.Server
	}{{salesforceSpec, salesforceMock(t)}, {hubspotSpec, hubspotMock(t)}, {zendeskSpec, zendeskMock(t)}} {
		conn, err := spec.Load("inline.yaml", []byte(p.spec))
		require.NoError(t, err)
		id := "acme-" + conn.Provider
		require.NoError(t, db.CreateIntegration(ctx, store.Integration{ID: id, CustomerID: "acme", Provider: conn.Provider, Config: map[string]any{"url": p.srv.URL}}, nil, nil))
		client, err := retrieve.NewClient(ctx, retrieve.Source{Connector: conn, Config: map[string]any{"url": p.srv.URL}}, retrieve.Options{})
		require.NoError(t, err)
		results, err := (&Syncer{Store: db}).Sync(ctx, Job{IntegrationID: id, CustomerID: "acme", Connector: conn, Client: client})
		require.NoError(t, err)
		for _, r := range results {
			require.NoError(t, r.Err, "%s/%s", conn.Provider, r.Type)
			require.Zero(t, r.Run.RecordsQuarantined, "%s/%s", conn.Provider, r.Type)
		}
	}
	q := func(query string, args ...any) int {
		var n int
		require.NoError(t, db.DB().QueryRow(query, args...).Scan(&n))
		return n
	}
	var acme int64
	require.NoError(t, db.DB().QueryRow(`SELECT id FROM accounts WHERE domain = 'acme.com'`).Scan(&acme))
	assert.Equal(t, 3, q(`SELECT COUNT(DISTINCT provider) FROM entity_links WHERE entity = 'account' AND entity_id = ?`, acme), "one account, linked from three providers")
	assert.Equal(t, 3, q(`SELECT COUNT(*) FROM accounts`), "acme, initech (website initech.example) and globex (no domain)")

	var ana, anaAccount int64
	require.NoError(t, db.DB().QueryRow(`SELECT id, account_id FROM contacts WHERE email = 'ana.lopez@acme.com'`).Scan(&ana, &anaAccount))
	assert.Equal(t, 3, q(`SELECT COUNT(DISTINCT provider) FROM entity_links WHERE entity = 'contact' AND entity_id = ?`, ana))
	assert.Equal(t, acme, anaAccount)

	// Bob's address is a gmail one: he is a contact, attached by HubSpot's association
	// only (he has none), never by domain; gmail.com is never an account.
	assert.Equal(t, 1, q(`SELECT COUNT(*) FROM contacts WHERE email = 'bob@gmail.com' AND account_id IS NULL`))
	assert.Equal(t, 0, q(`SELECT COUNT(*) FROM accounts WHERE domain = 'gmail.com'`))
	// Carl has no organization in Zendesk: his address's company domain finds Initech.
	assert.Equal(t, 1, q(`SELECT COUNT(*) FROM contacts c JOIN accounts a ON a.id = c.account_id WHERE c.email = 'carl@initech.example' AND a.domain = 'initech.example'`))

	// Survivorship: the most recent record names the account (these types are not
	// incremental, so the time of the sync counts, and Zendesk synced last); HubSpot's
	// employee count and Salesforce's industry, which no other provider has, survive.
	var data string
	require.NoError(t, db.DB().QueryRow(`SELECT data FROM accounts WHERE id = ?`, acme).Scan(&data))
	assert.JSONEq(t, `{"name":"Acme","website":"https://www.acme.com","industry":"Retail","domain":"acme.com","employees":250}`, data)
}
