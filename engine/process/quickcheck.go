package process

import (
	"encoding/json"
	"math/big"
	"reflect"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// quickSchema tells, for the few keywords the kind schemas use, that a record is
// valid without the JSON Schema library, which spent a tenth of a first sync's CPU
// allocating its scopes for records that were almost always valid. It never tells
// that a record is invalid: when it cannot say valid (a violation, or a value it
// does not judge, such as 1.0 where an integer is wanted), the library validates and
// words the violations. So it can only be wrong by saying valid where the library
// would not, which TestQuickSchemaAgreesWithLibrary looks for.
//
// It is built from the compiled schema (compileQuick), and only when every keyword
// set anywhere in it is one it knows: type, properties, additionalProperties true,
// items, pattern, minimum, $ref, and annotations.
type quickSchema struct {
	types   quickTypes // 0: any type
	ref     *quickSchema
	props   map[string]*quickSchema
	items   *quickSchema
	pattern jsonschema.Regexp
	minimum *big.Rat
}

type quickTypes uint8

const (
	qNull quickTypes = 1 << iota
	qBool
	qNumber
	qInteger
	qString
	qArray
	qObject
)

var quickTypeNames = map[string]quickTypes{"null": qNull, "boolean": qBool, "number": qNumber, "integer": qInteger,
	"string": qString, "array": qArray, "object": qObject}

// quickFields are the fields of jsonschema.Schema that compileQuick understands or
// that do not constrain a value (annotations, identifiers, anchors, which do nothing
// without the keywords that use them). Any other field set makes the schema one for
// the library alone, including fields a later version of the library adds.
var quickFields = map[string]bool{
	"DraftVersion": true, "Location": true, "ID": true, "Anchor": true, "RecursiveAnchor": true, "DynamicAnchor": true,
	"Bool": true, "Ref": true, "Types": true, "Properties": true, "AdditionalProperties": true, "Items2020": true,
	"Pattern": true, "Minimum": true,
	"Title": true, "Description": true, "Default": true, "Comment": true, "ReadOnly": true, "WriteOnly": true,
	"Examples": true, "Deprecated": true,
}

// compileQuick returns the quick form of s, or nil when s uses a keyword it does
// not know.
func compileQuick(s *jsonschema.Schema) *quickSchema {
	q, ok := compileQuickIn(s, map[*jsonschema.Schema]*quickSchema{})
	if !ok {
		return nil
	}
	return q
}

func compileQuickIn(s *jsonschema.Schema, done map[*jsonschema.Schema]*quickSchema) (*quickSchema, bool) {
	if q, ok := done[s]; ok {
		return q, true // compiled or being compiled: a recursive schema
	}
	v := reflect.ValueOf(s).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if f.IsExported() && !quickFields[f.Name] && !v.Field(i).IsZero() {
			return nil, false
		}
	}
	if s.Bool != nil && !*s.Bool {
		return nil, false // false: nothing is valid
	}
	if b, ok := s.AdditionalProperties.(bool); s.AdditionalProperties != nil && (!ok || !b) {
		return nil, false
	}
	q := &quickSchema{pattern: s.Pattern, minimum: s.Minimum}
	done[s] = q
	if s.Types != nil {
		for _, name := range s.Types.ToStrings() {
			t, ok := quickTypeNames[name]
			if !ok {
				return nil, false
			}
			q.types |= t
		}
	}
	var ok bool
	if s.Ref != nil {
		if q.ref, ok = compileQuickIn(s.Ref, done); !ok {
			return nil, false
		}
	}
	if s.Items2020 != nil {
		if q.items, ok = compileQuickIn(s.Items2020, done); !ok {
			return nil, false
		}
	}
	if len(s.Properties) > 0 {
		q.props = make(map[string]*quickSchema, len(s.Properties))
		for name, p := range s.Properties {
			if q.props[name], ok = compileQuickIn(p, done); !ok {
				return nil, false
			}
		}
	}
	return q, true
}

// valid reports that v is certainly valid; false means the library must tell.
// v is a decoded JSON value: nil, bool, string, json.Number, []any or map[string]any.
func (q *quickSchema) valid(v any) bool {
	var t quickTypes
	var num json.Number
	switch x := v.(type) {
	case nil:
		t = qNull
	case bool:
		t = qBool
	case string:
		t = qString
	case json.Number:
		t, num = qNumber, x
	case []any:
		t = qArray
	case map[string]any:
		t = qObject
	default:
		return false // floats, ints and the rest: the library's rules for them apply
	}
	if q.types != 0 && q.types&t == 0 {
		if t != qNumber || q.types&qInteger == 0 || !isPlainInteger(num) {
			return false
		}
	}
	if q.ref != nil && !q.ref.valid(v) {
		return false
	}
	switch t {
	case qString:
		if q.pattern != nil && !q.pattern.MatchString(v.(string)) {
			return false
		}
	case qNumber:
		if q.minimum != nil {
			r, ok := new(big.Rat).SetString(string(num))
			if !ok || r.Cmp(q.minimum) < 0 {
				return false
			}
		}
	case qArray:
		if q.items != nil {
			for _, e := range v.([]any) {
				if !q.items.valid(e) {
					return false
				}
			}
		}
	case qObject:
		for name, p := range q.props {
			if e, ok := v.(map[string]any)[name]; ok && !p.valid(e) {
				return false
			}
		}
	}
	return true
}

// isPlainInteger reports a number written as digits alone, with an optional minus:
// an integer by any reading. 1.0 and 1e3 are integers to JSON Schema too; the
// library decides those.
func isPlainInteger(n json.Number) bool {
	s := string(n)
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
