package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
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
	kinds, err := fs.Glob(FS, KindsDir+"/*.schema.json")
	if err != nil || len(kinds) == 0 {
		t.Fatalf("no kind schemas embedded: %v", err)
	}
	names = append(names, kinds...)
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

// The built-in kinds are exactly the documented seven, each with a schema that
// compiles, carries its $id, allows custom fields and requires nothing.
func TestBuiltinKinds(t *testing.T) {
	want := []string{"account", "contact", "deal", "note", "task", "ticket", "user"}
	got := BuiltinKinds()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("BuiltinKinds() = %v, want %v", got, want)
	}
	for _, name := range want {
		if !IsBuiltinKind(name) {
			t.Errorf("IsBuiltinKind(%q) = false", name)
		}
		data, err := fs.ReadFile(FS, KindsDir+"/"+name+".schema.json")
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if doc["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s: $schema = %v, want draft 2020-12", name, doc["$schema"])
		}
		if doc["$id"] != KindURL(name) {
			t.Errorf("%s: $id = %v, want %s", name, doc["$id"], KindURL(name))
		}
		if doc["type"] != "object" || doc["additionalProperties"] != true {
			t.Errorf("%s: want type object and additionalProperties true", name)
		}
		if _, ok := doc["required"]; ok {
			t.Errorf("%s: a built-in kind requires no field (providers differ)", name)
		}
		props, _ := doc["properties"].(map[string]any)
		for _, f := range []string{"id", "url", "tags", "created_at", "updated_at"} {
			if _, ok := props[f]; !ok {
				t.Errorf("%s: missing the common field %s", name, f)
			}
		}
		if _, err := CompileBuiltinKind(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if IsBuiltinKind("renewal") {
		t.Error("IsBuiltinKind(renewal) = true")
	}
	if _, err := CompileBuiltinKind("renewal"); err == nil {
		t.Error("CompileBuiltinKind(renewal): want an error")
	}
}

// Every built-in kind shares the same definitions, so a field type means the same in
// each (an email is checked the same way in a contact and a ticket).
func TestKindDefinitionsAgree(t *testing.T) {
	var first []byte
	for _, name := range BuiltinKinds() {
		data, _ := fs.ReadFile(FS, KindsDir+"/"+name+".schema.json")
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = doc["$defs"]
			continue
		}
		if !bytes.Equal(first, doc["$defs"]) {
			t.Errorf("%s: $defs differ from %s's", name, BuiltinKinds()[0])
		}
	}
}

// A custom kind may build on a built-in kind by $ref, and may not reach files or
// the network.
func TestCompileCustomKind(t *testing.T) {
	sch, err := CompileCustomKind("vip", map[string]any{
		"$ref":     KindURL("account"),
		"required": []any{"tier"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(map[string]any{"tier": "gold", "name": "Acme"}); err != nil {
		t.Errorf("valid vip: %v", err)
	}
	if err := sch.Validate(map[string]any{"tier": "gold", "name": 3.0}); err == nil {
		t.Error("vip with a numeric name: want an error from the account schema")
	}
	for _, ref := range []string{"file:///etc/passwd", "https://example.com/x.schema.json", "other.schema.json"} {
		if _, err := CompileCustomKind("x", map[string]any{"$ref": ref}); err == nil {
			t.Errorf("$ref %s: want an error", ref)
		}
	}
	var se *jsonschema.SchemaValidationError
	if _, err := CompileCustomKind("x", map[string]any{"type": "strin"}); !errors.As(err, &se) {
		t.Errorf("type strin: want a metaschema error, got %v", err)
	}
}
