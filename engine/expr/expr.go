// Package expr compiles jq expressions once and runs them many times, and renders
// strings that interpolate `${ jq }` segments. It is the one expression language of a
// connector spec: record extraction, ids, field mappings, cursors and templated strings.
package expr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/itchyny/gojq"
)

// Query is a compiled jq expression. It is safe for concurrent use.
type Query struct {
	src  string
	code *gojq.Code
	ast  *gojq.Query
	vars []string // the variables it was compiled with, in the order gojq binds them
	// fast evaluates plain paths (.a.b, or . itself) and a few common forms without
	// gojq (fast.go): most mapped fields are a plain path, and gojq's evaluation of
	// them cost a third of mapping a record. nil for the other queries.
	fast fastFn
}

// Error is a compile error with the byte offset of the problem inside the expression,
// so that a loader can turn it into a precise line and column.
type Error struct {
	Offset int // byte offset into the expression source; -1 when unknown
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// Compile parses and compiles src. Environment access ($ENV, env) is disabled: a
// connector must not be able to read the daemon's secrets from its environment.
//
// vars names the variables the expression may use ("$headers"); any other variable is
// a compile error. The ...Vars methods bind them; the others bind them all to null.
//
// The error message quotes src when it is one line of at most 80 bytes; a longer or
// multi-line expression is not repeated (it would be unreadable with its \n escapes):
// the message is then "invalid jq: " and the parser's message, and Offset locates it.
func Compile(src string, vars ...string) (*Query, error) {
	ast, err := gojq.Parse(src)
	if err != nil {
		off := -1
		var pe *gojq.ParseError
		if errors.As(err, &pe) {
			off = pe.Offset - len(pe.Token)
			if off < 0 {
				off = 0
			}
		}
		return nil, &Error{Offset: off, Msg: invalid(src, err)}
	}
	code, err := gojq.Compile(ast, gojq.WithEnvironLoader(func() []string { return nil }), gojq.WithVariables(vars))
	if err != nil {
		return nil, &Error{Offset: -1, Msg: invalid(src, err)}
	}
	q := &Query{src: src, code: code, ast: ast, vars: append([]string(nil), vars...)}
	q.fast = compileFast(ast)
	return q, nil
}

// maxQuoted is the longest expression a compile error repeats.
const maxQuoted = 80

func invalid(src string, err error) string {
	if len(src) <= maxQuoted && !strings.ContainsAny(src, "\n\r") {
		return fmt.Sprintf("invalid jq %q: %v", src, err)
	}
	return fmt.Sprintf("invalid jq: %v", err)
}

// MustCompile is Compile for expressions fixed in Go source.
func MustCompile(src string) *Query {
	q, err := Compile(src)
	if err != nil {
		panic(err)
	}
	return q
}

// String returns the source of the expression.
func (q *Query) String() string { return q.src }

// MarshalJSON renders the query as its source, so effective specs print readably.
func (q *Query) MarshalJSON() ([]byte, error) { return json.Marshal(q.src) }

// All runs the query and collects every output.
func (q *Query) All(ctx context.Context, input any) ([]any, error) {
	var out []any
	err := q.Each(ctx, input, func(v any) error {
		out = append(out, v)
		return nil
	})
	return out, err
}

// Vars are values for the variables a query was compiled with, by name with its "$".
// A variable missing from the map is null.
type Vars map[string]any

// Each runs the query and calls fn for each output, stopping at the first error.
func (q *Query) Each(ctx context.Context, input any, fn func(any) error) error {
	return q.EachVars(ctx, input, nil, fn)
}

// EachVars is Each with variables bound.
func (q *Query) EachVars(ctx context.Context, input any, vars Vars, fn func(any) error) error {
	if q.fast != nil {
		if v, n, ok := q.fast(input); ok {
			if n == 0 {
				return nil
			}
			return fn(v)
		}
		// Not sure of jq's answer: gojq gives it.
	}
	var values []any
	if len(q.vars) > 0 {
		values = make([]any, len(q.vars))
		for i, name := range q.vars {
			values[i] = vars[name]
		}
	}
	iter := q.code.RunWithContext(ctx, input, values...)
	for {
		v, ok := iter.Next()
		if !ok {
			return nil
		}
		if err, isErr := v.(error); isErr {
			var halt *gojq.HaltError
			if errors.As(err, &halt) && halt.Value() == nil {
				return nil
			}
			return fmt.Errorf("jq %q: %w", q.src, err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
}

// First returns the first output of the query, or nil when it produces none.
func (q *Query) First(ctx context.Context, input any) (any, error) {
	return q.FirstVars(ctx, input, nil)
}

// FirstVars is First with variables bound.
func (q *Query) FirstVars(ctx context.Context, input any, vars Vars) (any, error) {
	var first any
	found := false
	err := q.EachVars(ctx, input, vars, func(v any) error {
		first, found = v, true
		return errStop
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	if !found {
		return nil, nil
	}
	return first, nil
}

var errStop = errors.New("stop")

// walkPath follows keys through objects as jq does (a missing key or a null gives
// null), and reports false on reaching anything else, where jq raises an error.
func walkPath(v any, keys []string) (any, bool) {
	for _, k := range keys {
		switch m := v.(type) {
		case map[string]any:
			v = m[k]
		case nil:
		default:
			return nil, false
		}
	}
	return v, true
}

// Truthy runs the query and reports whether its first output is neither null nor false.
func (q *Query) Truthy(ctx context.Context, input any) (bool, error) {
	return q.TruthyVars(ctx, input, nil)
}

// TruthyVars is Truthy with variables bound.
func (q *Query) TruthyVars(ctx context.Context, input any, vars Vars) (bool, error) {
	v, err := q.FirstVars(ctx, input, vars)
	if err != nil {
		return false, err
	}
	return v != nil && v != false, nil
}

// RootPaths lists the paths the expression reads directly from the root of its input,
// one or two keys deep: ".config.subdomain" reads ["config", "subdomain"], ".cursor"
// reads ["cursor"]. It is used at load time to refuse a template that names a context
// field that will never exist.
//
// Recognised forms: .a.b, ."a"."b", .["a"]["b"] (string literals only), the {a}
// and {"a"} object shorthands (which read .a), and, as roots of their own, the
// expressions of object keys {(.k): v}, of indexes .[.k] and of string
// interpolation. The inputs of the right side of a pipe (but "e as $x | body" runs
// body on the root), of the right side of |=, of function arguments (map(.x),
// select(.x)), of a catch handler and of reduce/foreach updates are not the root and
// are not inspected; neither are dynamic accesses such as .[$k],
// .["a" + "b"] or getpath(["a"]). So the list may be incomplete, but what it
// lists is really read from the root.
func (q *Query) RootPaths() [][]string {
	seen := map[string][]string{}
	walkQuery(q.ast, true, seen)
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][]string, len(keys))
	for i, k := range keys {
		out[i] = seen[k]
	}
	return out
}

func addPath(seen map[string][]string, path ...string) {
	seen[strings.Join(path, "\x00")] = path
}

func walkQuery(q *gojq.Query, root bool, seen map[string][]string) {
	if q == nil {
		return
	}
	if q.Term != nil {
		walkTerm(q.Term, root, seen)
	}
	if q.Op == gojq.OpPipe {
		walkQuery(q.Left, root, seen)
		// "e as $x | body" runs body on the same input as e.
		walkQuery(q.Right, root && len(q.Patterns) > 0, seen)
		return
	}
	if q.Op == gojq.OpModify {
		// In "p |= f", f runs on the values at p.
		walkQuery(q.Left, root, seen)
		return
	}
	walkQuery(q.Left, root, seen)
	walkQuery(q.Right, root, seen)
}

func walkTerm(t *gojq.Term, root bool, seen map[string][]string) {
	if !root {
		return
	}
	switch t.Type {
	case gojq.TermTypeIndex:
		if t.Index == nil {
			break
		}
		walkIndex(t.Index, seen)
		first := indexName(t.Index)
		if first == "" {
			break
		}
		path := []string{first}
		if len(t.SuffixList) > 0 && t.SuffixList[0].Index != nil {
			if second := indexName(t.SuffixList[0].Index); second != "" {
				path = append(path, second)
			}
		}
		addPath(seen, path...)
	case gojq.TermTypeQuery:
		walkQuery(t.Query, true, seen)
	case gojq.TermTypeObject:
		if t.Object == nil {
			break
		}
		for _, kv := range t.Object.KeyVals {
			walkQuery(kv.KeyQuery, true, seen)
			if kv.KeyString != nil {
				walkString(kv.KeyString, seen)
			}
			if kv.Val != nil {
				walkQuery(kv.Val, true, seen)
				continue
			}
			// Shorthand: {a} and {"a"} are {a: .a}; {$a} reads a variable.
			switch {
			case kv.Key != "" && !strings.HasPrefix(kv.Key, "$"):
				addPath(seen, kv.Key)
			case kv.KeyString != nil && kv.KeyString.Queries == nil:
				addPath(seen, kv.KeyString.Str)
			}
		}
	case gojq.TermTypeArray:
		if t.Array != nil {
			walkQuery(t.Array.Query, true, seen)
		}
	case gojq.TermTypeIf:
		if t.If != nil {
			walkQuery(t.If.Cond, true, seen)
			walkQuery(t.If.Then, true, seen)
			for _, e := range t.If.Elif {
				walkQuery(e.Cond, true, seen)
				walkQuery(e.Then, true, seen)
			}
			walkQuery(t.If.Else, true, seen)
		}
	case gojq.TermTypeFormat, gojq.TermTypeString:
		if t.Str != nil {
			walkString(t.Str, seen)
		}
	case gojq.TermTypeUnary:
		if t.Unary != nil {
			walkTerm(t.Unary.Term, true, seen)
		}
	case gojq.TermTypeTry:
		if t.Try != nil {
			walkQuery(t.Try.Body, true, seen) // the catch handler's input is the error
		}
	case gojq.TermTypeLabel:
		if t.Label != nil {
			walkQuery(t.Label.Body, true, seen)
		}
	case gojq.TermTypeReduce:
		if t.Reduce != nil {
			walkQuery(t.Reduce.Query, true, seen)
			walkQuery(t.Reduce.Start, true, seen)
		}
	case gojq.TermTypeForeach:
		if t.Foreach != nil {
			walkQuery(t.Foreach.Query, true, seen)
			walkQuery(t.Foreach.Start, true, seen)
		}
	}
	// Index expressions in suffixes (.a[.k], (.a)[.k]) read the term's input too.
	for _, sf := range t.SuffixList {
		if sf.Index != nil {
			walkIndex(sf.Index, seen)
		}
	}
}

// walkIndex inspects the expressions of an index: .[.k], .[.a:.b], ."\(.k)".
func walkIndex(ix *gojq.Index, seen map[string][]string) {
	if ix.Str != nil {
		walkString(ix.Str, seen)
	}
	walkQuery(ix.Start, true, seen)
	walkQuery(ix.End, true, seen)
}

func walkString(s *gojq.String, seen map[string][]string) {
	for _, sq := range s.Queries {
		walkQuery(sq, true, seen)
	}
}

// indexName returns the key of a literal index (.a, ."a", .["a"]), or "".
func indexName(ix *gojq.Index) string {
	if ix.IsSlice || ix.End != nil {
		return ""
	}
	if ix.Name != "" {
		return ix.Name
	}
	if ix.Str != nil {
		if ix.Str.Queries == nil {
			return ix.Str.Str
		}
		return ""
	}
	if q := ix.Start; q != nil && q.Term != nil && q.Left == nil && q.Right == nil &&
		q.Term.Type == gojq.TermTypeString && q.Term.Str != nil && q.Term.Str.Queries == nil &&
		len(q.Term.SuffixList) == 0 {
		return q.Term.Str.Str
	}
	return ""
}

// Template is a string with `${ jq }` segments, compiled once. A template without
// segments is a constant.
type Template struct {
	src   string
	parts []part
}

type part struct {
	lit string
	q   *Query
	off int // byte offset of "${" inside src
}

// Segment is one `${ jq }` of a template.
type Segment struct {
	Query  *Query
	Offset int // byte offset of "${" in the template source
}

// ParseTemplate compiles every `${ ... }` segment of src.
//
// A segment runs from "${" to the first "}" outside jq strings, comments and
// brackets, so `${ {a: "}"} | .a }` is one segment. The source is read from left to
// right, and "$${" is a literal "${" (it starts no segment): "$${ .x }" renders as
// "${ .x }". A "$" before "$${" is an ordinary character, so "$$${ .x }" renders as
// "$${ .x }". To put a literal "$" right before a segment, write it as a segment of
// its own: `${ "$" }${ .x }`.
//
// An error is an *Error whose Offset is a byte offset into src.
func ParseTemplate(src string) (*Template, error) {
	t := &Template{src: src}
	var lit strings.Builder
	i := 0
	for i < len(src) {
		if strings.HasPrefix(src[i:], "$${") {
			lit.WriteString("${")
			i += 3
			continue
		}
		if !strings.HasPrefix(src[i:], "${") {
			lit.WriteByte(src[i])
			i++
			continue
		}
		start := i + 2
		end := scanExpr(src, start, '}')
		if end < 0 {
			return nil, &Error{Offset: i, Msg: fmt.Sprintf("unterminated ${ in %q", src)}
		}
		body := src[start:end]
		if strings.TrimSpace(body) == "" {
			return nil, &Error{Offset: i, Msg: fmt.Sprintf("empty ${ } in %q", src)}
		}
		q, err := Compile(body)
		if err != nil {
			var ee *Error
			if errors.As(err, &ee) && ee.Offset >= 0 {
				ee.Offset += start
			}
			return nil, err
		}
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{lit: lit.String()})
			lit.Reset()
		}
		t.parts = append(t.parts, part{q: q, off: i})
		i = end + 1
	}
	if lit.Len() > 0 || len(t.parts) == 0 {
		t.parts = append(t.parts, part{lit: lit.String()})
	}
	return t, nil
}

// scanExpr reads jq source from s[i:] and returns the index of the closer that ends
// it, or -1 when there is none: the first closer outside strings, comments and
// brackets. Brackets are matched by kind; a closing bracket that matches no open one
// is left for the parser to report, except the closer itself, which ends the
// expression even inside unclosed brackets of other kinds ("${ map(.a }" ends at its
// "}", so that the parser reports the missing ")"). Valid jq always has its brackets
// matched, so this only changes which error an invalid segment gets.
func scanExpr(s string, i int, closer byte) int {
	var open []byte // the closing brackets expected, innermost last
	for ; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			if i = scanString(s, i+1); i < 0 {
				return -1
			}
		case '#':
			if i = skipComment(s, i+1); i < 0 {
				return -1
			}
		case '(':
			open = append(open, ')')
		case '[':
			open = append(open, ']')
		case '{':
			open = append(open, '}')
		case ')', ']', '}':
			if k := bytes.LastIndexByte(open, c); k >= 0 {
				open = open[:k]
			} else if c == closer {
				return i
			}
		}
	}
	return -1
}

// scanString reads a jq string literal from s[i:], just after its opening quote,
// and returns the index of its closing quote, or -1. An interpolation \( ... ) holds
// an expression, which may hold strings in turn.
func scanString(s string, i int) int {
	for ; i < len(s); i++ {
		switch s[i] {
		case '"':
			return i
		case '\\':
			if i+1 < len(s) && s[i+1] == '(' {
				if i = scanExpr(s, i+2, ')'); i < 0 {
					return -1
				}
				continue
			}
			i++ // skip the escaped character
		}
	}
	return -1
}

// skipComment skips a comment from s[i:], just after its '#', as gojq does: it runs
// to the end of the line, and a backslash escapes a backslash or a line break. It
// returns the index of the line break that ends it, or -1 when the source ends first.
func skipComment(s string, i int) int {
	for ; i < len(s); i++ {
		switch s[i] {
		case '\n', '\r':
			return i
		case '\\':
			switch {
			case i+1 < len(s) && (s[i+1] == '\\' || s[i+1] == '\n'):
				i++
			case i+2 < len(s) && s[i+1] == '\r' && s[i+2] == '\n':
				i += 2
			case i+1 < len(s) && s[i+1] == '\r':
				i++
			}
		}
	}
	return -1
}

// String returns the template source.
func (t *Template) String() string { return t.src }

// MarshalJSON renders the template as its source.
func (t *Template) MarshalJSON() ([]byte, error) { return json.Marshal(t.src) }

// IsConstant reports whether the template has no `${ }` segment.
func (t *Template) IsConstant() bool { return len(t.parts) == 1 && t.parts[0].q == nil }

// Queries returns the compiled segments, for load-time checks.
func (t *Template) Queries() []*Query {
	var qs []*Query
	for _, p := range t.parts {
		if p.q != nil {
			qs = append(qs, p.q)
		}
	}
	return qs
}

// Segments returns the compiled segments with their positions in the source, for
// load-time checks that report a precise column.
func (t *Template) Segments() []Segment {
	var segs []Segment
	for _, p := range t.parts {
		if p.q != nil {
			segs = append(segs, Segment{Query: p.q, Offset: p.off})
		}
	}
	return segs
}

// Render evaluates the template against vars. A template that is exactly one segment
// returns the segment's value unchanged (a number stays a number); otherwise values are
// joined as text, with null rendering as the empty string.
func (t *Template) Render(ctx context.Context, vars any) (any, error) {
	if len(t.parts) == 1 && t.parts[0].q != nil {
		return t.parts[0].q.First(ctx, vars)
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.q == nil {
			b.WriteString(p.lit)
			continue
		}
		v, err := p.q.First(ctx, vars)
		if err != nil {
			return nil, err
		}
		b.WriteString(Text(v))
	}
	return b.String(), nil
}

// RenderString evaluates the template and returns text.
func (t *Template) RenderString(ctx context.Context, vars any) (string, error) {
	v, err := t.Render(ctx, vars)
	if err != nil {
		return "", err
	}
	return Text(v), nil
}

// Text renders a jq value as text: strings as themselves, null as "", json.Number as
// written, other numbers without exponent (integral values at any magnitude, and
// fractions down to 1e-6), anything else as compact JSON without HTML escaping.
func Text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		return formatFloat(x)
	case int:
		return strconv.Itoa(x)
	case bool:
		if x {
			return "true"
		}
		return "false"
	default:
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(x); err != nil {
			return fmt.Sprint(x)
		}
		return strings.TrimSuffix(b.String(), "\n")
	}
}

func formatFloat(x float64) string {
	switch {
	case math.IsNaN(x):
		return "null" // as jq prints it
	case math.IsInf(x, 0):
		// jq prints infinite as the largest float.
		return strconv.FormatFloat(math.Copysign(math.MaxFloat64, x), 'g', -1, 64)
	case x == 0:
		return "0" // also for -0
	case x == math.Trunc(x), math.Abs(x) >= 1e-6:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
}
