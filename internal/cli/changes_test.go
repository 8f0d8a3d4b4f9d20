package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/store"
	"github.com/intakehq/intake/internal/democrm"
)

// runChanges is run (cli_test.go) with the changes command attached to the root when
// the root does not carry it (yet).
func runChanges(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{env: Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] }, IsTerminal: func(io.Writer) bool { return false }}}
	root := a.rootCmd()
	found := false
	for _, c := range root.Commands() {
		found = found || c.Name() == "changes"
	}
	if !found {
		root.AddCommand(a.changesCmd())
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

// changeLines parses `changes --json` output.
func changeLines(t *testing.T, stdout string) []changeJSON {
	t.Helper()
	var out []changeJSON
	for l := range strings.Lines(stdout) {
		var c changeJSON
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&c), l)
		var keys map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &keys))
		assert.Len(t, keys, 9, "every key is always present: %s", l)
		out = append(out, c)
	}
	return out
}

func TestChangesFollowSyncs(t *testing.T) {
	env := testEnv(t)
	// No tickets: the counts below are of accounts and contacts, and their entities.
	crm := democrm.New(democrm.Options{Seed: 3, Tickets: -1})
	srv := httptest.NewServer(crm.Handler())
	t.Cleanup(srv.Close)
	r := run(t, env, "integrations", "add", "--customer", "acme", "--provider", "demo-crm", "--config", "api_url="+srv.URL, "--config", "api_key=demo-key")
	require.Equal(t, 0, r.code, r.stderr)

	r = runChanges(t, env, "changes", "--since", "0", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, r.stdout)
	assert.Equal(t, "next: intake changes --since 0\n", r.stderr)

	r = run(t, env, "sync", "--integration", "acme-demo-crm")
	require.Equal(t, 0, r.code, r.stderr)

	r = runChanges(t, env, "changes", "--since", "0", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	all := changeLines(t, r.stdout)
	// 480 records, and the 120 accounts and 360 contacts resolved from them.
	require.Len(t, all, 960)
	var first []changeJSON
	entities := map[string]int{}
	for i, c := range all {
		assert.Equal(t, int64(i+1), c.Seq, "gap-free from 1")
		assert.Equal(t, "insert", c.Op)
		entities[c.Entity]++
		if c.Entity == "interaction" {
			first = append(first, c)
		}
	}
	assert.Equal(t, map[string]int{"interaction": 480, "account": 120, "contact": 360}, entities)
	ids := map[string]int64{} // type/external id -> interaction row id
	perType := map[string]int{}
	for _, c := range first {
		assert.Equal(t, "acme", c.Customer)
		assert.Equal(t, "acme-demo-crm", c.Integration)
		assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, c.At)
		assert.Positive(t, c.EntityID)
		ids[c.Type+"/"+c.ExternalID] = c.EntityID
		perType[c.Type]++
	}
	assert.Len(t, ids, 480, "one insert per record")
	assert.Equal(t, map[string]int{"accounts": 120, "contacts": 360}, perType)
	assert.Equal(t, "next: intake changes --since 960\n", r.stderr)

	// The CRM moves on; the next sync records exactly what changed.
	ch := crm.Mutate(25, 8)
	r = run(t, env, "sync", "--integration", "acme-demo-crm")
	require.Equal(t, 0, r.code, r.stderr)
	r = runChanges(t, env, "changes", "--since", "960", "--entity", "interaction", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	second := changeLines(t, r.stdout)
	got := map[string]map[string]int{"update": {}, "insert": {}}
	last := int64(960)
	for _, c := range second {
		assert.Greater(t, c.Seq, last, "in order")
		last = c.Seq
		got[c.Op][c.Type]++
		id, known := ids[c.Type+"/"+c.ExternalID]
		switch c.Op {
		case "update":
			assert.True(t, known, "an update is of a record inserted before: %+v", c)
			assert.Equal(t, id, c.EntityID, "an update names the row its insert named")
		case "insert":
			assert.False(t, known, "an insert is of a new record: %+v", c)
		}
	}
	want := map[string]map[string]int{"update": {}, "insert": {}}
	for typ, n := range ch.Updated {
		if n > 0 {
			want["update"][typ] = n
		}
	}
	for typ, n := range ch.Created {
		if n > 0 {
			want["insert"][typ] = n
		}
	}
	assert.Equal(t, want, got, "records re-read at the cursor and unchanged take no position")
	assert.Equal(t, fmt.Sprintf("next: intake changes --since %d --entity interaction\n", last), r.stderr)
	// Entity changes come with them: the accounts and contacts whose records changed.
	r = runChanges(t, env, "changes", "--since", "960", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	everything := changeLines(t, r.stdout)
	require.NotEmpty(t, everything)
	last = everything[len(everything)-1].Seq

	// Nothing after the end; a sync that finds nothing new records nothing.
	r = run(t, env, "sync", "--integration", "acme-demo-crm")
	require.Equal(t, 0, r.code, r.stderr)
	r = runChanges(t, env, "changes", "--since", fmt.Sprint(last), "--json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, r.stdout)
	assert.Equal(t, fmt.Sprintf("next: intake changes --since %d\n", last), r.stderr)

	// The table, a limit, and filters that the resume hint repeats.
	r = runChanges(t, env, "changes", "--since", fmt.Sprint(first[477].Seq), "--entity", "interaction", "--limit", "3")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 4)
	assert.Regexp(t, `^SEQ\s+AT\s+ENTITY\s+OP\s+ID\s+CUSTOMER\s+INTEGRATION\s+TYPE\s+EXTERNAL ID$`, lines[0])
	assert.Regexp(t, fmt.Sprintf(`^%d\s+\S+\s+interaction\s+insert\s+\d+\s+acme\s+acme-demo-crm\s+contacts\s+con_\d+$`, first[478].Seq), lines[1])
	assert.Regexp(t, fmt.Sprintf(`^%d\s+\S+\s+interaction\s+(insert|update)\s+\d+\s+acme\s+acme-demo-crm\s+accounts\s+acc_\d+$`, second[0].Seq), lines[3])
	assert.Equal(t, fmt.Sprintf("next: intake changes --since %d --entity interaction\n", second[0].Seq), r.stderr)

	r = runChanges(t, env, "changes", "--since", "0", "--customer", "globex", "--entity", "interaction")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "no changes after 0\n", r.stdout)
	assert.Equal(t, "next: intake changes --since 0 --customer globex --entity interaction\n", r.stderr)

	r = runChanges(t, env, "changes", "--since", fmt.Sprint(first[469].Seq), "--customer", "acme", "--entity", "interaction", "--limit", "2", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Len(t, changeLines(t, r.stdout), 2)
	assert.Equal(t, fmt.Sprintf("next: intake changes --since %d --customer acme --entity interaction\n", first[471].Seq), r.stderr)

	r = runChanges(t, env, "changes", "--since", "0", "--entity", "account", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	accounts := changeLines(t, r.stdout)
	assert.GreaterOrEqual(t, len(accounts), 120, "every account resolved from the records is on the feed")
	for _, c := range accounts {
		assert.Equal(t, "account", c.Entity)
	}
}

func TestChangesRefusesBadFlags(t *testing.T) {
	env := testEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"changes"}, `required flag(s) "since" not set`},
		{[]string{"changes", "--since", "-1"}, "--since -1: positions start at 0"},
		{[]string{"changes", "--since", "0", "--limit", "0"}, "--limit 0: use 1 to 10000"},
		{[]string{"changes", "--since", "0", "--limit", "10001"}, "--limit 10001: use 1 to 10000"},
		{[]string{"changes", "--since", "0", "--entity", "tickets"}, `--entity "tickets": use interaction, account or contact`},
	} {
		r := runChanges(t, env, tc.args...)
		assert.Equal(t, 1, r.code, tc.args)
		assert.Contains(t, r.stderr, tc.want, tc.args)
		assert.NotContains(t, r.stderr, "next:", tc.args)
	}
}

func TestNextChangesQuotesCustomer(t *testing.T) {
	assert.Equal(t, "intake changes --since 7 --customer 'o'\\''brien & co'", nextChanges(7, store.ChangeFilter{CustomerID: "o'brien & co"}))
	assert.Equal(t, "intake changes --since 7 --customer acme-eu_1", nextChanges(7, store.ChangeFilter{CustomerID: "acme-eu_1"}))
}
