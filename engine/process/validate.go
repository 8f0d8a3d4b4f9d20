package process

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/schemas"
)

// Validator checks mapped records against the JSON Schema of their kind: the built-in
// kinds' schemas in schemas/kinds/, and the custom kinds a connector declares under
// kinds. A kind with neither is not validated. A Validator is safe for concurrent use.
type Validator struct {
	custom map[string]*jsonschema.Schema // compiled once, read-only afterwards
	quick  map[string]*quickSchema       // their quick forms, where they have one
}

// NewValidator compiles the schema of every custom kind conn declares and of every
// built-in kind its interaction types use. Built-in schemas are compiled once per
// process and shared.
func NewValidator(conn *spec.Connector) (*Validator, error) {
	v := &Validator{custom: map[string]*jsonschema.Schema{}, quick: map[string]*quickSchema{}}
	for _, name := range conn.Kinds.Keys {
		k := conn.Kinds.Map[name]
		if k == nil {
			continue
		}
		sch, err := schemas.CompileCustomKind(name, k.Schema)
		if err != nil {
			return nil, fmt.Errorf("%s: kinds.%s: %w", conn.File, name, err)
		}
		v.custom[name] = sch
		if q := compileQuick(sch); q != nil {
			v.quick[name] = q
		}
	}
	for _, t := range conn.InteractionTypes.Keys {
		it := conn.InteractionTypes.Map[t]
		if it == nil || v.custom[it.Kind] != nil || !schemas.IsBuiltinKind(it.Kind) {
			continue
		}
		if _, err := builtinSchema(it.Kind); err != nil {
			return nil, err
		}
	}
	return v, nil
}

type compiled struct {
	sch   *jsonschema.Schema
	quick *quickSchema // nil when it has none
	err   error
}

var builtinSchemas sync.Map // kind name -> func() compiled, run once

// builtinSchema returns the compiled schema of a built-in kind, compiling it on first
// use.
func builtinSchema(name string) (*jsonschema.Schema, error) {
	c := builtinCompiled(name)
	return c.sch, c.err
}

// builtinCompiled is the compiled schema of a built-in kind, compiled on first use.
// It runs for every record: the map is read first, so that the closure to compile it
// is made only the first time.
func builtinCompiled(name string) compiled {
	f, ok := builtinSchemas.Load(name)
	if !ok {
		f, _ = builtinSchemas.LoadOrStore(name, sync.OnceValue(func() compiled {
			sch, err := schemas.CompileBuiltinKind(name)
			if err != nil {
				return compiled{err: fmt.Errorf("built-in kind %s: %w", name, err)}
			}
			return compiled{sch: sch, quick: compileQuick(sch)}
		}))
	}
	return f.(func() compiled)()
}

// builtinQuick is the quick form of a built-in kind's schema, nil when it has none.
func builtinQuick(name string) *quickSchema { return builtinCompiled(name).quick }

// schema returns the schema records of kind must match, or nil when the kind is not
// validated.
func (v *Validator) schema(kind string) (*jsonschema.Schema, error) {
	if sch := v.custom[kind]; sch != nil {
		return sch, nil
	}
	if schemas.IsBuiltinKind(kind) {
		return builtinSchema(kind)
	}
	return nil, nil
}

// quickSchema is the quick form of the schema records of kind must match, nil when
// there is none.
func (v *Validator) quickSchema(kind string) *quickSchema {
	if v.custom[kind] != nil {
		return v.quick[kind]
	}
	return builtinQuick(kind)
}

// Validates reports whether records of kind are checked against a schema.
func (v *Validator) Validates(kind string) bool {
	return v.custom[kind] != nil || schemas.IsBuiltinKind(kind)
}

// InvalidError is a mapped record that does not match its kind's schema.
type InvalidError struct {
	Kind       string
	Violations []Violation // sorted by path, then message
}

// Violation is one way a record fails its schema.
type Violation struct {
	Path string // fields, fields.email, fields.tags[0]
	Msg  string
}

func (v Violation) String() string { return v.Path + ": " + v.Msg }

// Error lists every violation as "fields.PATH: message", separated by "; ".
func (e *InvalidError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.String()
	}
	return strings.Join(parts, "; ")
}

// Check validates one mapped record (the interaction type's fields, or the raw
// record when it maps none) against the schema of kind. It returns nil when the record
// matches or the kind has no schema, else an *InvalidError.
func (v *Validator) Check(kind string, mapped json.RawMessage) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(mapped))
	if err != nil {
		return &InvalidError{Kind: kind, Violations: []Violation{{Path: "fields", Msg: "not valid JSON: " + err.Error()}}}
	}
	return v.CheckValue(kind, inst)
}

// CheckValue is Check for a record already decoded as JSON decodes it (numbers as
// json.Number): Mapped.Doc.
func (v *Validator) CheckValue(kind string, inst any) error {
	sch, err := v.schema(kind)
	if err != nil {
		return err
	}
	if sch == nil {
		return nil
	}
	if q := v.quickSchema(kind); q != nil && q.valid(inst) {
		return nil
	}
	err = sch.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return &InvalidError{Kind: kind, Violations: []Violation{{Path: "fields", Msg: err.Error()}}}
	}
	var out []Violation
	collect(ve, inst, &out)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Msg < out[j].Msg
	})
	uniq := out[:0]
	for i, x := range out {
		if i == 0 || x != out[i-1] {
			uniq = append(uniq, x)
		}
	}
	return &InvalidError{Kind: kind, Violations: uniq}
}

// collect turns the leaves of a validation error tree into violations.
func collect(e *jsonschema.ValidationError, inst any, out *[]Violation) {
	switch k := e.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf:
		if _, many := k.(*kind.OneOf); many && len(e.Causes) == 0 {
			break // several alternatives matched: reported below
		}
		// No alternative matched: one violation naming what each wanted.
		var alts []string
		for _, c := range e.Causes {
			var sub []Violation
			collect(c, inst, &sub)
			var msgs []string
			for _, s := range sub {
				if s.Path == path(e.InstanceLocation) {
					msgs = append(msgs, s.Msg)
				} else {
					msgs = append(msgs, s.String())
				}
			}
			alts = append(alts, strings.Join(msgs, ", "))
		}
		*out = append(*out, Violation{path(e.InstanceLocation), "matches none of the allowed forms (" + strings.Join(alts, " | ") + ")"})
		return
	}
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			collect(c, inst, out)
		}
		return
	}
	at := path(e.InstanceLocation)
	add := func(p, format string, args ...any) {
		*out = append(*out, Violation{p, fmt.Sprintf(format, args...)})
	}
	def := builtinDef(e.SchemaURL)
	switch k := e.ErrorKind.(type) {
	case *kind.Type:
		if def != "" {
			add(at, "must be %s, not %s", def, article(k.Got))
			return
		}
		var want []string
		null := false
		for _, w := range k.Want {
			if w == "null" {
				null = true
				continue
			}
			want = append(want, article(w))
		}
		if null {
			want = append(want, "null") // last: "a string or null"
		}
		add(at, "must be %s, not %s", orList(want), article(k.Got))
	case *kind.Pattern:
		if def != "" {
			add(at, "must be %s, not %s", def, show(k.Got))
			return
		}
		add(at, "%s does not match %s", show(k.Got), k.Want)
	case *kind.Format:
		add(at, "%s is not a valid %s", show(k.Got), k.Want)
	case *kind.Required:
		for _, m := range k.Missing {
			add(join(at, m), "is required")
		}
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			add(join(at, p), "is not allowed")
		}
	case *kind.FalseSchema:
		add(at, "is not allowed")
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = show(w)
		}
		add(at, "%s is not one of: %s", show(k.Got), strings.Join(want, ", "))
	case *kind.Const:
		add(at, "must be %s", show(k.Want))
	case *kind.Minimum:
		if def != "" {
			add(at, "must be %s, not %s", def, k.Got.RatString())
			return
		}
		add(at, "must be at least %s, not %s", k.Want.RatString(), k.Got.RatString())
	case *kind.Maximum:
		add(at, "must be at most %s, not %s", k.Want.RatString(), k.Got.RatString())
	case *kind.MinLength:
		add(at, "must be at least %d characters, not %d", k.Want, k.Got)
	case *kind.MaxLength:
		add(at, "must be at most %d characters, not %d", k.Want, k.Got)
	case *kind.MinItems:
		add(at, "must have at least %d items, not %d", k.Want, k.Got)
	case *kind.MaxItems:
		add(at, "must have at most %d items, not %d", k.Want, k.Got)
	default:
		add(at, "%s", e.ErrorKind.LocalizedString(printer))
	}
}

var printer = message.NewPrinter(language.English)

// defMessages say what a value of a built-in kind's shared definition must be, in
// place of the regular expression or type list that checks it.
var defMessages = map[string]string{
	"email":     "an email address (text with an @) or null",
	"domain":    "a domain name such as acme.example (no scheme, path or port) or null",
	"timestamp": "a date or date-time such as 2026-01-31T09:30:00Z, or null",
	"count":     "a whole number, 0 or more, or null",
}

// builtinDef returns the message of the built-in definition a schema location is, or
// "".
func builtinDef(schemaURL string) string {
	if !strings.HasPrefix(schemaURL, schemas.KindBaseURL) {
		return ""
	}
	_, frag, ok := strings.Cut(schemaURL, "#/$defs/")
	if !ok {
		return ""
	}
	return defMessages[frag]
}

// path prints an instance location: fields, fields.email, fields.tags[0].
func path(loc []string) string {
	p := "fields"
	for _, s := range loc {
		p = join(p, s)
	}
	return p
}

func join(p, key string) string {
	if key != "" && strings.Trim(key, "0123456789") == "" {
		return p + "[" + key + "]"
	}
	return p + "." + key
}

// article names a JSON type the way a sentence does.
func article(t string) string {
	switch t {
	case "object", "array", "integer":
		return "an " + t
	case "null":
		return "null"
	}
	return "a " + t
}

func orList(s []string) string {
	if len(s) <= 2 {
		return strings.Join(s, " or ")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// show prints a value for a message: strings quoted and cut to 40 characters,
// containers by their type.
func show(v any) string {
	switch x := v.(type) {
	case string:
		if utf8.RuneCountInString(x) > 40 {
			r := []rune(x)
			return strconv.Quote(string(r[:40])) + "…"
		}
		return strconv.Quote(x)
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprint(v)
}
