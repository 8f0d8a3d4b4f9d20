// Package expr compiles jq expressions once and runs them many times, and renders
// strings that interpolate `${ jq }` segments. It is the one expression language of a
// connector spec: record extraction, ids, field mappings, cursors and templated strings.
package expr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/itchyny/gojq"
)

// Query is a compiled jq expression. It is safe for concurrent use.
type Query struct {
	src  string
	code *gojq.Code
	ast  *gojq.Query
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
func Compile(src string) (*Query, error) {
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
		return nil, &Error{Offset: off, Msg: fmt.Sprintf("invalid jq %q: %v", src, err)}
	}
	code, err := gojq.Compile(ast, gojq.WithEnvironLoader(func() []string { return nil }))
	if err != nil {
		return nil, &Error{Offset: -1, Msg: fmt.Sprintf("invalid jq %q: %v", src, err)}
	}
	return &Query{src: src, code: code, ast: ast}, nil
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

// Each runs the query and calls fn for each output, stopping at the first error.
func (q *Query) Each(ctx context.Context, input any, fn func(any) error) error {
	iter := q.code.RunWithContext(ctx, input)
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
	var first any
	found := false
	errStop := errors.New("stop")
	err := q.Each(ctx, input, func(v any) error {
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

// Truthy runs the query and reports whether its first output is neither null nor false.
func (q *Query) Truthy(ctx context.Context, input any) (bool, error) {
	v, err := q.First(ctx, input)
	if err != nil {
		return false, err
	}
	return v != nil && v != false, nil
}

// RootPaths lists the paths the expression reads directly from the root of its input,
// one or two keys deep: ".config.subdomain" reads ["config", "subdomain"], ".cursor"
// reads ["cursor"]. It is used at load time to refuse a template that names a context
// field that will never exist. Expressions whose input is not the root (the right side
// of a pipe, a function argument) are not inspected, so the list may be incomplete but
// never wrong.
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

func walkQuery(q *gojq.Query, root bool, seen map[string][]string) {
	if q == nil {
		return
	}
	if q.Term != nil {
		walkTerm(q.Term, root, seen)
	}
	if q.Op == gojq.OpPipe {
		walkQuery(q.Left, root, seen)
		walkQuery(q.Right, false, seen)
		return
	}
	walkQuery(q.Left, root, seen)
	walkQuery(q.Right, root, seen)
}

func walkTerm(t *gojq.Term, root bool, seen map[string][]string) {
	switch t.Type {
	case gojq.TermTypeIndex:
		if root && t.Index != nil {
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
			seen[strings.Join(path, ".")] = path
		}
	case gojq.TermTypeQuery:
		walkQuery(t.Query, root, seen)
	case gojq.TermTypeObject:
		if t.Object != nil {
			for _, kv := range t.Object.KeyVals {
				walkQuery(kv.Val, root, seen)
			}
		}
	case gojq.TermTypeArray:
		if t.Array != nil {
			walkQuery(t.Array.Query, root, seen)
		}
	case gojq.TermTypeIf:
		if t.If != nil {
			walkQuery(t.If.Cond, root, seen)
			walkQuery(t.If.Then, root, seen)
			for _, e := range t.If.Elif {
				walkQuery(e.Cond, root, seen)
				walkQuery(e.Then, root, seen)
			}
			walkQuery(t.If.Else, root, seen)
		}
	case gojq.TermTypeFormat, gojq.TermTypeString:
		if t.Str != nil {
			for _, sq := range t.Str.Queries {
				walkQuery(sq, root, seen)
			}
		}
	}
}

func indexName(ix *gojq.Index) string {
	if ix.Name != "" {
		return ix.Name
	}
	if ix.Str != nil && ix.Str.Queries == nil {
		return ix.Str.Str
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
	off int // byte offset of the expression inside src
}

// ParseTemplate compiles every `${ ... }` segment of src. A literal "${" is written "$${".
func ParseTemplate(src string) (*Template, error) {
	t := &Template{src: src}
	rest, base := src, 0
	var lit strings.Builder
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			lit.WriteString(rest)
			break
		}
		if i > 0 && rest[i-1] == '$' {
			lit.WriteString(rest[:i-1])
			lit.WriteString("${")
			rest, base = rest[i+2:], base+i+2
			continue
		}
		lit.WriteString(rest[:i])
		end := matchingBrace(rest[i+2:])
		if end < 0 {
			return nil, &Error{Offset: base + i, Msg: fmt.Sprintf("unterminated ${ in %q", src)}
		}
		body := rest[i+2 : i+2+end]
		if strings.TrimSpace(body) == "" {
			return nil, &Error{Offset: base + i, Msg: fmt.Sprintf("empty ${ } in %q", src)}
		}
		q, err := Compile(body)
		if err != nil {
			var ee *Error
			if errors.As(err, &ee) && ee.Offset >= 0 {
				ee.Offset += base + i + 2
			}
			return nil, err
		}
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{lit: lit.String()})
			lit.Reset()
		}
		t.parts = append(t.parts, part{q: q, off: base + i + 2})
		rest, base = rest[i+2+end+1:], base+i+2+end+1
	}
	if lit.Len() > 0 || len(t.parts) == 0 {
		t.parts = append(t.parts, part{lit: lit.String()})
	}
	return t, nil
}

// matchingBrace finds the "}" closing a segment, skipping braces inside jq object
// constructors and string literals.
func matchingBrace(s string) int {
	depth := 0
	inStr := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inStr:
			if c == '\\' {
				i++
			} else if c == '"' {
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{':
			depth++
		case c == '}':
			if depth == 0 {
				return i
			}
			depth--
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

// Text renders a jq value as text: strings as themselves, null as "", numbers without
// exponent where they are integers, anything else as compact JSON.
func Text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		if x == float64(int64(x)) && x < 1e15 && x > -1e15 {
			return fmt.Sprintf("%d", int64(x))
		}
		return fmt.Sprintf("%v", x)
	case int:
		return fmt.Sprintf("%d", x)
	case bool:
		if x {
			return "true"
		}
		return "false"
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}
