package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
}

// Two customers on one provider, each with its own override, get different
// interactions from the same data; a bad override disables only its integration.
func TestOverridesPerCustomer(t *testing.T) {
	env := testEnv(t)
	customers := filepath.Join(filepath.Dir(env["INTAKE_DB"]), "customers")
	env["INTAKE_CUSTOMERS"] = customers
	writeFile(t, filepath.Join(customers, "acme", "demo-crm.yaml"), `customer: acme
provider: demo-crm
interaction_types:
  contacts:
    filter: .lifecycle_stage == "customer"
    fields:
      phone: null
      stage: .lifecycle_stage
  enterprise_accounts:
    extends: accounts
    filter: .plan == "enterprise"
`)
	writeFile(t, filepath.Join(customers, "globex", "demo-crm.yaml"), `customer: globex
provider: demo-crm
interaction_types:
  accounts:
    fields:
      size: 'if .employees > 500 then "large" else "small" end'
`)
	srv := demoServer(t)
	for _, c := range []string{"acme", "globex"} {
		r := run(t, env, "integrations", "add", "--customer", c, "--provider", "demo-crm", "--config", "api_url="+srv.URL, "--config", "api_key=demo-key")
		require.Equal(t, 0, r.code, r.stderr)
	}
	r := run(t, env, "sync", "--integration", "acme-demo-crm")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `contacts\s+succeeded\s+4 pages\s+360 records: \d+ new, 0 updated, 0 unchanged, \d+ filtered out`, r.stdout)
	assert.Regexp(t, `enterprise_accounts\s+succeeded`, r.stdout)
	r = run(t, env, "sync", "--integration", "globex-demo-crm")
	require.Equal(t, 0, r.code, r.stderr)
	assert.NotContains(t, r.stdout, "filtered out")

	acme := run(t, env, "interactions", "list", "--integration", "acme-demo-crm", "--type", "contacts", "--limit", "0", "--json")
	globex := run(t, env, "interactions", "list", "--integration", "globex-demo-crm", "--type", "contacts", "--limit", "0", "--json")
	assert.Less(t, strings.Count(acme.stdout, "\n"), strings.Count(globex.stdout, "\n"), "acme keeps customers only")
	assert.NotContains(t, acme.stdout, `"phone"`)
	assert.Contains(t, acme.stdout, `"stage":"customer"`)
	assert.Contains(t, globex.stdout, `"phone"`)
	acc := run(t, env, "interactions", "list", "--integration", "globex-demo-crm", "--type", "accounts", "--limit", "1", "--json")
	assert.Regexp(t, `"size":"(large|small)"`, acc.stdout)

	// explain shows the effective spec with each value's origin; --diff only the changes.
	r = run(t, env, "explain", "--customer", "acme", "--provider", "demo-crm", "--type", "contacts", "--diff")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "stage: .lifecycle_stage # "+filepath.Join(customers, "acme", "demo-crm.yaml")+":8")
	assert.Contains(t, r.stdout, "phone: null # removed by "+filepath.Join(customers, "acme", "demo-crm.yaml")+":7")
	assert.NotContains(t, r.stdout, "enterprise_accounts")
	r = run(t, env, "explain", "--customer", "acme", "--provider", "demo-crm")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "records: .data[] # bundled:demo-crm.yaml:")

	// A bad override: refused, that integration disabled with an alert, globex unaffected.
	writeFile(t, filepath.Join(customers, "acme", "demo-crm.yaml"), `customer: acme
provider: demo-crm
interaction_types:
  accounts:
    pagination: {limit: 0}
`)
	r = run(t, env, "sync", "--integration", "acme-demo-crm")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, filepath.Join(customers, "acme", "demo-crm.yaml")+":5:25: interaction_types.accounts.pagination.limit: must be at least 1, not 0 (it replaces the provider's value at bundled:demo-crm.yaml:")
	assert.Contains(t, r.stderr, "is disabled until the override is fixed")
	r = run(t, env, "alerts", "list", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"kind":"integration_disabled"`)
	r = run(t, env, "sync", "--integration", "globex-demo-crm")
	assert.Equal(t, 0, r.code, r.stderr)
	r = run(t, env, "explain", "--customer", "acme", "--provider", "demo-crm")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "must be at least 1, not 0")
}

func TestIntegrationOverrideAndResync(t *testing.T) {
	env := testEnv(t)
	srv := demoServer(t)
	r := run(t, env, "integrations", "add", "--customer", "acme", "--provider", "demo-crm", "--config", "api_url="+srv.URL, "--config", "api_key=demo-key")
	require.Equal(t, 0, r.code, r.stderr)
	r = run(t, env, "sync", "--integration", "acme-demo-crm", "--type", "accounts")
	require.Equal(t, 0, r.code, r.stderr)

	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, "customer: acme\nprovider: demo-crm\nbase_url: https://elsewhere.example\n")
	r = run(t, env, "integrations", "override", "acme-demo-crm", "--file", bad)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, bad+":3:1: base_url: may not be changed per customer")
	assert.Contains(t, r.stderr, "nothing stored")

	good := filepath.Join(dir, "good.yaml")
	writeFile(t, good, "customer: acme\nprovider: demo-crm\ninteraction_types:\n  accounts:\n    fields:\n      tier: .plan\n")
	r = run(t, env, "integrations", "override", "acme-demo-crm", "--file", good)
	require.Equal(t, 0, r.code, r.stderr)
	r = run(t, env, "integrations", "override", "acme-demo-crm", "--show")
	assert.Contains(t, r.stdout, "tier: .plan")

	// A mapping change does not reset the cursor: the next sync reads only changes.
	r = run(t, env, "sync", "--integration", "acme-demo-crm", "--type", "accounts")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `accounts\s+succeeded\s+1 pages\s+\d+ records: 0 new`, r.stdout)
	r = run(t, env, "interactions", "list", "--integration", "acme-demo-crm", "--limit", "0", "--json")
	remapped := strings.Count(r.stdout, `"tier"`)
	assert.Less(t, remapped, 20, "only the records re-read at the cursor got the new mapping; the rest wait for a resync")

	r = run(t, env, "integrations", "resync", "acme-demo-crm", "--type", "accounts")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "reset the cursor of acme-demo-crm for accounts")
	r = run(t, env, "sync", "--integration", "acme-demo-crm", "--type", "accounts")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `accounts\s+succeeded\s+2 pages\s+120 records: 0 new, \d+ updated, \d+ unchanged`, r.stdout)
	assert.Contains(t, r.stdout, fmt.Sprintf("%d updated, %d unchanged", 120-remapped, remapped))
	r = run(t, env, "interactions", "list", "--integration", "acme-demo-crm", "--type", "accounts", "--limit", "0", "--json")
	assert.Equal(t, 120, strings.Count(r.stdout, `"tier"`), "after a resync every record has the new mapping")

	r = run(t, env, "integrations", "override", "acme-demo-crm", "--clear")
	require.Equal(t, 0, r.code, r.stderr)
	r = run(t, env, "integrations", "resync", "nope")
	assert.Equal(t, 1, r.code)
}
