package connectors_test

import (
	"io/fs"
	"testing"

	"github.com/intakehq/intake/connectors"
	"github.com/intakehq/intake/engine/spec"
)

// The bundled specs are the ones the binary carries: each must load, under a
// provider name matching its file name.
func TestBundledSpecsLoad(t *testing.T) {
	names, err := fs.Glob(connectors.FS, "*.yaml")
	if err != nil || len(names) == 0 {
		t.Fatalf("no connectors embedded: %v", err)
	}
	cat := spec.LoadCatalog("", connectors.FS)
	for _, p := range cat.Problems {
		t.Error(p)
	}
	for _, n := range names {
		c, err := spec.LoadFS(connectors.FS, n, n)
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		if want := n[:len(n)-len(".yaml")]; c.Provider != want {
			t.Errorf("%s declares provider %q; name the file after its provider", n, c.Provider)
		}
	}
}
