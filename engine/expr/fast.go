package expr

import (
	"strings"

	"github.com/itchyny/gojq"
)

// fastFn evaluates a query of the forms compileFast knows over one input, without
// gojq. It gives n = 0 or 1 outputs, or ok = false when it cannot be sure of jq's
// answer (an error jq words, a number, whose form gojq may change, a shape it does not
// handle): gojq then runs the query from the start. It has no effects, so giving up
// half way costs only the time spent.
//
// Connectors' mapped fields are mostly plain paths (see plainPath), and the rest are
// mostly a few forms: `.email | ascii_downcase`, `[.first, .last] | map(select(. !=
// null)) | join(" ")`, `.a // .b`. gojq allocates an environment and a stack for each
// run: in `make bench` its two runs a record were a tenth of the engine's CPU.
type fastFn func(v any) (out any, n int, ok bool)

// compileFast returns the evaluator of a, or nil when a is not of the forms it knows.
// Each form yields at most one output, so a query of them does too.
func compileFast(a *gojq.Query) fastFn {
	if a == nil || len(a.FuncDefs) > 0 || len(a.Patterns) > 0 || len(a.Imports) > 0 || a.Meta != nil {
		return nil // a definition may shadow a builtin; a pattern binds variables
	}
	if a.Term != nil {
		if a.Left != nil || a.Right != nil {
			return nil
		}
		return fastTerm(a.Term)
	}
	l, r := compileFast(a.Left), compileFast(a.Right)
	if l == nil || r == nil {
		return nil
	}
	switch a.Op {
	case gojq.OpPipe:
		return func(v any) (any, int, bool) {
			x, n, ok := l(v)
			if !ok || n == 0 {
				return nil, 0, ok
			}
			return r(x)
		}
	case gojq.OpAlt:
		// a // b: a's output if it is neither null nor false, else b's.
		return func(v any) (any, int, bool) {
			x, n, ok := l(v)
			if !ok {
				return nil, 0, false
			}
			if n == 1 && truthy(x) {
				return x, 1, true
			}
			return r(v)
		}
	case gojq.OpEq, gojq.OpNe:
		ne := a.Op == gojq.OpNe
		return func(v any) (any, int, bool) {
			x, n, ok := l(v)
			if !ok || n != 1 {
				return nil, 0, false
			}
			y, m, ok := r(v)
			if !ok || m != 1 {
				return nil, 0, false
			}
			eq, ok := scalarEqual(x, y)
			if !ok {
				return nil, 0, false
			}
			return eq != ne, 1, true
		}
	}
	return nil
}

func fastTerm(t *gojq.Term) fastFn {
	switch t.Type {
	case gojq.TermTypeIdentity, gojq.TermTypeIndex:
		// A plain path (.a.b): walked as jq would; a value that is neither an object
		// nor null on the way gives up, and gojq words the error.
		keys, rest, ok := indexPath(&gojq.Query{Term: t})
		if !ok || len(rest) > 0 {
			return nil
		}
		return func(v any) (any, int, bool) {
			out, ok := walkPath(v, keys)
			return out, 1, ok
		}
	}
	if len(t.SuffixList) > 0 {
		return nil
	}
	switch t.Type {
	case gojq.TermTypeNull:
		return constant(nil)
	case gojq.TermTypeTrue:
		return constant(true)
	case gojq.TermTypeFalse:
		return constant(false)
	case gojq.TermTypeString:
		s, ok := literalTerm(t)
		if !ok {
			return nil
		}
		return constant(s)
	case gojq.TermTypeQuery:
		return compileFast(t.Query)
	case gojq.TermTypeArray:
		return fastArray(t.Array)
	case gojq.TermTypeFunc:
		return fastFunc(t.Func)
	}
	return nil
}

func constant(c any) fastFn {
	return func(any) (any, int, bool) { return c, 1, true }
}

// fastArray is [e1, e2, ...]: the outputs of each element in turn (see collect).
func fastArray(a *gojq.Array) fastFn {
	if a == nil {
		return nil
	}
	if a.Query == nil {
		return func(any) (any, int, bool) { return []any{}, 1, true }
	}
	var elems []fastFn
	var add func(q *gojq.Query) bool
	add = func(q *gojq.Query) bool {
		if q.Op == gojq.OpComma && q.Term == nil && len(q.FuncDefs) == 0 && len(q.Patterns) == 0 {
			return add(q.Left) && add(q.Right)
		}
		f := compileFast(q)
		elems = append(elems, f)
		return f != nil
	}
	if !add(a.Query) {
		return nil
	}
	return func(v any) (any, int, bool) {
		out := make([]any, 0, len(elems))
		for _, f := range elems {
			var ok bool
			if out, ok = collect(out, f, v); !ok {
				return nil, 0, false
			}
		}
		return out, 1, true
	}
}

// collect appends f's output over v, if any, to an array being built. It gives up on
// anything but null, a string or a boolean, so that the array holds what gojq's would.
func collect(out []any, f fastFn, v any) ([]any, bool) {
	x, n, ok := f(v)
	if !ok || (n == 1 && !plainScalar(x)) {
		return nil, false
	}
	if n == 1 {
		out = append(out, x)
	}
	return out, true
}

func fastFunc(f *gojq.Func) fastFn {
	switch {
	case f.Name == "ascii_downcase" && len(f.Args) == 0:
		return asciiCase('A', 'Z', 'a'-'A')
	case f.Name == "ascii_upcase" && len(f.Args) == 0:
		return asciiCase('a', 'z', 'A'-'a')
	case f.Name == "not" && len(f.Args) == 0:
		return func(v any) (any, int, bool) { return !truthy(v), 1, true }
	case f.Name == "select" && len(f.Args) == 1:
		cond := compileFast(f.Args[0])
		if cond == nil {
			return nil
		}
		return func(v any) (any, int, bool) {
			c, n, ok := cond(v)
			if !ok || n != 1 {
				return nil, 0, false
			}
			if truthy(c) {
				return v, 1, true
			}
			return nil, 0, true
		}
	case f.Name == "map" && len(f.Args) == 1:
		each := compileFast(f.Args[0])
		if each == nil {
			return nil
		}
		return func(v any) (any, int, bool) {
			in, isArray := v.([]any)
			if !isArray {
				return nil, 0, false // an object's values come in key order: gojq's business
			}
			out := make([]any, 0, len(in))
			for _, e := range in {
				var ok bool
				if out, ok = collect(out, each, e); !ok {
					return nil, 0, false
				}
			}
			return out, 1, true
		}
	case f.Name == "join" && len(f.Args) == 1:
		sep, ok := literalString(f.Args[0])
		if !ok {
			return nil
		}
		return func(v any) (any, int, bool) {
			in, isArray := v.([]any)
			if !isArray {
				return nil, 0, false
			}
			var b strings.Builder
			for i, e := range in {
				if i > 0 {
					b.WriteString(sep)
				}
				switch x := e.(type) {
				case nil:
				case string:
					b.WriteString(x)
				case bool:
					if x {
						b.WriteString("true")
					} else {
						b.WriteString("false")
					}
				default:
					return nil, 0, false
				}
			}
			return b.String(), 1, true
		}
	}
	return nil
}

// asciiCase maps the letters from lo to hi by delta, as ascii_downcase and
// ascii_upcase do; anything but a string gives up (jq's error).
func asciiCase(lo, hi byte, delta int) fastFn {
	return func(v any) (any, int, bool) {
		s, ok := v.(string)
		if !ok {
			return nil, 0, false
		}
		i := 0
		for i < len(s) && (s[i] < lo || s[i] > hi) {
			i++
		}
		if i == len(s) {
			return s, 1, true // nothing to change: no copy
		}
		b := []byte(s)
		for ; i < len(b); i++ {
			if b[i] >= lo && b[i] <= hi {
				b[i] = byte(int(b[i]) + delta)
			}
		}
		return string(b), 1, true
	}
}

// literalString is the string q is, when q is a literal one ("sep").
func literalString(q *gojq.Query) (string, bool) {
	if q == nil || q.Term == nil || q.Left != nil || q.Right != nil || len(q.FuncDefs) > 0 || len(q.Patterns) > 0 {
		return "", false
	}
	return literalTerm(q.Term)
}

// literalTerm is the string t is, when t is a literal one: no interpolation, format
// or suffix.
func literalTerm(t *gojq.Term) (string, bool) {
	if t.Type != gojq.TermTypeString || t.Str == nil || len(t.Str.Queries) > 0 || t.Format != "" || len(t.SuffixList) > 0 {
		return "", false
	}
	return t.Str.Str, true
}

// truthy is jq's truth: everything but null and false.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	}
	return true
}

func plainScalar(v any) bool {
	switch v.(type) {
	case nil, string, bool:
		return true
	}
	return false
}

// scalarEqual is jq's == where fast can be sure of it: null equals only null, and two
// strings or two booleans compare by value. Numbers, arrays and objects give up.
func scalarEqual(a, b any) (eq, ok bool) {
	if a == nil || b == nil {
		return a == nil && b == nil, true
	}
	switch x := a.(type) {
	case string:
		switch y := b.(type) {
		case string:
			return x == y, true
		case bool:
			return false, true
		}
	case bool:
		switch y := b.(type) {
		case bool:
			return x == y, true
		case string:
			return false, true
		}
	}
	return false, false
}
