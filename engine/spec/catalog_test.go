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
