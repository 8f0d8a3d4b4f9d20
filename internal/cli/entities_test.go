package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/store"
)

// runEntities is run (cli_test.go) with the processor commands attached to the root
// where it does not have them yet, so these tests run the same before and after they
// are wired into rootCmd.
func runEntities(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{env: Env{
		Stdin:      strings.NewReader(""),
		Stdout:     &out,
		Stderr:     &errb,
		Getenv:     func(k string) string { return env[k] },
		IsTerminal: func(io.Writer) bool { return false },
	}}
	root := a.rootCmd()
	have := map[string]bool{}
	for _, c := range root.Commands() {
		have[c.Name()] = true
	}
	for _, c := range a.entityCommands() {
		if !have[c.Name()] {
			root.AddCommand(c)
		}
	}
	root.SetArgs(args)
	root.SetIn(a.env.Stdin)
	root.SetOut(&out)
	root.SetErr(&errb)
	code := 0
	if err := root.ExecuteContext(context.Background()); err != nil {
		code = 1
		var ee exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		fmt.Fprintln(&errb, "intake: "+err.Error())
	}
	return result{code, out.String(), errb.String()}
}

// jsonLines decodes one JSON object per line.
func jsonLines[T any](t *testing.T, out string) []T {
	t.Helper()
	var rows []T
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var v T
		require.NoError(t, json.Unmarshal([]byte(l), &v), l)
		rows = append(rows, v)
	}
	return rows
}

// syncedDemo adds acme's demo CRM integration and syncs it: 120 accounts, 360 contacts.
func syncedDemo(t *testing.T) map[string]string {
	t.Helper()
	env := testEnv(t)
	srv := demoServer(t)
	r := runEntities(t, env, "integrations", "add", "--customer", "acme", "--provider", "demo-crm", "--config", "api_url="+srv.URL, "--config", "api_key=demo-key")
	require.Equal(t, 0, r.code, r.stderr)
	r = runEntities(t, env, "sync", "--integration", "acme-demo-crm")
	require.Equal(t, 0, r.code, r.stderr)
	return env
}

func TestAccountsListAndShow(t *testing.T) {
	env := syncedDemo(t)

	r := runEntities(t, env, "accounts", "list", "--limit", "0", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	accounts := jsonLines[accountJSON](t, r.stdout)
	require.Len(t, accounts, 120)
	contacts := 0
	var acc accountJSON
	for _, a := range accounts {
		assert.Equal(t, "acme", a.Customer)
		assert.Equal(t, 1, a.Links)
		assert.Equal(t, []string{"demo-crm"}, a.Providers)
		assert.NotEmpty(t, a.Domain)
		assert.NotEmpty(t, a.UpdatedAt)
		contacts += a.Contacts
		if a.Contacts > acc.Contacts {
			acc = a
		}
	}
	assert.Equal(t, 360, contacts, "every demo contact is attached to its account")
	require.NotZero(t, acc.ID)

	r = runEntities(t, env, "accounts", "list")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 51, "header and the default 50")
	assert.Regexp(t, `^ID\s+CUSTOMER\s+DOMAIN\s+NAME\s+CONTACTS\s+LINKS\s+PROVIDERS\s+UPDATED$`, lines[0])
	assert.Regexp(t, `^\d+\s+acme\s+\S+\.example\s+.+\s+\d+\s+1\s+demo-crm\s+\d{4}-\d\d-\d\dT[\d:]+Z$`, lines[1])

	// --domain takes a URL or an address too.
	r = runEntities(t, env, "accounts", "list", "--domain", "https://www."+strings.ToUpper(acc.Domain)+"/about", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	got := jsonLines[accountJSON](t, r.stdout)
	require.Len(t, got, 1)
	assert.Equal(t, acc.ID, got[0].ID)
	r = runEntities(t, env, "accounts", "list", "--search", strings.ToUpper(acc.Name), "--customer", "acme", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"id":`+strconv.FormatInt(acc.ID, 10)+`,`)
	r = runEntities(t, env, "accounts", "list", "--customer", "globex")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "no accounts match")

	id := strconv.FormatInt(acc.ID, 10)
	r = runEntities(t, env, "accounts", "show", id, "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var d struct {
		ID                int64                        `json:"id"`
		Domain            string                       `json:"domain"`
		Name              string                       `json:"name"`
		Providers         []string                     `json:"providers"`
		Data              map[string]any               `json:"data"`
		Sources           map[string]map[string]string `json:"sources"`
		Links             []map[string]string          `json:"links"`
		ContactsTotal     int                          `json:"contacts_total"`
		Contacts          []map[string]any             `json:"contacts"`
		Interactions      []map[string]any             `json:"interactions"`
		InteractionCounts map[string]int               `json:"interaction_counts"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &d), r.stdout)
	assert.Equal(t, acc.ID, d.ID)
	assert.Equal(t, acc.Domain, d.Domain)
	assert.Equal(t, acc.Name, d.Data["name"])
	assert.Equal(t, []string{"demo-crm"}, d.Providers)
	assert.Equal(t, "demo-crm", d.Sources["name"]["provider"])
	assert.NotEmpty(t, d.Sources["name"]["at"])
	require.Len(t, d.Links, 1)
	link := d.Links[0]
	assert.Equal(t, "demo-crm", link["provider"])
	assert.Equal(t, "acme-demo-crm", link["integration"])
	assert.Equal(t, "created", link["matched_by"])
	assert.True(t, strings.HasPrefix(link["external_id"], "acc_"), link["external_id"])
	assert.Equal(t, acc.Contacts, d.ContactsTotal)
	require.Len(t, d.Contacts, acc.Contacts)
	assert.Contains(t, d.Contacts[0]["email"], "@")
	// The account's own record in the CRM, then its tickets, newest first: those naming
	// it, and those naming only one of its people.
	require.NotEmpty(t, d.Interactions)
	it := d.Interactions[0]
	assert.Equal(t, "demo-crm", it["provider"])
	assert.Equal(t, "acme-demo-crm", it["integration"])
	assert.Equal(t, "accounts", it["interaction_type"])
	assert.Equal(t, "account", it["kind"])
	assert.Equal(t, "record", it["via"])
	assert.Equal(t, link["external_id"], it["external_id"])
	assert.Equal(t, 1, d.InteractionCounts["accounts"])
	tickets := d.Interactions[1:]
	assert.Len(t, tickets, min(d.InteractionCounts["tickets"], 5))
	for i, tk := range tickets {
		assert.Equal(t, "tickets", tk["interaction_type"])
		assert.Contains(t, []any{"crosswalk", "contact"}, tk["via"])
		if i > 0 {
			assert.GreaterOrEqual(t, tickets[i-1]["source_updated_at"], tk["source_updated_at"], "changed last in the CRM first")
		}
	}

	r = runEntities(t, env, "accounts", "show", id)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "account:   "+id+"\n")
	assert.Contains(t, r.stdout, "domain:    "+acc.Domain+"\n")
	assert.Regexp(t, `\n  name\s+`+regexp.QuoteMeta(acc.Name)+`\s+demo-crm\s+\d{4}-`, r.stdout)
	assert.Regexp(t, `\n  demo-crm\s+acme-demo-crm\s+`+regexp.QuoteMeta(link["external_id"])+`\s+created\s`, r.stdout)
	assert.Contains(t, r.stdout, fmt.Sprintf("contacts (%d):", acc.Contacts))
	assert.Contains(t, r.stdout, fmt.Sprintf("interactions (accounts 1, tickets %d; latest 5 of each type, across providers):", d.InteractionCounts["tickets"]))
	assert.Regexp(t, `\n  accounts\s+demo-crm\s+acme-demo-crm\s+`+regexp.QuoteMeta(link["external_id"])+`\s+record\s`, r.stdout)
	assert.Regexp(t, `\n  tickets\s+demo-crm\s+acme-demo-crm\s+tkt_\d{4}\s+(crosswalk|contact)\s`, r.stdout)

	// More of each type.
	r = runEntities(t, env, "accounts", "show", id, "--per-type", "100", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &d), r.stdout)
	assert.Len(t, d.Interactions, 1+d.InteractionCounts["tickets"])
	r = runEntities(t, env, "accounts", "show", id, "--per-type", "0")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "--per-type 0: use 1 or more")

	r = runEntities(t, env, "accounts", "show", "99999")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "account 99999: not found")
	r = runEntities(t, env, "accounts", "show", "acme.com")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `account ID "acme.com": use the number in the ID column of `+"`intake accounts list`")
	r = runEntities(t, env, "accounts", "show", "--help")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "docs/linking.md")
}

func TestContactsListAndShow(t *testing.T) {
	env := syncedDemo(t)

	r := runEntities(t, env, "contacts", "list", "--limit", "0", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	all := jsonLines[contactJSON](t, r.stdout)
	require.Len(t, all, 360)
	for _, c := range all {
		assert.Equal(t, "acme", c.Customer)
		assert.NotZero(t, c.AccountID, c.Email)
		assert.NotEmpty(t, c.AccountDomain)
		assert.Equal(t, 1, c.Links)
		assert.Equal(t, []string{"demo-crm"}, c.Providers)
	}
	c := all[0]

	r = runEntities(t, env, "contacts", "list", "--account", strconv.FormatInt(c.AccountID, 10), "--limit", "0", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	mates := jsonLines[contactJSON](t, r.stdout)
	r = runEntities(t, env, "accounts", "show", strconv.FormatInt(c.AccountID, 10), "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var acc struct {
		ContactsTotal int `json:"contacts_total"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &acc))
	assert.Len(t, mates, acc.ContactsTotal)
	for _, m := range mates {
		assert.Equal(t, c.AccountID, m.AccountID)
	}

	r = runEntities(t, env, "contacts", "list", "--email", "  "+strings.ToUpper(c.Email)+" ", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	got := jsonLines[contactJSON](t, r.stdout)
	require.Len(t, got, 1, "the address is normalised")
	assert.Equal(t, c.ID, got[0].ID)

	r = runEntities(t, env, "contacts", "list", "--search", strings.ToUpper(c.Name), "--limit", "5")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `^ID\s+CUSTOMER\s+EMAIL\s+NAME\s+ACCOUNT\s+LINKS\s+PROVIDERS\s+UPDATED\n`, r.stdout)
	assert.Regexp(t, fmt.Sprintf(`\n%d\s+acme\s+%s\s+%s\s+%d \(%s\)\s+1\s+demo-crm\s`, c.ID, regexp.QuoteMeta(c.Email), regexp.QuoteMeta(c.Name), c.AccountID, regexp.QuoteMeta(c.AccountDomain)), r.stdout)

	r = runEntities(t, env, "contacts", "list", "--account", "x")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `--account "x"`)
	r = runEntities(t, env, "contacts", "list", "--customer", "globex")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "no contacts match")

	id := strconv.FormatInt(c.ID, 10)
	r = runEntities(t, env, "contacts", "show", id, "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var d struct {
		ID        int64                        `json:"id"`
		Email     string                       `json:"email"`
		AccountID int64                        `json:"account_id"`
		Data      map[string]any               `json:"data"`
		Sources   map[string]map[string]string `json:"sources"`
		Links     []map[string]string          `json:"links"`
		// Its own record, and the tickets it asked.
		Interactions      []map[string]any `json:"interactions"`
		InteractionCounts map[string]int   `json:"interaction_counts"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &d), r.stdout)
	assert.Equal(t, 1, d.InteractionCounts["contacts"])
	require.NotEmpty(t, d.Interactions)
	assert.Equal(t, "contacts", d.Interactions[0]["interaction_type"])
	assert.Equal(t, "record", d.Interactions[0]["via"])
	for _, tk := range d.Interactions[1:] {
		assert.Equal(t, "tickets", tk["interaction_type"])
		assert.Contains(t, []any{"crosswalk", "email"}, tk["via"])
	}
	assert.Equal(t, c.ID, d.ID)
	assert.Equal(t, c.Email, d.Email)
	assert.Equal(t, c.AccountID, d.AccountID)
	assert.Equal(t, c.Email, d.Data["email"])
	assert.Equal(t, "demo-crm", d.Sources["email"]["provider"])
	require.Len(t, d.Links, 1)
	assert.Equal(t, "created", d.Links[0]["matched_by"])
	assert.True(t, strings.HasPrefix(d.Links[0]["external_id"], "con_"))

	r = runEntities(t, env, "contacts", "show", id)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "email:     "+c.Email+"\n")
	assert.Contains(t, r.stdout, fmt.Sprintf("account:   %d (%s) %s\n", c.AccountID, c.AccountDomain, c.AccountName))
	assert.Regexp(t, `\n  email\s+`+regexp.QuoteMeta(c.Email)+`\s+demo-crm\s`, r.stdout)
	assert.Regexp(t, `\n  demo-crm\s+acme-demo-crm\s+con_\S+\s+created\s`, r.stdout)
	assert.Regexp(t, `\n  contacts\s+demo-crm\s+acme-demo-crm\s+con_\S+\s+record\s`, r.stdout)

	r = runEntities(t, env, "contacts", "show", "99999")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "contact 99999: not found")
}

func TestInteractionsListSince(t *testing.T) {
	env := testEnv(t)
	srv := demoServer(t)
	r := runEntities(t, env, "integrations", "add", "--customer", "acme", "--provider", "demo-crm", "--config", "api_url="+srv.URL, "--config", "api_key=demo-key")
	require.Equal(t, 0, r.code, r.stderr)
	r = runEntities(t, env, "sync", "--integration", "acme-demo-crm", "--type", "accounts")
	require.Equal(t, 0, r.code, r.stderr)
	time.Sleep(5 * time.Millisecond)
	since := time.Now().UTC().Format(time.RFC3339Nano)
	time.Sleep(5 * time.Millisecond)
	r = runEntities(t, env, "sync", "--integration", "acme-demo-crm", "--type", "contacts")
	require.Equal(t, 0, r.code, r.stderr)

	r = runEntities(t, env, "interactions", "list", "--since", since, "--limit", "0", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	rows := jsonLines[store.Interaction](t, r.stdout)
	require.Len(t, rows, 360, "the contacts, stored after --since; not the accounts")
	for _, it := range rows {
		assert.Equal(t, "contacts", it.Type)
		assert.GreaterOrEqual(t, it.UpdatedAt, since[:len("2006-01-02T15:04:05")])
	}
	r = runEntities(t, env, "interactions", "list", "--since", since, "--type", "accounts", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, r.stdout)
	r = runEntities(t, env, "interactions", "list", "--limit", "0", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, 480, strings.Count(r.stdout, "\n"), "without --since, everything")

	r = runEntities(t, env, "interactions", "list", "--since", "2999-01-01T00:00:00Z")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "no interactions changed since 2999-01-01T00:00:00Z")
	r = runEntities(t, env, "interactions", "list", "--since", "yesterday")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `--since "yesterday": use an RFC 3339 time`)
}

func TestRunsList(t *testing.T) {
	env := syncedDemo(t)
	srv := demoServer(t)
	r := runEntities(t, env, "integrations", "add", "--customer", "globex", "--provider", "demo-crm", "--config", "api_url="+srv.URL, "--config", "api_key=wrong-key")
	require.Equal(t, 0, r.code, r.stderr)
	r = runEntities(t, env, "sync", "--integration", "globex-demo-crm")
	require.Equal(t, 1, r.code)

	// A failure with a long reason: the table shortens it, --json has it whole.
	ctx := context.Background()
	db, err := store.Open(ctx, env["INTAKE_DB"])
	require.NoError(t, err)
	obj, err := db.EnsureObject(ctx, "acme-demo-crm", "accounts")
	require.NoError(t, err)
	run, err := db.StartRun(ctx, obj)
	require.NoError(t, err)
	long := "GET /v1/accounts: connection reset by peer; " + strings.Repeat("retried and failed again; ", 8) + "gave up"
	_, err = db.FinishRun(ctx, run, obj, store.RunFailed, "transient", long)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	r = runEntities(t, env, "runs", "list", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	runs := jsonLines[runJSON](t, r.stdout)
	require.GreaterOrEqual(t, len(runs), 4)
	for i := 1; i < len(runs); i++ {
		assert.Greater(t, runs[i-1].ID, runs[i].ID, "newest first")
	}
	assert.Equal(t, run, runs[0].ID)
	assert.Equal(t, long, runs[0].Error)
	assert.Equal(t, "transient", runs[0].ErrorClass)

	r = runEntities(t, env, "runs", "list", "--integration", "acme-demo-crm", "--status", "succeeded", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	ok := jsonLines[runJSON](t, r.stdout)
	require.Len(t, ok, 3)
	assert.Equal(t, []string{"tickets", "contacts", "accounts"}, []string{ok[0].Type, ok[1].Type, ok[2].Type})
	assert.Equal(t, []int{3, 240}, []int{ok[0].Pages, ok[0].New})
	assert.Equal(t, []int{4, 360, 0, 0, 0, 0, 0}, []int{ok[1].Pages, ok[1].New, ok[1].Updated, ok[1].Unchanged, ok[1].Quarantined, ok[1].Filtered, ok[1].Unmatched})
	assert.Equal(t, []int{2, 120}, []int{ok[2].Pages, ok[2].New})
	assert.Equal(t, "acme", ok[2].Customer)
	assert.Equal(t, "acme-demo-crm", ok[2].Integration)
	assert.NotEmpty(t, ok[2].FinishedAt)
	assert.GreaterOrEqual(t, ok[2].DurationMS, int64(0))
	assert.Equal(t, "", ok[2].Error)

	r = runEntities(t, env, "runs", "list", "--integration", "globex-demo-crm", "--status", "failed", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	failed := jsonLines[runJSON](t, r.stdout)
	require.NotEmpty(t, failed)
	assert.Equal(t, "auth", failed[len(failed)-1].ErrorClass)
	assert.Contains(t, failed[len(failed)-1].Error, "401")
	assert.NotContains(t, r.stdout, "wrong-key")

	r = runEntities(t, env, "runs", "list", "--limit", "3")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 4)
	assert.Regexp(t, `^ID\s+STARTED\s+INTEGRATION\s+TYPE\s+STATUS\s+CLASS\s+PAGES\s+NEW\s+UPD\s+SAME\s+QUAR\s+FILT\s+UNM\s+DEL\s+DURATION\s+ERROR$`, lines[0])
	assert.Regexp(t, fmt.Sprintf(`^%d\s+\S+Z\s+acme-demo-crm\s+accounts\s+failed\s+transient\s+0\s+0\s+0\s+0\s+0\s+0\s+0\s+0\s+\S+\s+GET /v1/accounts: connection reset by peer; .*\.\.\.$`, run), lines[1])
	assert.NotContains(t, r.stdout, "gave up", "shortened in the table")

	r = runEntities(t, env, "runs", "list", "--status", "broken")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `--status "broken": use running, succeeded, failed, cancelled, interrupted`)
	r = runEntities(t, env, "runs", "list", "--integration", "nope")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "no sync runs match")
}

func TestQuarantineAndReviewsList(t *testing.T) {
	env := testEnv(t)
	r := runEntities(t, env, "integrations", "add", "--customer", "acme", "--provider", "demo-crm", "--config", "api_url=http://127.0.0.1:1", "--config", "api_key=demo-key")
	require.Equal(t, 0, r.code, r.stderr)

	r = runEntities(t, env, "quarantine", "list")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "no quarantined records")
	r = runEntities(t, env, "reviews", "list")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "no open match reviews")

	ctx := context.Background()
	db, err := store.Open(ctx, env["INTAKE_DB"])
	require.NoError(t, err)
	obj, err := db.EnsureObject(ctx, "acme-demo-crm", "contacts")
	require.NoError(t, err)
	run, err := db.StartRun(ctx, obj)
	require.NoError(t, err)
	_, err = db.CommitPage(ctx, run, obj, store.Page{Quarantined: []store.Quarantined{
		{ExternalID: "con_9", Reason: "email: expected string, got number", Raw: []byte(`{"id":"con_9","email":42,"note":"RAW-MARKER"}`)},
		{Reason: "id: the expression gave null", Raw: []byte(`{"email":"x@acme.example"}`)},
	}})
	require.NoError(t, err)
	_, err = db.FinishRun(ctx, run, obj, store.RunSucceeded, "", "")
	require.NoError(t, err)

	// Two accounts share a name; a record matching them by name is left for review.
	accts, err := db.EnsureObject(ctx, "acme-demo-crm", "accounts")
	require.NoError(t, err)
	arun, err := db.StartRun(ctx, accts)
	require.NoError(t, err)
	rec := func(id, domain, nameKey string) store.Record {
		data := []byte(`{"id":"` + id + `"}`)
		return store.Record{ExternalID: id, Kind: "account", Data: data, Raw: data, Hash: id,
			Match: &store.MatchKeys{Entity: store.EntityAccount, Domain: domain, Name: "Globex", NameKey: nameKey, At: time.Now(), Fields: map[string]any{"name": "Globex"}}}
	}
	_, err = db.CommitPage(ctx, arun, accts, store.Page{Records: []store.Record{rec("acc_1", "globex.com", ""), rec("acc_2", "globex.net", "")}})
	require.NoError(t, err)
	_, err = db.DB().Exec(`UPDATE accounts SET name_key = 'globex'`)
	require.NoError(t, err)
	_, err = db.CommitPage(ctx, arun, accts, store.Page{Records: []store.Record{rec("acc_3", "", "globex")}})
	require.NoError(t, err)
	require.NoError(t, db.Close())

	r = runEntities(t, env, "quarantine", "list")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 3)
	assert.Regexp(t, `^ID\s+INTEGRATION\s+TYPE\s+RUN\s+EXTERNAL ID\s+REASON\s+CREATED$`, lines[0])
	assert.Regexp(t, fmt.Sprintf(`^2\s+acme-demo-crm\s+contacts\s+%d\s+-\s+id: the expression gave null\s+\S+Z$`, run), lines[1])
	assert.Regexp(t, fmt.Sprintf(`^1\s+acme-demo-crm\s+contacts\s+%d\s+con_9\s+email: expected string, got number\s`, run), lines[2])
	assert.NotContains(t, r.stdout, "RAW-MARKER", "the raw payload only in --json")

	r = runEntities(t, env, "quarantine", "list", "--run", strconv.FormatInt(run, 10), "--integration", "acme-demo-crm", "--limit", "1", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	q := jsonLines[map[string]any](t, r.stdout)
	require.Len(t, q, 1)
	assert.EqualValues(t, 2, q[0]["id"])
	assert.Equal(t, map[string]any{"email": "x@acme.example"}, q[0]["raw"])
	r = runEntities(t, env, "quarantine", "list", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	q = jsonLines[map[string]any](t, r.stdout)
	require.Len(t, q, 2)
	assert.Equal(t, "con_9", q[1]["external_id"])
	assert.Equal(t, "contacts", q[1]["interaction_type"])
	assert.EqualValues(t, run, q[1]["run_id"])
	assert.Equal(t, "RAW-MARKER", q[1]["raw"].(map[string]any)["note"])
	r = runEntities(t, env, "quarantine", "list", "--run", strconv.FormatInt(run+100, 10))
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "no quarantined records")

	r = runEntities(t, env, "reviews", "list")
	require.Equal(t, 0, r.code, r.stderr)
	lines = strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 2)
	assert.Regexp(t, `^ID\s+CUSTOMER\s+ENTITY\s+PROVIDER\s+EXTERNAL ID\s+REASON\s+CANDIDATES\s+CREATED$`, lines[0])
	assert.Regexp(t, `^1\s+acme\s+account\s+demo-crm\s+acc_3\s+2 accounts are named "Globex"\s+1,2\s+\S+Z$`, lines[1])
	r = runEntities(t, env, "reviews", "list", "--customer", "acme", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	reviews := jsonLines[reviewJSON](t, r.stdout)
	require.Len(t, reviews, 1)
	assert.Equal(t, reviewJSON{ID: 1, Customer: "acme", Entity: "account", Provider: "demo-crm", Integration: "acme-demo-crm", ExternalID: "acc_3",
		Reason: `2 accounts are named "Globex"`, Candidates: []int64{1, 2}, CreatedAt: reviews[0].CreatedAt}, reviews[0])
	r = runEntities(t, env, "reviews", "list", "--customer", "globex", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, r.stdout)
}

// The commands are the ones entityCommands returns, with the flags of the issue.
func TestEntityCommandsShape(t *testing.T) {
	a := &app{env: Env{Getenv: func(string) string { return "" }}}
	want := map[string][]string{
		"accounts list":    {"customer", "domain", "search", "limit", "json"},
		"accounts show":    {"per-type", "json"},
		"contacts list":    {"customer", "account", "email", "search", "limit", "json"},
		"contacts show":    {"per-type", "json"},
		"runs list":        {"integration", "status", "limit", "json"},
		"quarantine list":  {"integration", "run", "limit", "json"},
		"reviews list":     {"customer", "json"},
		"links unresolved": {"customer", "integration", "type", "reason", "limit", "by-reason", "json"},
	}
	got := map[string]*cobra.Command{}
	for _, c := range a.entityCommands() {
		for _, sub := range c.Commands() {
			got[c.Name()+" "+sub.Name()] = sub
		}
	}
	require.Len(t, got, len(want))
	for name, flags := range want {
		require.Contains(t, got, name)
		for _, f := range flags {
			assert.NotNil(t, got[name].Flags().Lookup(f), "%s --%s", name, f)
		}
		assert.Contains(t, got[name].Use, strings.Join(strings.Fields(name)[1:], ""), name)
	}
}

func TestLinksUnresolved(t *testing.T) {
	env := syncedDemo(t)

	// The demo's tickets from people the CRM does not know.
	r := runEntities(t, env, "links", "unresolved", "--by-reason", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	counts := map[string]int{}
	for _, c := range jsonLines[reasonCountJSON](t, r.stdout) {
		counts[c.Reason] = c.Count
	}
	require.Positive(t, counts["not_found"], r.stdout)
	require.Positive(t, counts["contact_unresolved"], r.stdout)
	total := counts["not_found"] + counts["contact_unresolved"]
	assert.Equal(t, total, counts["not_found"]+counts["contact_unresolved"]+counts["no_account"]+counts["ambiguous"]+counts["unmatched"])

	r = runEntities(t, env, "links", "unresolved", "--limit", "0", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	all := jsonLines[unresolvedJSON](t, r.stdout)
	require.Len(t, all, total)
	for _, u := range all {
		assert.Equal(t, "acme", u.Customer)
		assert.Equal(t, "acme-demo-crm", u.Integration)
		assert.Equal(t, "demo-crm", u.Provider)
		assert.Equal(t, "tickets", u.Type)
		assert.True(t, strings.HasPrefix(u.ExternalID, "tkt_"), u.ExternalID)
		assert.NotEmpty(t, u.Detail)
		switch u.Reason {
		case "not_found":
			assert.Equal(t, "contact", u.Role)
			assert.Equal(t, "ref", u.Origin)
			assert.Contains(t, u.Ref.Email, "@")
			assert.Equal(t, "no contact with email "+u.Ref.Email, u.Detail)
		case "contact_unresolved":
			assert.Equal(t, "account", u.Role)
			assert.Equal(t, "contact", u.Origin)
		default:
			t.Errorf("unexpected reason %q", u.Reason)
		}
	}

	r = runEntities(t, env, "links", "unresolved", "--reason", "not_found", "--limit", "3")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, fmt.Sprintf("%d unresolved references:\n", total))
	assert.Regexp(t, `\n  not_found\s+\d+\n`, r.stdout)
	assert.Regexp(t, `\nID\s+CUSTOMER\s+INTEGRATION\s+TYPE\s+EXTERNAL ID\s+REFERS TO\s+REASON\s+DETAIL\n`, r.stdout)
	assert.Regexp(t, `\n\d+\s+acme\s+acme-demo-crm\s+tickets\s+tkt_\d{4}\s+contact\s+not_found\s+no contact with email \S+@\S+\n`, r.stdout)
	assert.Contains(t, r.stdout, fmt.Sprintf("showing 3 of %d; --limit 0 shows all", counts["not_found"]))
	assert.NotContains(t, r.stdout, "contact_unresolved  names", "filtered by reason")

	for _, args := range [][]string{{"--customer", "globex"}, {"--integration", "nope"}, {"--type", "accounts"}} {
		r = runEntities(t, env, append([]string{"links", "unresolved"}, args...)...)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "no unresolved references", args)
	}
	r = runEntities(t, env, "links", "unresolved", "--reason", "missing")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `--reason "missing": use not_found, ambiguous, no_account, contact_unresolved, unmatched`)
}
