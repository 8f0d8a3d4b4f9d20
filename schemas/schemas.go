// Package schemas embeds the JSON Schemas of intake: the connector spec format and the
// built-in interaction kinds. The spec loader validates every connector against
// connector.schema.json, so the schema editors autocomplete from is the one enforced;
// the processor validates every mapped record against its kind's schema in kinds/.
package schemas

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// FS holds every *.schema.json file of this folder and of kinds/.
//
//go:embed *.schema.json kinds/*.schema.json
var FS embed.FS

// ConnectorSchema is the file name of the connector spec schema inside FS.
const ConnectorSchema = "connector.schema.json"

// KindsDir is the folder of FS that holds one NAME.schema.json per built-in kind.
const KindsDir = "kinds"

// KindBaseURL is the base of the $id of every built-in kind schema: a custom kind can
// reuse one with {"$ref": "https://intake.dev/schemas/kinds/contact.schema.json"}, or
// one of its definitions with ".../contact.schema.json#/$defs/email".
const KindBaseURL = "https://intake.dev/schemas/kinds/"

// KindURL is the $id of the built-in kind name.
func KindURL(name string) string { return KindBaseURL + name + ".schema.json" }

// CustomKindURL is the URL a custom kind's inline schema is compiled under (unless it
// sets its own $id).
func CustomKindURL(name string) string { return KindBaseURL + "custom/" + name + ".schema.json" }

var builtin = sync.OnceValues(func() (map[string]any, error) {
	names, err := fs.Glob(FS, KindsDir+"/*.schema.json")
	if err != nil {
		return nil, err
	}
	docs := make(map[string]any, len(names))
	for _, n := range names {
		f, err := FS.Open(n)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		docs[strings.TrimSuffix(path.Base(n), ".schema.json")] = doc
	}
	return docs, nil
})

// BuiltinKinds returns the names of the built-in kinds, sorted.
func BuiltinKinds() []string {
	docs, _ := builtin()
	names := make([]string, 0, len(docs))
	for n := range docs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// IsBuiltinKind reports whether name is a built-in kind.
func IsBuiltinKind(name string) bool {
	docs, _ := builtin()
	_, ok := docs[name]
	return ok
}

// noLoader refuses every URL: a kind schema may refer to the built-in kinds and to
// itself, never to a file or a web address.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("only the built-in kinds (%s*.schema.json) can be referred to", KindBaseURL)
}

// NewKindCompiler returns a JSON Schema compiler for kind schemas: draft 2020-12 by
// default, formats asserted, every built-in kind schema known by its $id, and nothing
// loaded from files or the network. A compiler is not safe for concurrent use; the
// schemas it compiles are.
func NewKindCompiler() (*jsonschema.Compiler, error) {
	docs, err := builtin()
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(noLoader{})
	for name, doc := range docs {
		if err := c.AddResource(KindURL(name), doc); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// CompileBuiltinKind compiles the schema of the built-in kind name.
func CompileBuiltinKind(name string) (*jsonschema.Schema, error) {
	if !IsBuiltinKind(name) {
		return nil, fmt.Errorf("%q is not a built-in kind (built-in: %s)", name, strings.Join(BuiltinKinds(), ", "))
	}
	c, err := NewKindCompiler()
	if err != nil {
		return nil, err
	}
	return c.Compile(KindURL(name))
}

// CompileCustomKind compiles the inline schema of a custom kind (a JSON value:
// maps, slices, strings, json.Number, bools, nil). The error of a schema that is not
// valid JSON Schema is a *jsonschema.SchemaValidationError whose cause locates the
// problem inside doc.
func CompileCustomKind(name string, doc any) (*jsonschema.Schema, error) {
	c, err := NewKindCompiler()
	if err != nil {
		return nil, err
	}
	url := CustomKindURL(name)
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
}
