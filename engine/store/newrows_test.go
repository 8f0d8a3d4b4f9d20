package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/internal/pgtest"
)

// newRowsScenario commits pages whose new accounts, contacts and records wait in
// newRows while the page goes on using them: a contact created and then matched
// again by address in the same page (merged where it waits), a contact whose
// company's account exists (its account set where it waits), a record that comes
// twice in one page (its second copy updates the first's row), a contact that learns
// its address after being found through the crosswalk, and an account that arrives
// a page later and settles a contact written before. It returns the state, with row
// ids replaced by what they name, so both databases can be compared. (newRowsWant is
// also what the code before newRows gave, but for the change of c4 learning its
// address, which that code left off the feed.)
func newRowsScenario(t *testing.T, s *Store) string {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, s.CreateIntegration(ctx, Integration{ID: "acme-crm", CustomerID: "acme", Provider: "crm"}, nil, nil))
	at := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	account := func(ext, domain string) Record {
		return Record{ExternalID: ext, Kind: "account", Data: []byte(`{}`), Raw: []byte(`{}`), Hash: ext,
			Match: &MatchKeys{Entity: EntityAccount, Domain: domain, Name: domain, Fields: map[string]any{"domain": domain}, At: at}}
	}
	contact := func(ext, hash, email, org, name string) Record {
		return Record{ExternalID: ext, Kind: "contact", Data: []byte(`{"name":"` + name + `"}`), Raw: []byte(`{}`), Hash: hash,
			Match: &MatchKeys{Entity: EntityContact, Email: email, EmailOrg: org, Name: name, Fields: map[string]any{"name": name, "ext": ext}, At: at}}
	}
	commit := func(typ string, records ...Record) PageResult {
		obj, err := s.EnsureObject(ctx, "acme-crm", typ)
		require.NoError(t, err)
		run, err := s.StartRun(ctx, obj)
		require.NoError(t, err)
		page := Page{Records: records}
		page.Prepare("crm")
		res, err := s.CommitPage(ctx, run, obj, page)
		require.NoError(t, err)
		_, err = s.FinishRun(ctx, run, obj, RunSucceeded, "", "")
		require.NoError(t, err)
		return res
	}
	var out []string
	res := commit("accounts", account("org-1", "acme.example"))
	out = append(out, fmt.Sprintf("page 1: %+v", res))
	res = commit("contacts",
		contact("c1", "h1", "ann@acme.example", "acme.example", "Ann"),
		contact("c2", "h2", "bob@other.example", "other.example", "Bob"),
		contact("c3", "h3", "ann@acme.example", "acme.example", "Ann Lee"),
		contact("c1", "h1b", "ann@acme.example", "acme.example", "Ann B"),
		contact("c4", "h4", "", "", "Cy"),
	)
	out = append(out, fmt.Sprintf("page 2: %+v", res))
	// c4 found by the crosswalk learns its address; other.example's account arrives.
	res = commit("contacts", contact("c4", "h4b", "cy@cy.example", "", "Cy"))
	out = append(out, fmt.Sprintf("page 3: %+v", res))
	res = commit("accounts", account("org-2", "other.example"))
	out = append(out, fmt.Sprintf("page 4: %+v", res))

	q := func(query string) []string {
		rows, err := s.DB().QueryContext(ctx, s.dialect.Rebind(query))
		require.NoError(t, err)
		defer rows.Close()
		var got []string
		for rows.Next() {
			var a, b, c string
			require.NoError(t, rows.Scan(&a, &b, &c))
			got = append(got, a+" | "+b+" | "+c)
		}
		require.NoError(t, rows.Err())
		return got
	}
	out = append(out, "contacts:")
	out = append(out, q(`SELECT COALESCE(c.email, '-'), COALESCE(a.domain, '-'), c.data FROM contacts c LEFT JOIN accounts a ON a.id = c.account_id ORDER BY c.name`)...)
	out = append(out, "records:")
	out = append(out, q(`SELECT i.external_id, i.content_hash, COALESCE(c.email, c.name) FROM interactions i
		LEFT JOIN entity_links l ON l.external_id = i.external_id AND l.entity = 'contact'
		LEFT JOIN contacts c ON c.id = l.entity_id WHERE i.kind = 'contact' ORDER BY i.external_id`)...)
	out = append(out, "references:")
	out = append(out, q(`SELECT i.external_id, COALESCE(a.domain, '-'), COALESCE(l.reason, '-') FROM interaction_links l
		JOIN interactions i ON i.id = l.interaction_id LEFT JOIN accounts a ON a.id = l.entity_id ORDER BY i.external_id`)...)
	out = append(out, "changes:")
	out = append(out, q(`SELECT entity, op, COALESCE(external_id, '-') FROM changes ORDER BY seq`)...)
	return strings.Join(out, "\n")
}

const newRowsWant = `page 1: {New:1 Updated:0 Unchanged:0 Quarantined:0 Filtered:0 Deleted:0 Unmatched:0}
page 2: {New:4 Updated:1 Unchanged:0 Quarantined:0 Filtered:0 Deleted:0 Unmatched:0}
page 3: {New:0 Updated:1 Unchanged:0 Quarantined:0 Filtered:0 Deleted:0 Unmatched:0}
page 4: {New:1 Updated:0 Unchanged:0 Quarantined:0 Filtered:0 Deleted:0 Unmatched:0}
contacts:
ann@acme.example | acme.example | {"ext":"c1","name":"Ann B"}
bob@other.example | other.example | {"ext":"c2","name":"Bob"}
cy@cy.example | - | {"ext":"c4","name":"Cy"}
records:
c1 | h1b | ann@acme.example
c2 | h2 | bob@other.example
c3 | h3 | ann@acme.example
c4 | h4b | cy@cy.example
references:
c1 | acme.example | -
c2 | other.example | -
c3 | acme.example | -
changes:
account | insert | org-1
interaction | insert | org-1
contact | insert | c1
interaction | insert | c1
contact | insert | c2
interaction | insert | c2
contact | update | c3
interaction | insert | c3
contact | update | c1
interaction | update | c1
contact | insert | c4
interaction | insert | c4
contact | update | c4
interaction | update | c4
account | insert | org-2
interaction | insert | org-2
contact | update | -`

func TestNewRowsSQLite(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "intake.db"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	assert.Equal(t, newRowsWant, newRowsScenario(t, s))
}

func TestNewRowsPostgres(t *testing.T) {
	s, err := Open(context.Background(), pgtest.DSN(t))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	assert.Equal(t, newRowsWant, newRowsScenario(t, s))
}
