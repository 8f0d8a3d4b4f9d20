package pipeline

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

// helpdeskMock serves Zendesk-shaped organizations, users and tickets, two records a
// page (next_page URLs), so every sync commits several pages.
func helpdeskMock(t *testing.T) *httptest.Server {
	orgs := []any{
		map[string]any{"id": 77, "name": "Acme", "domain_names": []any{"acme.com"}},
		map[string]any{"id": 78, "name": "Globex", "domain_names": []any{}},
		map[string]any{"id": 79, "name": "Initech", "domain_names": []any{"initech.example"}},
	}
	users := []any{
		map[string]any{"id": 901, "name": "Ana Lopez", "email": "Ana.Lopez@Acme.com", "organization_id": 77},
		// A mailbox address: attached by its organization only.
		map[string]any{"id": 902, "name": "Bob", "email": "bob@gmail.com", "organization_id": 78},
		// No organization: attached by the company domain of the address.
		map[string]any{"id": 903, "name": "Carl", "email": "carl@initech.example", "organization_id": nil},
		// Neither: a contact without an account.
		map[string]any{"id": 904, "name": "Dana", "email": "dana@nowhere.example", "organization_id": nil},
		// An organization that does not exist: the address's domain finds Acme.
		map[string]any{"id": 905, "name": "Eve", "email": "eve@acme.com", "organization_id": 99},
		// The organization says Acme, the address says Initech: the crosswalk wins.
		map[string]any{"id": 907, "name": "Gina", "email": "gina@initech.example", "organization_id": 77},
	}
	tickets := []any{
		map[string]any{"id": 1, "subject": "Login broken", "requester_id": 901, "requester": map[string]any{"email": "ana.lopez@acme.com"}, "organization_id": 77},
		map[string]any{"id": 2, "subject": "Invoice", "requester_id": 902, "organization_id": nil},
		map[string]any{"id": 3, "subject": "Export", "requester_id": 903, "organization_id": nil},
		map[string]any{"id": 4, "subject": "Who am I", "requester_id": nil, "requester": map[string]any{"email": "frank@acme.com"}, "organization_id": nil},
		map[string]any{"id": 5, "subject": "Hello", "requester_id": 904, "organization_id": nil},
		map[string]any{"id": 6, "subject": "Renewal", "requester_id": nil, "organization_id": 78},
		map[string]any{"id": 7, "subject": "Moved org", "requester_id": 901, "organization_id": 55},
		map[string]any{"id": 8, "subject": "New id", "requester_id": 906, "requester": map[string]any{"email": "ANA.LOPEZ@acme.com"}, "organization_id": nil},
		map[string]any{"id": 9, "subject": "Gina's", "requester_id": 907, "organization_id": nil},
		map[string]any{"id": 10, "subject": "Nobody", "requester_id": nil, "organization_id": nil},
	}
	mux := http.NewServeMux()
	var srv *httptest.Server
	list := func(path, key string, all []any) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			page, _ := strconv.Atoi(r.URL.Query().Get("page"))
			page = max(page, 1)
			from, to := min((page-1)*2, len(all)), min(page*2, len(all))
			body := map[string]any{key: all[from:to], "next_page": nil}
			if to < len(all) {
				body["next_page"] = fmt.Sprintf("%s%s?page=%d", srv.URL, path, page+1)
			}
			writeJSONBody(w, body)
		})
	}
	list("/api/v2/organizations.json", "organizations", orgs)
	list("/api/v2/users.json", "users", users)
	list("/api/v2/tickets.json", "tickets", tickets)
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

const helpdeskSpec = `
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
  tickets:
    kind: ticket
    request: {path: /tickets.json}
    records: .tickets[]
    pagination: {type: next_url, next: .next_page}
    id: .id
    fields:
      subject: .subject
      requester_id: .requester_id
      requester_email: .requester.email
      organization_id: .organization_id
    links:
      account: {id: .organization_id, type: organizations}
      contact: {id: .requester_id, email: .requester_email, type: users}
`

// syncTypes syncs the given interaction types of one integration, in that order.
func syncTypes(t *testing.T, db *store.Store, conn *spec.Connector, integration, url string, types ...string) {
	t.Helper()
	ctx := context.Background()
	client, err := retrieve.NewClient(ctx, retrieve.Source{Connector: conn, Config: map[string]any{"url": url}}, retrieve.Options{})
	require.NoError(t, err)
	results, err := (&Syncer{Store: db}).Sync(ctx, Job{IntegrationID: integration, CustomerID: "acme", Connector: conn, Client: client, Types: types})
	require.NoError(t, err)
	for _, r := range results {
		require.NoError(t, r.Err, r.Type)
		require.Zero(t, r.Run.RecordsQuarantined, r.Type)
	}
}

// linkDump describes every account, contact and interaction link by natural keys
// (domains, addresses, provider ids), not row ids, which depend on arrival order.
func linkDump(t *testing.T, db *store.Store) string {
	t.Helper()
	var out []string
	query := func(q string) {
		rows, err := db.DB().Query(q)
		require.NoError(t, err)
		defer rows.Close()
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]string, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			out = append(out, strings.Join(vals, " | "))
		}
		require.NoError(t, rows.Err())
	}
	// An entity by its key: an account by domain, else name; a contact by address.
	const account = `COALESCE((SELECT COALESCE(a.domain, a.name) FROM accounts a WHERE a.id = %s), '-')`
	const contact = `COALESCE((SELECT c.email FROM contacts c WHERE c.id = %s), '-')`
	query(`SELECT 'account', COALESCE(domain, ''), COALESCE(name, ''), data FROM accounts ORDER BY 2, 3`)
	query(`SELECT 'contact', email, COALESCE(name, ''), ` + fmt.Sprintf(account, "contacts.account_id") + ` FROM contacts ORDER BY 2`)
	query(`SELECT 'crosswalk', l.entity, l.provider, l.external_id, CASE l.entity WHEN 'account' THEN ` + fmt.Sprintf(account, "l.entity_id") + ` ELSE ` + fmt.Sprintf(contact, "l.entity_id") + ` END
		FROM entity_links l ORDER BY 2, 3, 4`)
	query(`SELECT 'link', o.interaction_type, i.external_id, k.role, k.origin, CASE k.role WHEN 'account' THEN ` + fmt.Sprintf(account, "k.entity_id") + ` ELSE ` + fmt.Sprintf(contact, "k.entity_id") + ` END,
		COALESCE(k.resolved_by, ''), COALESCE(k.reason, ''), COALESCE(k.detail, ''),
		CASE WHEN k.contact_id IS NULL THEN '' ELSE ` + fmt.Sprintf(contact, "k.contact_id") + ` END
		FROM interaction_links k JOIN interactions i ON i.id = k.interaction_id JOIN integration_objects o ON o.id = i.integration_object_id
		ORDER BY 2, CAST(i.external_id AS INTEGER), 4`)
	return strings.Join(out, "\n") + "\n"
}

func permutations(s []string) [][]string {
	if len(s) <= 1 {
		return [][]string{append([]string(nil), s...)}
	}
	var out [][]string
	for i := range s {
		rest := append(append([]string(nil), s[:i]...), s[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]string{s[i]}, p...))
		}
	}
	return out
}

// Whatever order organizations, users and tickets arrive in, every ticket ends up
// linked to the same account and contact, every contact to the same account, and the
// same references stay unresolved for the same reasons.
func TestLinksSameInEveryOrder(t *testing.T) {
	srv := helpdeskMock(t)
	conn, err := spec.Load("zendesk.yaml", []byte(helpdeskSpec))
	require.NoError(t, err)
	types := []string{"organizations", "users", "tickets"}
	orders := permutations(types)
	require.Len(t, orders, 6)
	dumps := map[string]string{}
	for _, order := range orders {
		name := strings.Join(order, ",")
		ctx := context.Background()
		db, err := store.Open(ctx, filepath.Join(t.TempDir(), "links.db"))
		require.NoError(t, err)
		require.NoError(t, db.CreateIntegration(ctx, store.Integration{ID: "acme-zendesk", CustomerID: "acme", Provider: "zendesk"}, nil, nil))
		for _, typ := range order {
			syncTypes(t, db, conn, "acme-zendesk", srv.URL, typ)
		}
		dumps[name] = linkDump(t, db)
		// A second sync of everything changes nothing.
		syncTypes(t, db, conn, "acme-zendesk", srv.URL)
		assert.Equal(t, dumps[name], linkDump(t, db), "%s: resync", name)
		require.NoError(t, db.Close())
	}
	want := dumps["organizations,users,tickets"]
	for name, got := range dumps {
		assert.Equal(t, want, got, "order %s differs from organizations,users,tickets", name)
	}

	// What the links are, in that one order.
	for _, line := range []string{
		// Bob has a mailbox address: his organization attaches him.
		"contact | bob@gmail.com | Bob | Globex",
		"contact | carl@initech.example | Carl | initech.example",
		"contact | dana@nowhere.example | Dana | -",
		"contact | eve@acme.com | Eve | acme.com",
		// Gina's organization beats her address's domain.
		"contact | gina@initech.example | Gina | acme.com",
		"link | tickets | 1 | account | ref | acme.com | crosswalk |  |  | ",
		"link | tickets | 1 | contact | ref | ana.lopez@acme.com | crosswalk |  |  | ",
		// Names only a contact: the contact's account.
		"link | tickets | 2 | account | contact | Globex | contact |  |  | bob@gmail.com",
		"link | tickets | 3 | account | contact | initech.example | contact |  |  | carl@initech.example",
		"link | tickets | 4 | account | contact | - |  | contact_unresolved | names no account, and its contact is unresolved | ",
		"link | tickets | 4 | contact | ref | - |  | not_found | no contact with email frank@acme.com | ",
		"link | tickets | 5 | account | contact | - |  | no_account | names no account, and its contact dana@nowhere.example has none | dana@nowhere.example",
		"link | tickets | 6 | account | ref | Globex | crosswalk |  |  | ",
		// An organization that is not there: never replaced by the contact's.
		"link | tickets | 7 | account | ref | - |  | not_found | no account with zendesk/organizations id 55 | ",
		"link | tickets | 8 | contact | ref | ana.lopez@acme.com | email |  |  | ",
		"link | tickets | 8 | account | contact | acme.com | contact |  |  | ana.lopez@acme.com",
		"link | tickets | 9 | account | contact | acme.com | contact |  |  | gina@initech.example",
		// A contact record's company: Eve's organization 99 does not exist, her domain does.
		"link | users | 905 | account | company | acme.com | domain |  |  | eve@acme.com",
		"link | users | 904 | account | company | - |  | not_found | no account with domain nowhere.example | dana@nowhere.example",
	} {
		assert.Contains(t, want, line+"\n")
	}
	assert.NotContains(t, want, "link | tickets | 10 |", "a ticket that names nobody has no rows")
}

func billingMock(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/customers", func(w http.ResponseWriter, r *http.Request) {
		writeJSONBody(w, map[string]any{"data": []any{
			map[string]any{"id": "cus_1", "email": "billing@acme.com", "plan": "pro", "updated": "2026-01-05T00:00:00Z"},
			map[string]any{"id": "cus_2", "email": "ap@initech.example", "plan": "free", "updated": "2026-01-05T00:00:00Z"},
			map[string]any{"id": "cus_3", "email": "test@stripe-test.example", "plan": "free", "updated": "2026-01-05T00:00:00Z"},
		}, "has_more": false})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

const billingSpec = `
provider: billing
config: {url: {}}
base_url: '${ .config.url }/v1'
interaction_types:
  customers:
    kind: account
    request: {path: /customers}
    records: .data[]
    id: .id
    incremental: {cursor: .updated}
    fields: {email: .email, plan: .plan}
    match: {mode: update_only, domain: .email, name: 'null'}
`

// A billing system that only enriches the help desk's organizations: whichever syncs
// first, the same accounts get its plan, and its test customer creates nothing.
func TestUpdateOnlyInEitherOrder(t *testing.T) {
	zendesk, billing := helpdeskMock(t), billingMock(t)
	zconn, err := spec.Load("zendesk.yaml", []byte(helpdeskSpec))
	require.NoError(t, err)
	bconn, err := spec.Load("billing.yaml", []byte(billingSpec))
	require.NoError(t, err)
	dumps := map[string]string{}
	for _, billingFirst := range []bool{true, false} {
		ctx := context.Background()
		db, err := store.Open(ctx, filepath.Join(t.TempDir(), "modes.db"))
		require.NoError(t, err)
		require.NoError(t, db.CreateIntegration(ctx, store.Integration{ID: "acme-zendesk", CustomerID: "acme", Provider: "zendesk"}, nil, nil))
		require.NoError(t, db.CreateIntegration(ctx, store.Integration{ID: "acme-billing", CustomerID: "acme", Provider: "billing"}, nil, nil))
		syncBilling := func() *store.Run {
			client, err := retrieve.NewClient(ctx, retrieve.Source{Connector: bconn, Config: map[string]any{"url": billing.URL}}, retrieve.Options{})
			require.NoError(t, err)
			results, err := (&Syncer{Store: db}).Sync(ctx, Job{IntegrationID: "acme-billing", CustomerID: "acme", Connector: bconn, Client: client})
			require.NoError(t, err)
			require.NoError(t, results[0].Err)
			return results[0].Run
		}
		var run *store.Run
		if billingFirst {
			run = syncBilling()
			assert.Equal(t, 3, run.RecordsUnmatched, "nothing to update yet")
		}
		syncTypes(t, db, zconn, "acme-zendesk", zendesk.URL, "organizations", "users", "tickets")
		if !billingFirst {
			run = syncBilling()
			assert.Equal(t, 1, run.RecordsUnmatched, "the test customer")
		}
		var accounts int
		require.NoError(t, db.DB().QueryRow(`SELECT COUNT(*) FROM accounts`).Scan(&accounts))
		assert.Equal(t, 3, accounts, "billing created no account")
		var data string
		require.NoError(t, db.DB().QueryRow(`SELECT data FROM accounts WHERE domain = 'acme.com'`).Scan(&data))
		assert.JSONEq(t, `{"name":"Acme","domain":"acme.com","email":"billing@acme.com","plan":"pro"}`, data)
		unresolved, err := db.ListUnresolved(ctx, store.UnresolvedFilter{Reason: store.ReasonUnmatched})
		require.NoError(t, err)
		require.Len(t, unresolved, 1)
		assert.Equal(t, "update_only: no account with domain stripe-test.example", unresolved[0].Detail)
		dumps[fmt.Sprint(billingFirst)] = linkDump(t, db)
		require.NoError(t, db.Close())
	}
	assert.Equal(t, dumps["false"], dumps["true"])
}
