package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	gyaml "github.com/goccy/go-yaml"
	gyamlparser "github.com/goccy/go-yaml/parser"
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
	root, errs := parseYAML(name, data, connectorFile)
	if errs != nil {
		return nil, errs
	}
	c, err := loadNode(name, root, newOrigins(name, data))
	if err != nil {
		return nil, err
	}
	c.srcData = data
	return c, nil
}

// loadNode validates and compiles a connector from a YAML tree whose nodes may come
// from several files (a provider spec and its overrides).
func loadNode(name string, root *yaml.Node, o *origins) (*Connector, error) {
	doc, errs := newDocument(name, root, o)
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

// origins says which file each node of a (layered) YAML tree came from.
type origins struct {
	main  string
	file  map[*yaml.Node]string // absent: main
	lines map[string][]string   // each file's lines, to place errors inside scalars
	// replaced maps a path an override set to where the provider's value was, so an
	// error there names both.
	replaced map[string]string
	removed  []removal
}

func newOrigins(file string, data []byte) *origins {
	return &origins{main: file, file: map[*yaml.Node]string{}, lines: map[string][]string{file: YAMLLines(data)}, replaced: map[string]string{}}
}

// YAMLLines splits a file into lines as YAML numbers them: a line ends at LF, CR LF,
// a lone CR, NEL, LS or PS. Error positions count these lines.
func YAMLLines(data []byte) []string {
	var lines []string
	start := 0
	for i := 0; i < len(data); i++ {
		n := 0
		switch {
		case data[i] == '\n':
			n = 1
		case data[i] == '\r':
			n = 1
			if i+1 < len(data) && data[i+1] == '\n' {
				n = 2
			}
		case bytes.HasPrefix(data[i:], []byte("\u0085")):
			n = 2
		case bytes.HasPrefix(data[i:], []byte("\u2028")), bytes.HasPrefix(data[i:], []byte("\u2029")):
			n = 3
		}
		if n > 0 {
			lines = append(lines, string(data[start:i]))
			i += n - 1
			start = i + 1
		}
	}
	return append(lines, string(data[start:]))
}

// inLine moves a position that is past the end of its line (or its file) to that
// end. Columns count characters, as YAML positions do.
func inLine(lines []string, line, col int) (int, int) {
	if line < 1 || len(lines) == 0 {
		return line, col
	}
	if line > len(lines) {
		line = len(lines)
		col = utf8.RuneCountInString(lines[line-1]) + 1
	}
	if n := utf8.RuneCountInString(lines[line-1]); col > n+1 {
		col = n + 1
	}
	return line, max(col, 1)
}

func (o *origins) of(n *yaml.Node) string {
	if f, ok := o.file[n]; ok {
		return f
	}
	return o.main
}

// document is a parsed YAML tree with the file and position of every key and value.
type document struct {
	file   string
	root   *yaml.Node
	value  any
	pos    map[string]nodePos
	origin *origins
}

type nodePos struct {
	file, keyFile   string
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
		e.File, e.Line, e.Col = p.file, p.line, p.col
		if atKey && n == len(segs) && p.keyLine > 0 {
			e.File, e.Line, e.Col = p.keyFile, p.keyLine, p.keyCol
		}
		if was, ok := d.origin.replaced[posKey(segs[:n])]; ok {
			e.Msg += " (it replaces the provider's value at " + was + ")"
		}
		break
	}
	return e
}

// errAtOffset locates an error offset bytes into a scalar's decoded text: in a plain
// or quoted scalar on one line, and in a literal block (|), line by line.
func (d *document) errAtOffset(segs []string, offset int, format string, args ...any) *Error {
	e := d.errAt(segs, false, format, args...)
	p, ok := d.pos[posKey(segs)]
	lines := d.origin.lines[p.file]
	if !ok || offset < 0 || p.line < 1 || p.line > len(lines) {
		return e
	}
	raw := lines[p.line-1]
	switch p.style {
	case 0, yaml.FlowStyle:
		// offset counts bytes of the text, columns characters.
		text := d.scalarText(segs)
		if offset > len(text) {
			break
		}
		col := p.col + utf8.RuneCountInString(text[:offset])
		if col <= utf8.RuneCountInString(raw)+1 { // else the scalar goes on below
			e.Col = col
		}
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		if c, ok := quotedColumn(raw, p.col, offset, p.style == yaml.DoubleQuotedStyle); ok {
			e.Col = c
		}
	case yaml.LiteralStyle:
		if l, c, ok := d.blockPosition(lines, p.line, offset, segs); ok {
			e.Line, e.Col = l, c
		}
	}
	return e
}

// quotedColumn maps a byte offset into a quoted scalar's decoded text to a 1-based
// column (in characters) of the raw line, whose opening quote is at column col.
func quotedColumn(raw string, col, offset int, double bool) (int, bool) {
	i := 0 // byte index just after the opening quote
	for c := 1; c <= col; c++ {
		if i >= len(raw) {
			return 0, false
		}
		_, size := utf8.DecodeRuneInString(raw[i:])
		i += size
	}
	for decoded := 0; i < len(raw) && decoded <= offset; {
		if decoded == offset {
			return utf8.RuneCountInString(raw[:i]) + 1, true
		}
		switch {
		case double && raw[i] == '\\':
			n := escapeLen(raw[i:])
			decoded += escapeDecodedLen(raw[i : i+n])
			i += n
		case !double && raw[i] == '\'' && i+1 < len(raw) && raw[i+1] == '\'':
			i += 2
			decoded++
		case (double && raw[i] == '"') || (!double && raw[i] == '\''):
			return 0, false // the scalar ends before the offset: it spans lines
		default:
			i++
			decoded++
		}
	}
	return 0, false
}

// escapeDecodedLen is how many bytes a YAML double-quoted escape decodes to.
func escapeDecodedLen(esc string) int {
	if len(esc) < 2 {
		return len(esc)
	}
	switch esc[1] {
	case 'x', 'u', 'U':
		n, err := strconv.ParseUint(esc[2:], 16, 32)
		if err != nil || n > utf8.MaxRune {
			return 1
		}
		return max(utf8.RuneLen(rune(n)), 1)
	case 'N', '_': // U+0085, U+00A0
		return 2
	case 'L', 'P': // U+2028, U+2029
		return 3
	}
	return 1
}

// escapeLen is the length of the YAML double-quoted escape at the start of s.
func escapeLen(s string) int {
	if len(s) < 2 {
		return len(s)
	}
	switch s[1] {
	case 'x':
		return min(4, len(s))
	case 'u':
		return min(6, len(s))
	case 'U':
		return min(10, len(s))
	}
	return 2
}

// blockPosition maps an offset into a literal block scalar, whose indicator is on line,
// to a line and column of the file.
func (d *document) blockPosition(lines []string, line, offset int, segs []string) (int, int, bool) {
	indent := -1
	for l := line; l < len(lines); l++ { // lines[l] is the file's line l+1
		if t := strings.TrimLeft(lines[l], " "); t != "" {
			indent = len(lines[l]) - len(t)
			break
		}
	}
	if indent < 0 {
		return 0, 0, false
	}
	text := d.scalarText(segs)
	if offset > len(text) {
		return 0, 0, false
	}
	before := text[:offset]
	k := strings.Count(before, "\n")
	col := utf8.RuneCountInString(before[strings.LastIndex(before, "\n")+1:])
	return line + 1 + k, indent + col + 1, true
}

// scalarText returns the decoded text of the scalar at segs.
func (d *document) scalarText(segs []string) string {
	var cur any = d.value
	for _, s := range segs {
		switch x := cur.(type) {
		case map[string]any:
			cur = x[s]
		case []any:
			i, err := strconv.Atoi(s)
			if err != nil || i < 0 || i >= len(x) {
				return ""
			}
			cur = x[i]
		default:
			return ""
		}
	}
	str, _ := cur.(string)
	return str
}

var yamlLineRe = regexp.MustCompile(`^yaml: (?:unmarshal errors:\n\s*)?line (\d+): (.*)$`)

// SyntaxError locates the error yaml.v3 gave for data, the contents of file, as
// "invalid YAML: ..." at a line and column of the file. yaml.v3 reports the line of
// the enclosing block rather than of the problem, so the file is parsed again with
// goccy/go-yaml, whose errors carry the offending token's line and column. intake.yaml
// (engine/config) is read the same way.
func SyntaxError(file string, data []byte, err error) *Error {
	var gerr error
	if flowDepth(data) <= maxGoccyFlowDepth {
		_, gerr = gyamlparser.ParseBytes(data, 0)
	}
	var se *gyaml.SyntaxError
	if errors.As(gerr, &se) && se.GetToken() != nil {
		pos := se.GetToken().Position
		msg := se.GetMessage()
		if strings.Contains(msg, "'\t'") {
			msg = "a tab cannot indent YAML; indent with spaces"
		}
		// goccy's column can lie past the line (after a multi-line scalar).
		line, col := inLine(YAMLLines(data), pos.Line, pos.Column)
		return &Error{File: file, Line: line, Col: col, Msg: "invalid YAML: " + msg}
	}
	e := yamlError(file, err)
	e.Msg = "invalid YAML: " + e.Msg
	return e
}

// maxGoccyFlowDepth bounds the nesting of flow collections ([ and {) in a file that
// goccy/go-yaml re-reads for a syntax error's position: its time grows with the square
// of that nesting (20,000 "[" take it half a minute). Specs nest a few levels; deeper
// than this, yaml.v3's message is used as it is.
const maxGoccyFlowDepth = 100

// flowDepth is the deepest nesting of [ and { in data, counting every bracket (also
// those in strings and comments: an upper bound is enough).
func flowDepth(data []byte) int {
	depth, deepest := 0, 0
	for _, c := range data {
		switch c {
		case '[', '{':
			depth++
			deepest = max(deepest, depth)
		case ']', '}':
			depth = max(depth-1, 0)
		}
	}
	return deepest
}

func yamlError(file string, err error) *Error {
	msg := err.Error()
	if m := yamlLineRe.FindStringSubmatch(strings.SplitN(msg, "\n  line", 2)[0]); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Col: 1, Msg: m[2]}
	}
	return &Error{File: file, Msg: strings.TrimPrefix(msg, "yaml: ")}
}

// fileKind names a kind of YAML file in parse errors.
type fileKind struct {
	name  string // "a connector": with its article
	needs string // what an empty one lacks
}

var (
	connectorFile = fileKind{"a connector", "provider and interaction_types"}
	overrideFile  = fileKind{"an override", "customer, provider and what it changes"}
)

// parseYAML reads exactly one YAML document and returns its root node.
func parseYAML(file string, data []byte, kind fileKind) (*yaml.Node, Errors) {
	empty := func() Errors {
		return Errors{{File: file, Line: 1, Col: 1, Msg: fmt.Sprintf("empty file: %s needs at least %s", kind.name, kind.needs)}}
	}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, errEOF()) {
			return nil, empty()
		}
		return nil, Errors{SyntaxError(file, data, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, Errors{{File: file, Line: extra.Line, Col: extra.Column, Msg: fmt.Sprintf("%s file holds one YAML document; found a second one", kind.name)}}
	}
	n := &root
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Value == "" {
		// A document marker with nothing after it ("---"): the parser places the
		// empty value on the line after the marker, which may be past the file's end.
		return nil, empty()
	}
	if e := checkAliases(file, n); e != nil {
		return nil, Errors{e}
	}
	return n, nil
}

// maxAliasValues bounds how many values aliases may add to a file once expanded. The
// loader expands every alias (into the checked JSON value, and into copies when
// overrides are layered), so a few hundred bytes of nested aliases ("billion laughs")
// would otherwise hold it for hours and exhaust memory. Sharing a block between types
// stays far below it.
const maxAliasValues = 10000

// checkAliases refuses an alias inside the value it names (the tree would be
// infinite) and aliases that add more than maxAliasValues values. It runs in time
// linear in the file: each anchored value's expanded size is computed once.
func checkAliases(file string, root *yaml.Node) *Error {
	size := map[*yaml.Node]int{} // expanded size of a value, once known
	open := map[*yaml.Node]bool{}
	var cycle *yaml.Node // the alias found inside its own value
	var expanded func(n *yaml.Node) int
	expanded = func(n *yaml.Node) int {
		if n.Kind == yaml.AliasNode {
			if n.Alias == nil {
				return 1
			}
			if open[n.Alias] {
				cycle = n
				return 0
			}
			n = n.Alias
		}
		if s, ok := size[n]; ok {
			return s
		}
		open[n] = true
		s := 1
		for _, c := range n.Content {
			s += expanded(c)
			if cycle != nil {
				return 0
			}
			s = min(s, maxAliasValues+1) // saturate: nesting doubles it at each level
		}
		delete(open, n)
		size[n] = s
		return s
	}
	added := 0
	var bad *Error
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		for _, c := range n.Content {
			if bad != nil {
				return
			}
			if c.Kind != yaml.AliasNode {
				walk(c)
				continue
			}
			added += expanded(c) - 1
			switch {
			case cycle != nil:
				bad = &Error{File: file, Line: cycle.Line, Col: cycle.Column, Msg: fmt.Sprintf("alias *%s is inside the value it names (&%s, line %d); a value cannot contain itself", cycle.Value, cycle.Value, cycle.Alias.Line)}
			case added > maxAliasValues:
				bad = &Error{File: file, Line: c.Line, Col: c.Column, Msg: fmt.Sprintf("aliases add more than %d values to the file once expanded (nested aliases multiply); share fewer values", maxAliasValues)}
			}
		}
	}
	walk(root)
	return bad
}

func newDocument(file string, root *yaml.Node, o *origins) (*document, Errors) {
	d := &document{file: file, root: root, pos: map[string]nodePos{}, origin: o}
	var errs Errors
	d.value = d.convert(root, nil, &errs)
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
	p.file, p.line, p.col, p.style = d.origin.of(n), n.Line, n.Column, n.Style
	d.pos[k] = p
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn, vn := n.Content[i], n.Content[i+1]
			if kn.Kind == yaml.ScalarNode && kn.Value == "<<" {
				*errs = append(*errs, &Error{File: d.origin.of(kn), Line: kn.Line, Col: kn.Column, Path: pathString(segs), Msg: "YAML merge keys (<<) are not supported; repeat the keys or use an alias for the whole value"})
				continue
			}
			if kn.Kind != yaml.ScalarNode || (kn.Tag != "!!str" && kn.Tag != "!!int" && kn.Tag != "!!bool") {
				*errs = append(*errs, &Error{File: d.origin.of(kn), Line: kn.Line, Col: kn.Column, Path: pathString(segs), Msg: "keys must be plain strings"})
				continue
			}
			child := append(append([]string(nil), segs...), kn.Value)
			ck := posKey(child)
			cp := d.pos[ck]
			cp.keyFile, cp.keyLine, cp.keyCol = d.origin.of(kn), kn.Line, kn.Column
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
	schemaOnce  sync.Once
	schemaRaw   map[string]any
	schemaC     *jsonschema.Schema
	schemaErr   error
	schemaNames map[string][][]string // see nameContainers
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
		schemaNames = nameContainers(schemaRaw)
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
		_, isName := e.ErrorKind.(*kind.PropertyNames)
		if len(e.Causes) > 0 && !isName {
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
		if strings.Contains(e.SchemaURL, "/duration") {
			return Errors{d.errAt(segs, false, "invalid duration %s: use a number and a unit (ms, s, m, h, d), e.g. 30s or 1h30m", show(d.scalarRaw(segs)))}
		}
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = yamlType(w)
		}
		return Errors{d.errAt(segs, false, "must be %s, not %s", strings.Join(want, " or "), yamlType(k.Got))}
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = fmt.Sprint(w)
		}
		return Errors{d.errAt(segs, false, "%s is not one of: %s", show(k.Got), strings.Join(want, ", "))}
	case *kind.Pattern:
		if strings.Contains(e.SchemaURL, "/duration") {
			return Errors{d.errAt(segs, false, "invalid duration %q: use a number and a unit (ms, s, m, h, d), e.g. 30s or 1h30m", k.Got)}
		}
		return Errors{d.errAt(segs, false, "%q does not match %s", k.Got, k.Want)}
	case *kind.PropertyNames:
		return d.nameErrors(e.SchemaURL, segs, k.Property)
	case *kind.MinProperties:
		return Errors{d.errAt(segs, false, "must have at least %d entry", k.Want)}
	case *kind.MinLength:
		if k.Want == 1 {
			return Errors{d.errAt(segs, false, "must not be empty")}
		}
		return Errors{d.errAt(segs, false, "must be at least %d characters", k.Want)}
	case *kind.Maximum:
		return Errors{d.errAt(segs, false, "must be at most %s, not %s", k.Want.RatString(), k.Got.RatString())}
	case *kind.Minimum:
		return Errors{d.errAt(segs, false, "must be at least %s, not %s", k.Want.RatString(), k.Got.RatString())}
	default:
		return Errors{d.errAt(segs, false, "%s", e.ErrorKind.LocalizedString(printer))}
	}
}

// nameErrors places the error of a key called name that a propertyNames schema (at
// schemaURL) refused. The library's location of it is the mapping's, but that slice
// is shared with the validation that goes on after it, so it may name a sibling of
// the mapping instead, depending on the order in which a map's keys were visited: a
// name refused in interaction_types was reported once in config, where a key of the
// same name then hid it (found by FuzzLoadSpec). So the key is looked for in every
// mapping that schema applies to.
func (d *document) nameErrors(schemaURL string, segs []string, name string) Errors {
	_, frag, _ := strings.Cut(schemaURL, "#")
	msg := "name %q " + nameRule(frag)
	var found [][]string
	for k, p := range d.pos {
		path := strings.Split(k, "\x1f")
		if path[len(path)-1] != name || p.keyLine == 0 {
			continue
		}
		for _, c := range schemaNames[frag] {
			if matchPath(c, path[:len(path)-1]) {
				found = append(found, path)
				break
			}
		}
	}
	if len(found) == 0 {
		return Errors{d.errAtKeyNamed(segs, name, msg, name)}
	}
	var out Errors
	for _, path := range found {
		out = append(out, d.errAt(path, true, msg, name))
	}
	return out
}

// nameRules says in words what each propertyNames pattern of the connector schema
// asks of a key; TestNameRules fails when the schema gains a pattern missing here.
var nameRules = map[string]string{
	"^[a-z][a-z0-9_]*$": "must be lower case letters, digits and _ and start with a letter",
	"^/":                "must be a path pattern starting with /, such as /crm/v3/objects/*/search",
}

// nameRule is the rule of the propertyNames schema at fragment frag.
func nameRule(frag string) string {
	pattern, _ := schemaAt(schemaRaw, frag+"/pattern").(string)
	if r, ok := nameRules[pattern]; ok {
		return r
	}
	return fmt.Sprintf("must match %s", pattern)
}

// matchPath reports whether path is pattern, where "*" in pattern stands for any
// key or index.
func matchPath(pattern, path []string) bool {
	if len(pattern) != len(path) {
		return false
	}
	for i, p := range pattern {
		if p != "*" && p != path[i] {
			return false
		}
	}
	return true
}

// nameContainers maps the location of each propertyNames schema in the connector
// schema (a fragment such as /$defs/fieldset/propertyNames) to the paths of the
// mappings it applies to, "*" standing for any key or index: config and credentials
// for a fieldset's. It follows properties, additionalProperties, patternProperties,
// items, the combinators and local $refs.
func nameContainers(raw map[string]any) map[string][][]string {
	out := map[string][][]string{}
	seen := map[string]bool{} // schema location and path, against $ref cycles
	var walk func(n map[string]any, loc string, path []string)
	walk = func(n map[string]any, loc string, path []string) {
		key := loc + "\x00" + strings.Join(path, "\x1f")
		if seen[key] || len(path) > 16 {
			return
		}
		seen[key] = true
		child := func(v any, loc string, seg ...string) {
			if m, ok := v.(map[string]any); ok {
				walk(m, loc, append(slices.Clip(path), seg...))
			}
		}
		if ref, ok := n["$ref"].(string); ok && strings.HasPrefix(ref, "#/") {
			child(schemaAt(raw, ref[1:]), ref[1:])
		}
		if _, ok := n["propertyNames"]; ok {
			out[loc+"/propertyNames"] = append(out[loc+"/propertyNames"], slices.Clone(path))
		}
		esc := strings.NewReplacer("~", "~0", "/", "~1")
		for _, kw := range []string{"properties", "patternProperties"} {
			props, _ := n[kw].(map[string]any)
			for k, v := range props {
				seg := k
				if kw == "patternProperties" {
					seg = "*"
				}
				child(v, loc+"/"+kw+"/"+esc.Replace(k), seg)
			}
		}
		child(n["additionalProperties"], loc+"/additionalProperties", "*")
		child(n["items"], loc+"/items", "*")
		for _, kw := range []string{"not", "if", "then", "else"} {
			child(n[kw], loc+"/"+kw)
		}
		for _, kw := range []string{"allOf", "anyOf", "oneOf", "prefixItems"} {
			list, _ := n[kw].([]any)
			for i, v := range list {
				if kw == "prefixItems" {
					child(v, loc+"/"+kw+"/"+strconv.Itoa(i), strconv.Itoa(i))
				} else {
					child(v, loc+"/"+kw+"/"+strconv.Itoa(i))
				}
			}
		}
	}
	walk(raw, "", nil)
	for _, paths := range out {
		slices.SortFunc(paths, slices.Compare)
	}
	return out
}

// errAtKeyNamed places an error on the key called name: under segs when that mapping
// has it, else on the first key of that name anywhere in the file.
func (d *document) errAtKeyNamed(segs []string, name string, format string, args ...any) *Error {
	want := append(append([]string(nil), segs...), name)
	if _, ok := d.pos[posKey(want)]; ok {
		return d.errAt(want, true, format, args...)
	}
	var best []string
	bestLine := 0
	for k, p := range d.pos {
		path := strings.Split(k, "\x1f")
		if path[len(path)-1] == name && p.keyLine > 0 && (best == nil || p.keyLine < bestLine) {
			best, bestLine = path, p.keyLine
		}
	}
	if best != nil {
		return d.errAt(best, true, format, args...)
	}
	return d.errAt(segs, false, format, args...)
}

// scalarRaw returns the value at segs as the schema saw it.
func (d *document) scalarRaw(segs []string) any {
	var cur any = d.value
	for _, s := range segs {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[s]
	}
	return cur
}

// yamlType names a JSON Schema type the way a YAML author thinks of it.
func yamlType(t string) string {
	switch t {
	case "object":
		return "a mapping"
	case "array":
		return "a list"
	case "string":
		return "a string"
	case "integer":
		return "an integer"
	case "number":
		return "a number"
	case "boolean":
		return "true or false"
	}
	return t
}

// show prints a value from a spec for a message: strings quoted, the rest as written.
func show(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case json.Number:
		return x.String()
	case nil:
		return "null"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// allowedKeys lists the properties of the schema object an additionalProperties error
// comes from, for "did you mean" hints.
func allowedKeys(raw map[string]any, schemaURL string) []string {
	_, frag, ok := strings.Cut(schemaURL, "#")
	if !ok {
		return nil
	}
	m, _ := schemaAt(raw, strings.TrimSuffix(frag, "/additionalProperties")).(map[string]any)
	props, _ := m["properties"].(map[string]any)
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// schemaAt is the part of the raw schema at a JSON pointer (a fragment such as
// /$defs/fieldset), or nil.
func schemaAt(raw map[string]any, pointer string) any {
	var cur any = raw
	for _, s := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		if s == "" {
			continue
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")]
	}
	return cur
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
