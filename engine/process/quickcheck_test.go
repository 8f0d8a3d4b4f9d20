package process

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/schemas"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// quickValues are values of every JSON type, with the edges of the kinds' keywords:
// texts that do and do not match the address, domain and timestamp patterns, empty
// text, integers written plainly and not (1.0, 1e2), negative and fractional numbers.
var quickValues = []any{
	nil, true, false,
	"", "x", "ana@acme.example", "ana at acme.example", "a@b@c", "acme.example", "https://acme.example/", "ana@acme.example ",
	"2026-01-31", "2026-01-31T09:30:00Z", "2026-01-31 09:30:00", "2026-01-31T09:30:00.000+0000", "01/02/2026", "yesterday",
	json.Number("0"), json.Number("7"), json.Number("-1"), json.Number("-0"), json.Number("12.5"), json.Number("1.0"),
	json.Number("1e2"), json.Number("-2.5e-3"), json.Number("360012345678"), json.Number("99999999999999999999999"),
	[]any{}, []any{"a", "b"}, []any{"a", json.Number("7")}, []any{nil}, []any{map[string]any{"id": json.Number("1")}},
	map[string]any{}, map[string]any{"street": "1 Main St", "city": "Springfield"},
}

// A record the quick check calls valid is valid to the library: random records over
// every built-in kind's fields (and fields it does not list) never disagree that way,
// and the quick check decides most valid records itself.
func TestQuickSchemaAgreesWithLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, kind := range schemas.BuiltinKinds() {
		t.Run(kind, func(t *testing.T) {
			sch, err := builtinSchema(kind)
			require.NoError(t, err)
			q := compileQuick(sch)
			require.NotNil(t, q, "every built-in kind has a quick form")
			fields := []string{"unlisted", "custom_field"}
			for name := range sch.Properties {
				fields = append(fields, name)
			}
			slices.Sort(fields)
			var libValid, quickValid int
			check := func(doc any) {
				lib := sch.Validate(doc) == nil
				quick := q.valid(doc)
				if quick && !lib {
					b, _ := json.Marshal(doc)
					t.Fatalf("quick says valid, the library does not: %s", b)
				}
				if lib {
					libValid++
					if quick {
						quickValid++
					}
				}
			}
			// Each field with each value alone, then random records.
			for _, f := range fields {
				for _, v := range quickValues {
					check(map[string]any{f: v})
				}
			}
			for range 20000 {
				doc := map[string]any{}
				for range 1 + rng.IntN(6) {
					doc[fields[rng.IntN(len(fields))]] = quickValues[rng.IntN(len(quickValues))]
				}
				check(doc)
			}
			for _, v := range quickValues {
				check(v) // not an object
			}
			assert.Greater(t, quickValid*10, libValid*8, "quick decides at least 80%% of valid records (%d of %d)", quickValid, libValid)
		})
	}
}

// A schema with a keyword the quick check does not know has no quick form; one with
// only known keywords, recursive included, has.
func TestCompileQuick(t *testing.T) {
	cases := []struct {
		name   string
		schema string
		quick  bool
	}{
		{"known keywords", `{"type":"object","properties":{"a":{"type":["string","null"],"pattern":"^x"},"n":{"type":"integer","minimum":1},"l":{"type":"array","items":{"type":"string"}}},"additionalProperties":true}`, true},
		{"refs and recursion", `{"$defs":{"node":{"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}}}},"$ref":"#/$defs/node"}`, true},
		{"required", `{"type":"object","required":["a"]}`, false},
		{"enum", `{"properties":{"a":{"enum":["x","y"]}}}`, false},
		{"additionalProperties false", `{"type":"object","additionalProperties":false}`, false},
		{"maxLength deep inside", `{"properties":{"a":{"items":{"maxLength":3}}}}`, false},
		{"format", `{"properties":{"e":{"type":"string","format":"email"}}}`, false},
		{"anyOf", `{"anyOf":[{"type":"string"},{"type":"null"}]}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var doc any
			require.NoError(t, json.Unmarshal([]byte(tc.schema), &doc))
			sch, err := schemas.CompileCustomKind("k", doc)
			require.NoError(t, err)
			assert.Equal(t, tc.quick, compileQuick(sch) != nil)
		})
	}
}

// The recursive schema is judged to its depth, and a violation deep inside leaves the
// decision to the library.
func TestQuickSchemaRecursive(t *testing.T) {
	var doc any
	require.NoError(t, json.Unmarshal([]byte(`{"$defs":{"node":{"type":"object","properties":{"name":{"type":"string"},"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}}}},"$ref":"#/$defs/node"}`), &doc))
	sch, err := schemas.CompileCustomKind("tree", doc)
	require.NoError(t, err)
	q := compileQuick(sch)
	require.NotNil(t, q)
	good := map[string]any{"name": "a", "kids": []any{map[string]any{"name": "b", "kids": []any{}}}}
	bad := map[string]any{"name": "a", "kids": []any{map[string]any{"name": json.Number("1")}}}
	assert.True(t, q.valid(good))
	assert.NoError(t, sch.Validate(good))
	assert.False(t, q.valid(bad))
	assert.Error(t, sch.Validate(bad))
}

// BenchmarkValidateContact validates a mapped contact as a first sync does: through
// the quick check, and through the library alone.
func BenchmarkValidateContact(b *testing.B) {
	sch, err := builtinSchema("contact")
	require.NoError(b, err)
	q := compileQuick(sch)
	var doc any
	require.NoError(b, json.Unmarshal([]byte(`{"email":"zara.ali@blueharbor-robotics.example","name":"Zara Ali","first_name":"Zara","last_name":"Ali","title":"CTO","phone":"+1 206 555 7116","account_id":"acc_0001","company":"Blue Harbor Robotics","lifecycle_stage":"customer","country":"US","owner_email":"dana@demo-crm.example","updated_at":"2026-02-01T10:00:00Z"}`), &doc))
	b.Run("quick", func(b *testing.B) {
		for b.Loop() {
			if !q.valid(doc) {
				b.Fatal("not valid")
			}
		}
	})
	b.Run("CheckValue", func(b *testing.B) {
		v := &Validator{custom: map[string]*jsonschema.Schema{}, quick: map[string]*quickSchema{}}
		for b.Loop() {
			if err := v.CheckValue("contact", doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("library", func(b *testing.B) {
		for b.Loop() {
			if err := sch.Validate(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
