package schemas

import (
	"bytes"
	"io/fs"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Every embedded schema is valid JSON Schema (the compiler checks it against its
// metaschema) and every $ref in it resolves.
func TestSchemasCompile(t *testing.T) {
	names, err := fs.Glob(FS, "*.schema.json")
	if err != nil || len(names) == 0 {
		t.Fatalf("no schemas embedded: %v", err)
	}
	for _, n := range names {
		data, err := fs.ReadFile(FS, n)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		if err := c.AddResource(n, doc); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if _, err := c.Compile(n); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
}
