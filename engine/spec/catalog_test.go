package spec_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/intakehq/intake/connectors"
	"github.com/intakehq/intake/engine/spec"
)

func TestCatalogEffective(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, text string) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cat := spec.LoadCatalog("", connectors.FS)
	cat.CustomersDir = dir

	// No override: the provider's own spec.
	c, l, err := cat.Effective("nobody", "demo-crm", "", "")
	if err != nil || l != nil || c.Provider != "demo-crm" {
		t.Fatalf("no override: %v %v", l, err)
	}

	// The file in the customer's folder, then the attached override.
	write("acme/demo-crm.yaml", "customer: acme\nprovider: demo-crm\ninteraction_types:\n  accounts:\n    fields: {tier: .plan}\n")
	c, l, err = cat.Effective("acme", "demo-crm", "customer: acme\nprovider: demo-crm\nsync_every: 2h\n", "attached")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.InteractionTypes.Map["accounts"].Fields.Get("tier"); !ok || c.SyncEvery.D().Hours() != 2 {
		t.Errorf("both layers should apply: fields %v, sync_every %v", c.InteractionTypes.Map["accounts"].Fields.Keys, c.SyncEvery.D())
	}
	if got := strings.Join(l.Overrides(), ","); got != filepath.Join(dir, "acme/demo-crm.yaml")+",attached" {
		t.Errorf("overrides applied: %s", got)
	}

	// A file in the wrong customer's folder is refused where it says customer.
	p := write("globex/demo-crm.yaml", "provider: demo-crm\ncustomer: acme\n")
	_, _, err = cat.Effective("globex", "demo-crm", "", "")
	var oe *spec.OverrideError
	if !errors.As(err, &oe) {
		t.Fatalf("want an OverrideError, got %v", err)
	}
	if want := p + `:2:11: customer: is "acme", but the file is in the folder of customer "globex"`; !strings.Contains(err.Error(), want) {
		t.Errorf("got %v\nwant it to contain %s", err, want)
	}
}

func TestSnapshotOverrides(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, text string) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("acme/demo-crm.yaml", "customer: acme\nprovider: demo-crm\nsync_every: 2h\n")
	write("README.md", "not an override")
	cat := spec.LoadCatalog("", connectors.FS)
	cat.CustomersDir = dir
	if problems := cat.SnapshotOverrides(); len(problems) != 0 {
		t.Fatalf("good overrides: %v", problems)
	}
	// The snapshot is what counts: an edit on disk waits for a new catalog.
	write("acme/demo-crm.yaml", "customer: acme\nprovider: demo-crm\nsync_every: 5h\n")
	c, _, err := cat.Effective("acme", "demo-crm", "", "")
	if err != nil || c.SyncEvery.D().Hours() != 2 {
		t.Fatalf("snapshot: sync_every %v, %v", c.SyncEvery.D(), err)
	}

	// A new catalog sees the edit, and reports each bad file with its position.
	bad := write("globex/demo-crm.yaml", "customer: globex\nprovider: demo-crm\nsync_evry: 1h\n")
	unknown := write("globex/nope.yml", "customer: globex\nprovider: nope\n")
	next := spec.LoadCatalog("", connectors.FS)
	next.CustomersDir = dir
	problems := next.SnapshotOverrides()
	if len(problems) != 2 {
		t.Fatalf("want 2 problems, got %v", problems)
	}
	all := errors.Join(problems...).Error()
	for _, want := range []string{bad + `:3:1: sync_evry: may not be changed per customer (did you mean "sync_every"?)`, unknown + `: no connector for provider "nope"`} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
	c, _, err = next.Effective("acme", "demo-crm", "", "")
	if err != nil || c.SyncEvery.D().Hours() != 5 {
		t.Fatalf("new snapshot: sync_every %v, %v", c.SyncEvery.D(), err)
	}
	// The bad file still fails its integration, as without a snapshot.
	_, _, err = next.Effective("globex", "demo-crm", "", "")
	var oe *spec.OverrideError
	if !errors.As(err, &oe) {
		t.Fatalf("want an OverrideError, got %v", err)
	}
}

func TestSyncEveryDefaulted(t *testing.T) {
	base := "provider: p\nbase_url: http://x\ninteraction_types:\n  a: {kind: ticket, request: {path: /a}, records: '.[]', id: .id}\n  b: {kind: ticket, request: {path: /b}, records: '.[]', id: .id, sync_every: 5m}\n"
	for _, tc := range []struct {
		name, text   string
		defaulted    bool
		aEvery, bDur string
	}{
		{"no sync_every anywhere", base, true, "1h0m0s", "5m0s"},
		{"provider sets it", strings.Replace(base, "base_url", "sync_every: 1h\nbase_url", 1), false, "1h0m0s", "5m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := spec.Load("p.yaml", []byte(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			a, b := c.InteractionTypes.Map["a"], c.InteractionTypes.Map["b"]
			if a.SyncEveryDefaulted != tc.defaulted || a.SyncEvery.D().String() != tc.aEvery {
				t.Errorf("a: defaulted %v every %v", a.SyncEveryDefaulted, a.SyncEvery.D())
			}
			if b.SyncEveryDefaulted || b.SyncEvery.D().String() != tc.bDur {
				t.Errorf("b sets its own: defaulted %v every %v", b.SyncEveryDefaulted, b.SyncEvery.D())
			}
		})
	}
}
