package spec_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/intakehq/intake/engine/spec"
)

const (
	overridesDir = "testdata/overrides"
	crmBase      = "testdata/overrides/base/crm.yaml"
)

// layerCases is the table of per-customer overrides. Each case is a directory under
// testdata/overrides holding override.yaml (or override-1.yaml, override-2.yaml, ...,
// applied in that order) layered onto base/crm.yaml, or onto the case's own base.yaml.
// A good case keeps the effective spec as Explain prints it in explain.golden (every
// value) and diff.golden (only what the overrides set or removed); a bad case keeps the
// full error text in error.golden. go test ./engine/spec -run TestLayerCases -update
// rewrites the goldens; it never turns a good case into a bad one or back.
var layerCases = []struct {
	dir     string
	wantErr bool
	check   func(t *testing.T, c *spec.Connector) // extra checks on the effective spec
}{
	// What each customizable path does.
	{dir: "add-field", check: func(t *testing.T, c *spec.Connector) {
		wantFields(t, c, "accounts", "name", "domain", "industry", "phone", "updated_at", "health_score", "tier")
		wantJQ(t, typ(t, c, "accounts").Fields.Map["health_score"], map[string]any{"custom": map[string]any{"health": 87}}, 87)
	}},
	{dir: "replace-field", check: func(t *testing.T, c *spec.Connector) {
		wantFields(t, c, "accounts", "name", "domain", "industry", "phone", "updated_at")
		wantJQ(t, typ(t, c, "accounts").Fields.Map["name"], map[string]any{"name": "  Acme Corp "}, "Acme Corp")
	}},
	{dir: "remove-field", check: func(t *testing.T, c *spec.Connector) {
		wantFields(t, c, "accounts", "name", "domain", "industry", "updated_at")
		wantFields(t, c, "contacts", "email", "name", "updated_at")
	}},
	{dir: "remove-all-fields", check: func(t *testing.T, c *spec.Connector) {
		if n := typ(t, c, "deals").Fields.Len(); n != 0 {
			t.Errorf("deals has %d fields, want none (the raw record is stored)", n)
		}
	}},
	{dir: "replace-param-list", check: func(t *testing.T, c *spec.Connector) {
		wantParams(t, typ(t, c, "accounts"), "fields=id,name,domain,industry,updated_at,health_score__c,tier__c")
		wantParams(t, typ(t, c, "deals"), "status=open")
	}},
	{dir: "replace-list", check: func(t *testing.T, c *spec.Connector) {
		if got := c.Auth.Scopes; !slices.Equal(got, []string{"api"}) {
			t.Errorf("scopes = %v, want the override's list [api], not merged with the provider's", got)
		}
	}},
	{dir: "sync-every", check: func(t *testing.T, c *spec.Connector) {
		wantSyncEvery(t, c, map[string]time.Duration{"accounts": 24 * time.Hour, "contacts": 24 * time.Hour, "deals": 6 * time.Hour})
		if c.SyncEvery.D() != 24*time.Hour {
			t.Errorf("sync_every = %v, want 24h", c.SyncEvery.D())
		}
	}},
	{dir: "request-params", check: func(t *testing.T, c *spec.Connector) {
		wantParams(t, typ(t, c, "contacts"), "include=custom_fields", "archived=false")
		wantParams(t, typ(t, c, "deals"), "status=open,won,lost", "pipeline=${ .config.subdomain }-sales")
	}},
	{dir: "incremental-start", check: func(t *testing.T, c *spec.Connector) {
		st, ok := typ(t, c, "accounts").Incremental.StartTime()
		if !ok || !st.Equal(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("accounts start = %v, %v; want 2024-06-01", st, ok)
		}
		if st, ok := typ(t, c, "contacts").Incremental.StartTime(); !ok || !st.Equal(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("contacts start = %v, %v; want the override's 2025-01-01 (the provider sets none)", st, ok)
		}
	}},
	{dir: "pagination-limit", check: func(t *testing.T, c *spec.Connector) {
		if got := typ(t, c, "accounts").Pagination.Limit; got != 25 {
			t.Errorf("accounts limit = %d, want 25", got)
		}
		if p := typ(t, c, "accounts").Pagination; p.LimitParam != "per_page" || p.Next.Src != ".meta.next_cursor" {
			t.Errorf("the rest of pagination changed: %+v", p)
		}
	}},
	{dir: "links", check: func(t *testing.T, c *spec.Connector) {
		l := typ(t, c, "deals").Links
		if l == nil || l.Account == nil || l.Contact == nil {
			t.Fatalf("deals links = %+v, want account and contact", l)
		}
		if l.Account.Type != "accounts" {
			t.Errorf("links.account.type = %q, want accounts", l.Account.Type)
		}
		wantJQ(t, l.Account.ID, map[string]any{"account_id": "a1"}, "a1")
		wantJQ(t, l.Contact.Email, map[string]any{"contact_email": "ana@acme.example"}, "ana@acme.example")
		if m := typ(t, c, "contacts").Match.Mode; m != spec.ModeUpdateOnly {
			t.Errorf("contacts match.mode = %q, want update_only", m)
		}
		if m := typ(t, c, "accounts").Match.Mode; m != spec.ModeCreate {
			t.Errorf("accounts match.mode = %q, want the default create", m)
		}
	}},
	{dir: "filter", check: func(t *testing.T, c *spec.Connector) {
		f := typ(t, c, "accounts").Filter
		wantJQ(t, f, map[string]any{"archived": false, "industry": "Retail"}, true)
		wantJQ(t, f, map[string]any{"archived": true, "industry": "Retail"}, false)
		if typ(t, c, "contacts").Filter != nil {
			t.Error("contacts has a filter; only accounts was given one")
		}
	}},
	{dir: "custom-type", check: func(t *testing.T, c *spec.Connector) {
		if got := c.InteractionTypes.Keys; !slices.Equal(got, []string{"accounts", "contacts", "deals", "renewals"}) {
			t.Errorf("types = %v, want the custom type after the provider's", got)
		}
		r := typ(t, c, "renewals")
		if r.Name != "renewals" || r.Kind != "renewal" || r.Description != "Open renewal deals." {
			t.Errorf("renewals: name %q kind %q description %q", r.Name, r.Kind, r.Description)
		}
		if r.Request.Path.Src != "/deals" || r.Pagination.Limit != 50 || r.SyncEvery.D() != 30*time.Minute {
			t.Errorf("renewals did not inherit from deals: path %q limit %d sync_every %v", r.Request.Path.Src, r.Pagination.Limit, r.SyncEvery.D())
		}
		wantParams(t, r, "status=open", "type=renewal")
		wantFields(t, c, "renewals", "name", "amount", "stage", "account_id", "closed_at", "renews_on", "arr")
		wantJQ(t, r.Filter, map[string]any{"type": "Renewal", "stage": "negotiation"}, true)
		wantJQ(t, r.Filter, map[string]any{"type": "New Business"}, false)
		// The type it extends is untouched.
		d := typ(t, c, "deals")
		if d.Kind != "deal" || d.Filter != nil || d.Fields.Len() != 5 {
			t.Errorf("deals changed: kind %q filter %v fields %v", d.Kind, d.Filter, d.Fields.Keys)
		}
		wantParams(t, d, "status=open,won,lost")
	}},
	{dir: "two-overrides", check: func(t *testing.T, c *spec.Connector) {
		wantJQ(t, typ(t, c, "accounts").Fields.Map["health_score"], map[string]any{"health_v2": 3, "health": 1}, 3)
		wantSyncEvery(t, c, map[string]time.Duration{"accounts": 6 * time.Hour, "contacts": 24 * time.Hour, "deals": 30 * time.Minute})
		if got := typ(t, c, "accounts").Pagination.Limit; got != 20 {
			t.Errorf("accounts limit = %d, want 20 from the first override", got)
		}
	}},
	{dir: "custom-type-two-overrides", check: func(t *testing.T, c *spec.Connector) {
		k := typ(t, c, "key_accounts")
		if k.Kind != "key_account" || k.Description != "Enterprise and strategic accounts." {
			t.Errorf("key_accounts: kind %q description %q", k.Kind, k.Description)
		}
		wantJQ(t, k.Filter, map[string]any{"tier": "smb", "strategic": true}, true)
	}},
	{dir: "two-overrides-readd", check: func(t *testing.T, c *spec.Connector) {
		wantFields(t, c, "accounts", "name", "domain", "industry", "updated_at", "phone")
		wantJQ(t, typ(t, c, "accounts").Fields.Map["phone"], map[string]any{"phone": "+1 555", "phone_e164": "+1555"}, "+1555")
	}},
	{dir: "custom-header", check: func(t *testing.T, c *spec.Connector) {
		h := typ(t, c, "contacts").Request.Headers
		if v, ok := h.Get("X-Crm-Region"); !ok || v.Src != "eu" {
			t.Errorf("contacts headers = %v, want X-Crm-Region: eu", h.Keys)
		}
	}},

	// The worked examples of docs/overrides.md.
	{dir: "example-salesforce", check: func(t *testing.T, c *spec.Connector) {
		wantFields(t, c, "accounts", "name", "website", "industry", "updated_at", "health_score", "tier")
		q := typ(t, c, "accounts").Request.Params.Map["q"]
		got, err := q.RenderString(t.Context(), map[string]any{"cursor": "2024-01-01T00:00:00Z"})
		if err != nil || got != "SELECT Id, Name, Website, Industry, Health_Score__c, Tier__c, SystemModstamp FROM Account WHERE SystemModstamp >= 2024-01-01T00:00:00Z ORDER BY SystemModstamp" {
			t.Errorf("q renders %q, %v", got, err)
		}
	}},
	{dir: "example-zendesk-vip", check: func(t *testing.T, c *spec.Connector) {
		v := typ(t, c, "vip_tickets")
		if v.Kind != "vip_ticket" || v.SyncEvery.D() != 15*time.Minute || v.Incremental.Format != "unix" {
			t.Errorf("vip_tickets: kind %q sync_every %v format %q", v.Kind, v.SyncEvery.D(), v.Incremental.Format)
		}
		wantJQ(t, v.Filter, map[string]any{"tags": []any{"billing", "vip"}, "status": "open"}, true)
		wantJQ(t, v.Filter, map[string]any{"tags": []any{"vip"}, "status": "closed"}, false)
		wantJQ(t, v.Filter, map[string]any{"status": "open"}, false)
		if typ(t, c, "tickets").SyncEvery.D() != time.Hour {
			t.Errorf("tickets sync_every changed")
		}
	}},

	// Refused: what the spec does not let customers change, and names that do not exist.
	{dir: "forbidden-base-url", wantErr: true},
	{dir: "forbidden-auth", wantErr: true},
	{dir: "forbidden-kind", wantErr: true},
	{dir: "forbidden-nested-key", wantErr: true},
	{dir: "forbidden-whole-section", wantErr: true},
	{dir: "misspelt-key", wantErr: true},
	{dir: "unknown-type", wantErr: true},
	{dir: "extends-unknown", wantErr: true},
	{dir: "extends-existing", wantErr: true},
	{dir: "several-errors", wantErr: true},

	// The effective spec is validated like any spec.
	{dir: "jq-error", wantErr: true},
	{dir: "limit-zero", wantErr: true},
	{dir: "bad-sync-every", wantErr: true},
	{dir: "bad-start", wantErr: true},
	{dir: "header-reads-credentials", wantErr: true},
	{dir: "second-override-error", wantErr: true},

	// The override file itself.
	{dir: "provider-mismatch", wantErr: true},
	{dir: "missing-customer", wantErr: true},
	{dir: "yaml-syntax", wantErr: true},
}

func readRepoFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, path))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// loadBase loads a provider spec under the name errors and explain show for it.
func loadBase(t *testing.T, path string) *spec.Connector {
	t.Helper()
	c, err := spec.Load(path, readRepoFile(t, path))
	if err != nil {
		t.Fatalf("base spec does not load:\n%v", err)
	}
	return c
}

func parseOverride(t *testing.T, path string) (*spec.Override, error) {
	t.Helper()
	return spec.ParseOverride(path, readRepoFile(t, path))
}

// caseFiles returns the base spec and the override files of a case directory, in the
// order they are applied.
func caseFiles(t *testing.T, dir string) (base string, overrides []string) {
	t.Helper()
	base = crmBase
	if _, err := os.Stat(filepath.Join(repoRoot, dir, "base.yaml")); err == nil {
		base = dir + "/base.yaml"
	}
	if _, err := os.Stat(filepath.Join(repoRoot, dir, "override.yaml")); err == nil {
		overrides = append(overrides, dir+"/override.yaml")
	}
	for i := 1; ; i++ {
		f := dir + "/override-" + strconv.Itoa(i) + ".yaml"
		if _, err := os.Stat(filepath.Join(repoRoot, f)); err != nil {
			break
		}
		overrides = append(overrides, f)
	}
	if len(overrides) == 0 {
		t.Fatalf("%s has no override.yaml nor override-1.yaml", dir)
	}
	return base, overrides
}

// layerCase parses and applies a case's overrides.
func layerCase(t *testing.T, dir string) (*spec.Layers, []string, error) {
	t.Helper()
	base, files := caseFiles(t, dir)
	c := loadBase(t, base)
	var ovs []*spec.Override
	for _, f := range files {
		o, err := parseOverride(t, f)
		if err != nil {
			if o != nil {
				t.Errorf("ParseOverride returned an override along with the error")
			}
			return nil, files, err
		}
		ovs = append(ovs, o)
	}
	l, err := spec.Apply(c, ovs...)
	if err != nil && l != nil {
		t.Errorf("Apply returned layers along with the error")
	}
	return l, files, err
}

// golden compares got with the file, or rewrites it under -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	full := filepath.Join(repoRoot, path)
	if *update {
		if err := os.WriteFile(full, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(full)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (rerun with -update once the change is right):\n--- got\n%s\n--- want\n%s\n--- lines\n%s", path, got, want, lineDiff(string(want), string(got)))
	}
}

func TestLayerCases(t *testing.T) {
	for _, tc := range layerCases {
		t.Run(tc.dir, func(t *testing.T) {
			dir := overridesDir + "/" + tc.dir
			l, files, err := layerCase(t, dir)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("applied without error; want the error in %s/error.golden", dir)
				}
				checkErrors(t, err, files)
				golden(t, dir+"/error.golden", []byte(err.Error()+"\n"))
				return
			}
			if err != nil {
				t.Fatalf("Apply:\n%v", err)
			}
			if got := l.Overrides(); !slices.Equal(got, files) {
				t.Errorf("Overrides() = %v, want %v", got, files)
			}
			explain, err := l.Explain(nil, false)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, dir+"/explain.golden", explain)
			diff, err := l.Explain(nil, true)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, dir+"/diff.golden", diff)
			checkExplain(t, l.Connector, explain, diff, files)
			if tc.check != nil {
				tc.check(t, l.Connector)
			}
		})
	}
}

// checkErrors checks that every error is a located spec.Error in one of the case's files.
func checkErrors(t *testing.T, err error, files []string) {
	t.Helper()
	var errs spec.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error is %T, not spec.Errors: %v", err, err)
	}
	for _, e := range errs {
		if !slices.Contains(files, e.File) {
			t.Errorf("error names file %q, not one of the case's files: %v", e.File, e)
		}
		if e.Line <= 0 || e.Col <= 0 {
			t.Errorf("error without a position: %v", e)
		}
	}
}

// checkExplain checks properties every explain output has: it is YAML whose values (its
// comments aside) load as the same effective spec, every value names a file:line, and
// the diff holds only lines that name an override.
func checkExplain(t *testing.T, c *spec.Connector, explain, diff []byte, files []string) {
	t.Helper()
	reloaded, err := spec.Load("explain.yaml", explain)
	if err != nil {
		t.Fatalf("explain's output does not load as a spec:\n%v\n%s", err, explain)
	}
	got, _ := json.Marshal(reloaded)
	want, _ := json.Marshal(c)
	if !bytes.Equal(got, want) {
		t.Errorf("explain's output loads as a different spec:\n got %s\nwant %s", got, want)
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(explain), "\n"), "\n") {
		if !strings.Contains(line, " # ") {
			t.Errorf("explain line without an origin: %q", line)
		}
	}
	var v any
	if err := yaml.Unmarshal(diff, &v); err != nil {
		t.Errorf("diff output is not YAML: %v\n%s", err, diff)
	}
	// In the diff, every value comes from an override, except inside a custom type
	// (one an override adds with extends), which shows what it inherits too.
	fromOverride := func(origin string) bool {
		origin = strings.TrimPrefix(origin, "removed by ")
		return slices.ContainsFunc(files, func(f string) bool { return strings.HasPrefix(origin, f+":") })
	}
	inCustom := false
	for _, line := range strings.Split(strings.TrimSuffix(string(diff), "\n"), "\n") {
		text, origin, _ := strings.Cut(line, " # ")
		indent := len(text) - len(strings.TrimLeft(text, " "))
		if indent <= 2 {
			inCustom = indent == 2 && fromOverride(origin)
		}
		if !strings.HasSuffix(text, ":") && !inCustom && !fromOverride(origin) {
			t.Errorf("diff shows a value no override set: %q", line)
		}
	}
}

// TestLayerCaseFixtures keeps the table and the directories in step.
func TestLayerCaseFixtures(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join(repoRoot, overridesDir))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, tc := range layerCases {
		if listed[tc.dir] {
			t.Errorf("%s is listed twice", tc.dir)
		}
		listed[tc.dir] = true
	}
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "base" {
			continue
		}
		if !listed[e.Name()] {
			t.Errorf("%s/%s is not in the layerCases table", overridesDir, e.Name())
		}
		delete(listed, e.Name())
	}
	for d := range listed {
		t.Errorf("table entry %s has no directory under %s", d, overridesDir)
	}
	for _, tc := range layerCases {
		dir := filepath.Join(repoRoot, overridesDir, tc.dir)
		for _, name := range []string{"error.golden", "explain.golden", "diff.golden"} {
			_, err := os.Stat(filepath.Join(dir, name))
			if exists, want := err == nil, (name == "error.golden") == tc.wantErr; exists != want && !*update {
				t.Errorf("%s: %s exists = %v, want %v", tc.dir, name, exists, want)
			}
		}
	}
}

func typ(t *testing.T, c *spec.Connector, name string) *spec.InteractionType {
	t.Helper()
	it, ok := c.InteractionTypes.Get(name)
	if !ok {
		t.Fatalf("no interaction type %q (have %v)", name, c.InteractionTypes.Keys)
	}
	return it
}

func wantFields(t *testing.T, c *spec.Connector, name string, want ...string) {
	t.Helper()
	if got := typ(t, c, name).Fields.Keys; !slices.Equal(got, want) {
		t.Errorf("%s fields = %v, want %v", name, got, want)
	}
}

// wantParams checks a request's params as NAME=TEMPLATE, in order.
func wantParams(t *testing.T, it *spec.InteractionType, want ...string) {
	t.Helper()
	var got []string
	for _, k := range it.Request.Params.Keys {
		got = append(got, k+"="+it.Request.Params.Map[k].Src)
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s params = %v, want %v", it.Name, got, want)
	}
}

func wantSyncEvery(t *testing.T, c *spec.Connector, want map[string]time.Duration) {
	t.Helper()
	for name, d := range want {
		if got := typ(t, c, name).SyncEvery.D(); got != d {
			t.Errorf("%s sync_every = %v, want %v", name, got, d)
		}
	}
}

// wantJQ runs a compiled expression over a record.
func wantJQ(t *testing.T, e *spec.Expr, record map[string]any, want any) {
	t.Helper()
	if e == nil || e.Query == nil {
		t.Fatalf("expression is nil or not compiled")
	}
	js, _ := json.Marshal(record)
	var in any
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		t.Fatal(err)
	}
	got, err := e.First(t.Context(), in)
	if err != nil {
		t.Fatalf("%s: %v", e.Src, err)
	}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if !bytes.Equal(gj, wj) {
		t.Errorf("%s over %s = %s, want %s", e.Src, js, gj, wj)
	}
}

func mustOverride(t *testing.T, file, src string) *spec.Override {
	t.Helper()
	o, err := spec.ParseOverride(file, []byte(src))
	if err != nil {
		t.Fatalf("ParseOverride:\n%v", err)
	}
	return o
}

func mustApply(t *testing.T, base *spec.Connector, ovs ...*spec.Override) *spec.Layers {
	t.Helper()
	l, err := spec.Apply(base, ovs...)
	if err != nil {
		t.Fatalf("Apply:\n%v", err)
	}
	return l
}

func specJSON(t *testing.T, c *spec.Connector) string {
	t.Helper()
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(js)
}

// TestApplyKeepsBase applies different overrides to one base, one after the other,
// and checks that the base and each effective spec are independent.
func TestApplyKeepsBase(t *testing.T) {
	base := loadBase(t, crmBase)
	before := specJSON(t, base)

	custom, _ := parseOverride(t, overridesDir+"/custom-type/override.yaml")
	removal, _ := parseOverride(t, overridesDir+"/remove-field/override.yaml")
	a := mustApply(t, base, custom)
	b := mustApply(t, base, removal)
	a2 := mustApply(t, base, custom) // again: the same result as the first time

	if got := specJSON(t, base); got != before {
		t.Errorf("Apply changed the base connector:\n got %s\nwant %s", got, before)
	}
	if got := base.InteractionTypes.Keys; !slices.Equal(got, []string{"accounts", "contacts", "deals"}) {
		t.Errorf("base types = %v", got)
	}
	wantFields(t, base, "accounts", "name", "domain", "industry", "phone", "updated_at")
	wantJQ(t, typ(t, base, "contacts").Fields.Map["email"], map[string]any{"email": "A@B.EXAMPLE"}, "a@b.example")
	if reloaded, err := spec.Load(crmBase, readRepoFile(t, crmBase)); err != nil || specJSON(t, reloaded) != before {
		t.Errorf("the base no longer loads the same: %v", err)
	}

	// Each effective spec has its own overrides only.
	if _, ok := b.Connector.InteractionTypes.Get("renewals"); ok {
		t.Error("the second Apply sees the first one's custom type")
	}
	wantFields(t, a.Connector, "accounts", "name", "domain", "industry", "phone", "updated_at")
	wantFields(t, b.Connector, "accounts", "name", "domain", "industry", "updated_at")
	if specJSON(t, a.Connector) != specJSON(t, a2.Connector) {
		t.Error("applying the same override twice gives different specs")
	}
	ea, _ := a.Explain(nil, false)
	ea2, _ := a2.Explain(nil, false)
	if !bytes.Equal(ea, ea2) {
		t.Errorf("explain differs between two identical Applies:\n%s\n---\n%s", ea, ea2)
	}

	// No overrides: the effective spec is the base, and the diff is empty.
	none := mustApply(t, base)
	if got := specJSON(t, none.Connector); got != before {
		t.Errorf("Apply without overrides changed the spec:\n got %s\nwant %s", got, before)
	}
	if d, _ := none.Explain(nil, true); string(d) != "{}\n" {
		t.Errorf("diff without overrides = %q, want {}", d)
	}
	if none.Connector.File != crmBase {
		t.Errorf("effective File = %q, want the provider's", none.Connector.File)
	}
}

// TestTwoCustomers layers two customers' files onto one provider spec.
func TestTwoCustomers(t *testing.T) {
	base := loadBase(t, crmBase)
	acme := mustApply(t, base, mustOverride(t, "customers/acme/crm.yaml", `customer: acme
provider: crm
interaction_types:
  vip_accounts:
    extends: accounts
    kind: vip_account
    filter: .tier == "vip"
  accounts:
    fields:
      health_score: .custom.health
`))
	globex := mustApply(t, base, mustOverride(t, "customers/globex/crm.yaml", `customer: globex
provider: crm
sync_every: 1d
interaction_types:
  accounts:
    fields:
      phone: null
    pagination:
      limit: 10
`))
	if got := acme.Connector.InteractionTypes.Keys; !slices.Equal(got, []string{"accounts", "contacts", "deals", "vip_accounts"}) {
		t.Errorf("acme types = %v", got)
	}
	if got := globex.Connector.InteractionTypes.Keys; !slices.Equal(got, []string{"accounts", "contacts", "deals"}) {
		t.Errorf("globex types = %v", got)
	}
	wantFields(t, acme.Connector, "accounts", "name", "domain", "industry", "phone", "updated_at", "health_score")
	wantFields(t, globex.Connector, "accounts", "name", "domain", "industry", "updated_at")
	if a, g := typ(t, acme.Connector, "accounts"), typ(t, globex.Connector, "accounts"); a.Pagination.Limit != 100 || g.Pagination.Limit != 10 {
		t.Errorf("limits: acme %d globex %d, want 100 and 10", a.Pagination.Limit, g.Pagination.Limit)
	}
	if a, g := typ(t, acme.Connector, "contacts").SyncEvery.D(), typ(t, globex.Connector, "contacts").SyncEvery.D(); a != time.Hour || g != 24*time.Hour {
		t.Errorf("contacts sync_every: acme %v globex %v, want 1h and 24h", a, g)
	}
	if got := acme.Overrides(); !slices.Equal(got, []string{"customers/acme/crm.yaml"}) {
		t.Errorf("acme overrides = %v", got)
	}
	// The vip type's filter runs; the type it extends has none.
	wantJQ(t, typ(t, acme.Connector, "vip_accounts").Filter, map[string]any{"tier": "vip"}, true)
	if typ(t, acme.Connector, "accounts").Filter != nil {
		t.Error("accounts got the custom type's filter")
	}
}

func TestExplainTypes(t *testing.T) {
	base := loadBase(t, crmBase)
	custom, _ := parseOverride(t, overridesDir+"/custom-type/override.yaml")
	l := mustApply(t, base, custom)

	typesIn := func(out []byte) []string {
		t.Helper()
		var doc struct {
			Provider         string               `yaml:"provider"`
			InteractionTypes yaml.Node            `yaml:"interaction_types"`
			Rest             map[string]yaml.Node `yaml:",inline"`
		}
		if err := yaml.Unmarshal(out, &doc); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		var names []string
		for i := 0; i+1 < len(doc.InteractionTypes.Content); i += 2 {
			names = append(names, doc.InteractionTypes.Content[i].Value)
		}
		return names
	}

	out, err := l.Explain([]string{"renewals"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := typesIn(out); !slices.Equal(got, []string{"renewals"}) {
		t.Errorf("Explain([renewals]) types = %v\n%s", got, out)
	}
	for _, want := range []string{"provider: crm", "base_url: ", "auth:", "kind: renewal # testdata/overrides/custom-type/override.yaml:7", "path: /deals # testdata/overrides/base/crm.yaml:73"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("Explain([renewals]) lacks %q:\n%s", want, out)
		}
	}
	out, _ = l.Explain([]string{"deals", "accounts"}, false)
	if got := typesIn(out); !slices.Equal(got, []string{"accounts", "deals"}) {
		t.Errorf("Explain([deals accounts]) types = %v, want spec order", got)
	}

	// In diff mode, a type the overrides do not touch leaves nothing.
	out, _ = l.Explain([]string{"contacts"}, true)
	if string(out) != "{}\n" {
		t.Errorf("diff of an untouched type = %q, want {}", out)
	}

	// Removals of other types are left out too.
	rm, _ := parseOverride(t, overridesDir+"/remove-field/override.yaml")
	out, _ = mustApply(t, base, rm).Explain([]string{"contacts"}, true)
	want := `interaction_types: # testdata/overrides/base/crm.yaml:21
  contacts: # testdata/overrides/base/crm.yaml:49
    fields: # testdata/overrides/base/crm.yaml:63
      email: .email | ascii_downcase # testdata/overrides/remove-field/override.yaml:10
      name: '[.first_name, .last_name] | map(select(. != null)) | join(" ")' # testdata/overrides/remove-field/override.yaml:11
      account_id: null # removed by testdata/overrides/remove-field/override.yaml:12
`
	if string(out) != want {
		t.Errorf("diff of contacts:\n%s\nwant:\n%s", out, want)
	}
}

// TestApplyAnchors: a provider spec may share values between types with YAML anchors;
// an override of one type must not reach the others.
func TestApplyAnchors(t *testing.T) {
	base, err := spec.Load("anchors.yaml", []byte(`provider: p
base_url: https://api.example.com
interaction_types:
  a:
    kind: thing
    request:
      path: /a
      params: &params
        expand: owner
    records: .data[]
    id: .id
    pagination: &page
      type: cursor
      next: .next
      limit_param: limit
      limit: 100
  b:
    kind: thing
    request:
      path: /b
      params: *params
    records: .data[]
    id: .id
    pagination: *page
`))
	if err != nil {
		t.Fatal(err)
	}
	l := mustApply(t, base, mustOverride(t, "o.yaml", `customer: c
provider: p
interaction_types:
  a:
    pagination:
      limit: 5
  b:
    request:
      params:
        archived: "false"
`))
	a, b := typ(t, l.Connector, "a"), typ(t, l.Connector, "b")
	if a.Pagination.Limit != 5 || b.Pagination.Limit != 100 {
		t.Errorf("limits a %d b %d, want 5 and 100: the override of a reached b through the anchor", a.Pagination.Limit, b.Pagination.Limit)
	}
	wantParams(t, a, "expand=owner")
	wantParams(t, b, "expand=owner", "archived=false")
	out, _ := l.Explain(nil, false)
	if strings.ContainsAny(string(out), "&*") {
		t.Errorf("explain prints anchors or aliases:\n%s", out)
	}
	if _, err := spec.Load("explain.yaml", out); err != nil {
		t.Errorf("explain's output does not load: %v\n%s", err, out)
	}
	diff, _ := l.Explain(nil, true)
	want := `interaction_types: # anchors.yaml:3
  a: # anchors.yaml:4
    pagination: # anchors.yaml:12
      limit: 5 # o.yaml:6
  b: # anchors.yaml:17
    request: # anchors.yaml:19
      params: # anchors.yaml:21
        archived: "false" # o.yaml:10
`
	if string(diff) != want {
		t.Errorf("diff:\n%s\nwant:\n%s", diff, want)
	}
}

// TestRemoveMissing: null on a key the spec does not have changes nothing, and explain
// does not claim a removal. (It is not an error, so that a provider dropping a field
// does not break the customers who removed it.)
func TestRemoveMissing(t *testing.T) {
	base := loadBase(t, crmBase)
	l := mustApply(t, base, mustOverride(t, "o.yaml", "customer: c\nprovider: crm\ninteraction_types:\n  accounts:\n    fields:\n      fax: null\n"))
	if got, want := specJSON(t, l.Connector), specJSON(t, base); got != want {
		t.Errorf("the spec changed:\n got %s\nwant %s", got, want)
	}
	if d, _ := l.Explain(nil, true); string(d) != "{}\n" {
		t.Errorf("diff = %q, want {}", d)
	}
}

// TestOverrideLayersRemovals: what an earlier override removed, a later one may put back
// or remove wholesale; explain shows only what is true of the effective spec.
func TestOverrideLayersRemovals(t *testing.T) {
	base := loadBase(t, crmBase)
	o1 := mustOverride(t, "one.yaml", "customer: c\nprovider: crm\ninteraction_types:\n  accounts:\n    fields:\n      phone: null\n      domain: null\n")
	o2 := mustOverride(t, "two.yaml", "customer: c\nprovider: crm\ninteraction_types:\n  accounts:\n    fields: null\n")
	d, _ := mustApply(t, base, o1, o2).Explain(nil, true)
	want := `interaction_types: # testdata/overrides/base/crm.yaml:21
  accounts: # testdata/overrides/base/crm.yaml:22
    fields: null # removed by two.yaml:5
`
	if string(d) != want {
		t.Errorf("diff:\n%s\nwant:\n%s", d, want)
	}
}

func TestParseOverride(t *testing.T) {
	o := mustOverride(t, "customers/acme/crm.yaml", "customer: acme\nprovider: crm\nsync_every: 1d\n")
	if o.File != "customers/acme/crm.yaml" || o.Customer != "acme" || o.Provider != "crm" {
		t.Errorf("override = %+v", o)
	}

	tests := []struct {
		name, src string
		want      string // the full error text
	}{
		{"empty", "", "o.yaml:1:1: empty file: an override needs at least customer, provider and what it changes"},
		{"document marker only", "---\n", "o.yaml:1:1: empty file: an override needs at least customer, provider and what it changes"},
		{"list", "- customer: acme\n", "o.yaml:1:1: an override is a mapping with customer, provider and the keys it changes"},
		{"no provider", "customer: acme\nsync_every: 1d\n", `o.yaml:1:1: missing required key "provider"`},
		{"customer not a name", "customer: [acme]\nprovider: crm\n", "o.yaml:1:11: customer: must be a name"},
		{"provider empty", "customer: acme\nprovider: ''\n", "o.yaml:2:11: provider: must be a name"},
		{"two documents", "customer: acme\nprovider: crm\n---\nsync_every: 1d\n", "o.yaml:3:1: an override file holds one YAML document; found a second one"},
		{"tab", "customer: acme\nprovider: crm\ninteraction_types:\n\taccounts: {}\n", "o.yaml:4:1: invalid YAML: a tab cannot indent YAML; indent with spaces"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := spec.ParseOverride("o.yaml", []byte(tc.src))
			if err == nil {
				t.Fatalf("parsed: %+v", o)
			}
			var errs spec.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T: %v", err, err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("got:\n%v\nwant it to start with:\n%s", err, tc.want)
			}
		})
	}
}

func TestApplyWithoutSource(t *testing.T) {
	_, err := spec.Apply(&spec.Connector{File: "x.yaml", Provider: "crm"}, mustOverride(t, "o.yaml", "customer: c\nprovider: crm\n"))
	if err == nil || !strings.Contains(err.Error(), "x.yaml") {
		t.Errorf("Apply on a connector not made by Load: %v, want an error naming it", err)
	}
}
