package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"gopkg.in/yaml.v3"

	"github.com/intakehq/intake/schemas"
)

// LoadFile reads, validates and compiles one connector spec.
func LoadFile(path string) (*Connector, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load connector: %w", err)
	}
	return Load(path, data)
}

// LoadFS is LoadFile for a file inside fsys (bundled connectors).
func LoadFS(fsys fs.FS, name, display string) (*Connector, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("load connector: %w", err)
	}
	return Load(display, data)
}

// Load validates and compiles a connector spec. name is used in error messages. The
// returned error is an Errors listing every problem with FILE:LINE:COL and key path.
func Load(name string, data []byte) (*Connector, error) {
	doc, errs := parseDocument(name, data)
	if errs != nil {
		return nil, errs
	}
	if errs := validateSchema(doc); errs != nil {
		return nil, errs.sorted()
	}
	var c Connector
	if err := doc.root.Decode(&c); err != nil {
		return nil, Errors{yamlError(name, err)}
	}
	c.File = name
	if errs := c.validate(doc); errs != nil {
		return nil, errs.sorted()
	}
	return &c, nil
}

// document is a parsed YAML file with the position of every key and value.
type document struct {
	file  string
	root  *yaml.Node
	value any
	pos   map[string]nodePos
}

type nodePos struct {
	line, col       int
	keyLine, keyCol int
	style           yaml.Style
}

func posKey(segs []string) string { return strings.Join(segs, "\x1f") }

// at returns an error located at the value of path (or at its key when atKey), falling
// back to the nearest ancestor that exists in the file.
func (d *document) errAt(segs []string, atKey bool, format string, args ...any) *Error {
	e := &Error{File: d.file, Path: pathString(segs), Msg: fmt.Sprintf(format, args...)}
	for n := len(segs); n >= 0; n-- {
		p, ok := d.pos[posKey(segs[:n])]
		if !ok {
			continue
		}
		e.Line, e.Col = p.line, p.col
		if atKey && n == len(segs) && p.keyLine > 0 {
			e.Line, e.Col = p.keyLine, p.keyCol
		}
		break
	}
	return e
}

// errAtOffset locates an error inside a scalar, offset bytes into its text, when the
// scalar sits on one line.
func (d *document) errAtOffset(segs []string, offset int, format string, args ...any) *Error {
	e := d.errAt(segs, false, format, args...)
	p, ok := d.pos[posKey(segs)]
	if !ok || offset < 0 {
		return e
	}
	switch p.style {
	case 0, yaml.FlowStyle:
		e.Col = p.col + offset
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		e.Col = p.col + 1 + offset
	}
	return e
}

var yamlLineRe = regexp.MustCompile(`^yaml: (?:unmarshal errors:\n\s*)?line (\d+): (.*)$`)

func yamlError(file string, err error) *Error {
	msg := err.Error()
	if m := yamlLineRe.FindStringSubmatch(strings.SplitN(msg, "\n  line", 2)[0]); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Col: 1, Msg: m[2]}
	}
	return &Error{File: file, Msg: strings.TrimPrefix(msg, "yaml: ")}
}

func parseDocument(file string, data []byte) (*document, Errors) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, errEOF()) {
			return nil, Errors{{File: file, Line: 1, Col: 1, Msg: "empty file: a connector needs at least provider and interaction_types"}}
		}
		return nil, Errors{yamlError(file, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, Errors{{File: file, Line: extra.Line, Col: extra.Column, Msg: "a connector file holds one YAML document; found a second one"}}
	}
	d := &document{file: file, root: &root, pos: map[string]nodePos{}}
	n := &root
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	d.root = n
	var errs Errors
	d.value = d.convert(n, nil, &errs)
	if errs != nil {
		return nil, errs
	}
	return d, nil
}

func errEOF() error {
	var n yaml.Node
	return yaml.NewDecoder(bytes.NewReader(nil)).Decode(&n)
}

// convert turns a YAML node into the JSON value the schema validates, recording
// positions. Numbers become json.Number so large ids and exact decimals survive.
func (d *document) convert(n *yaml.Node, segs []string, errs *Errors) any {
	if n.Kind == yaml.AliasNode {
		return d.convert(n.Alias, segs, errs)
	}
	k := posKey(segs)
	p := d.pos[k]
	p.line, p.col, p.style = n.Line, n.Column, n.Style
	d.pos[k] = p
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn, vn := n.Content[i], n.Content[i+1]
			if kn.Kind != yaml.ScalarNode || (kn.Tag != "!!str" && kn.Tag != "!!int" && kn.Tag != "!!bool") {
				*errs = append(*errs, &Error{File: d.file, Line: kn.Line, Col: kn.Column, Path: pathString(segs), Msg: "keys must be plain strings"})
				continue
			}
			if kn.Value == "<<" {
				*errs = append(*errs, &Error{File: d.file, Line: kn.Line, Col: kn.Column, Path: pathString(segs), Msg: "YAML merge keys (<<) are not supported; repeat the keys or use an alias for the whole value"})
				continue
			}
			child := append(append([]string(nil), segs...), kn.Value)
			ck := posKey(child)
			cp := d.pos[ck]
			cp.keyLine, cp.keyCol = kn.Line, kn.Column
			d.pos[ck] = cp
			m[kn.Value] = d.convert(vn, child, errs)
		}
		return m
	case yaml.SequenceNode:
		a := make([]any, len(n.Content))
		for i, c := range n.Content {
			a[i] = d.convert(c, append(append([]string(nil), segs...), strconv.Itoa(i)), errs)
		}
		return a
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil
		case "!!bool":
			var b bool
			_ = n.Decode(&b)
			return b
		case "!!int", "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				return n.Value
			}
			if n.ShortTag() == "!!int" {
				var i int64
				if err := n.Decode(&i); err == nil {
					return json.Number(strconv.FormatInt(i, 10))
				}
			}
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
		default:
			return n.Value
		}
	}
	return nil
}

var (
	schemaOnce sync.Once
	schemaRaw  map[string]any
	schemaC    *jsonschema.Schema
	schemaErr  error
)

// connectorSchema compiles the embedded schema once; it is immutable afterwards.
func connectorSchema() (*jsonschema.Schema, map[string]any, error) {
	schemaOnce.Do(func() {
		data, err := fs.ReadFile(schemas.FS, schemas.ConnectorSchema)
		if err != nil {
			schemaErr = err
			return
		}
		raw, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			schemaErr = err
			return
		}
		schemaRaw, _ = raw.(map[string]any)
		c := jsonschema.NewCompiler()
		const url = "connector.schema.json"
		if err := c.AddResource(url, raw); err != nil {
			schemaErr = err
			return
		}
		schemaC, schemaErr = c.Compile(url)
	})
	return schemaC, schemaRaw, schemaErr
}

var printer = message.NewPrinter(language.English)

func validateSchema(d *document) Errors {
	sch, raw, err := connectorSchema()
	if err != nil {
		return Errors{{File: d.file, Msg: fmt.Sprintf("internal: connector schema: %v", err)}}
	}
	err = sch.Validate(d.value)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return Errors{{File: d.file, Msg: err.Error()}}
	}
	var errs Errors
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		errs = append(errs, d.schemaError(e, raw)...)
	}
	walk(ve)
	return errs
}

func (d *document) schemaError(e *jsonschema.ValidationError, raw map[string]any) Errors {
	segs := e.InstanceLocation
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		allowed := allowedKeys(raw, e.SchemaURL)
		var out Errors
		for _, p := range k.Properties {
			msg := fmt.Sprintf("unknown key %q", p)
			if s := suggest(p, allowed); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else if len(allowed) > 0 {
				msg += fmt.Sprintf(" (allowed: %s)", strings.Join(allowed, ", "))
			}
			out = append(out, d.errAt(append(append([]string(nil), segs...), p), true, "%s", msg))
		}
		return out
	case *kind.Required:
		var out Errors
		for _, m := range k.Missing {
			out = append(out, d.errAt(segs, len(segs) > 0, "missing required key %q", m))
		}
		return out
	case *kind.Type:
		return Errors{d.errAt(segs, false, "must be %s, not %s", strings.Join(k.Want, " or "), k.Got)}
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = fmt.Sprint(w)
		}
		return Errors{d.errAt(segs, false, "%v is not one of: %s", k.Got, strings.Join(want, ", "))}
	case *kind.Pattern:
		if isPropertyName(e.SchemaURL) {
			return Errors{d.errAt(append(append([]string(nil), segs...), k.Got), true, "name %q must be lower case letters, digits and _ and start with a letter", k.Got)}
		}
		if strings.Contains(e.SchemaURL, "/duration") {
			return Errors{d.errAt(segs, false, "invalid duration %q: use a number and a unit (ms, s, m, h, d), e.g. 30s or 1h30m", k.Got)}
		}
		return Errors{d.errAt(segs, false, "%q does not match %s", k.Got, k.Want)}
	case *kind.MinProperties:
		return Errors{d.errAt(segs, false, "must have at least %d entry", k.Want)}
	default:
		return Errors{d.errAt(segs, false, "%s", e.ErrorKind.LocalizedString(printer))}
	}
}

func isPropertyName(schemaURL string) bool { return strings.Contains(schemaURL, "/propertyNames/") }

// allowedKeys lists the properties of the schema object an additionalProperties error
// comes from, for "did you mean" hints.
func allowedKeys(raw map[string]any, schemaURL string) []string {
	_, frag, ok := strings.Cut(schemaURL, "#")
	if !ok {
		return nil
	}
	frag = strings.TrimSuffix(frag, "/additionalProperties")
	var cur any = raw
	for _, s := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
		if s == "" {
			continue
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")]
	}
	m, _ := cur.(map[string]any)
	props, _ := m["properties"].(map[string]any)
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
