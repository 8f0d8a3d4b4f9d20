package expr

import (
	"sort"
	"strings"

	"github.com/itchyny/gojq"
)

// Reads is what a query reads from its input, as far as its syntax tells. Unlike
// RootPaths it is conservative: whatever the query may read that Paths does not cover
// sets Whole, so a caller can rely on "not Whole and no path under X" to mean the
// query never looks at X.
type Reads struct {
	// Paths are the literal key paths read from the input, in full: .a.b?.c[0] reads
	// [a b c]. A query that reads .a reads everything under it.
	Paths [][]string
	// Whole: the query may read the input in a way Paths does not capture: the input
	// itself (., .., keys, length, a function applied to it), a dynamic or numeric
	// index (.[$k], .[0]), an assignment (which outputs the whole input), a function
	// definition.
	Whole bool
	// Vars are the variables the query refers to ("$headers"), sorted.
	Vars []string
}

// UsesVar reports whether the query refers to the variable name ("$records").
func (r Reads) UsesVar(name string) bool {
	for _, v := range r.Vars {
		if v == name {
			return true
		}
	}
	return false
}

// Reads analyses what the query reads from its input.
func (q *Query) Reads() Reads {
	w := &readsWalker{paths: map[string][]string{}, vars: map[string]bool{}}
	w.query(q.ast, true)
	out := Reads{Whole: w.whole}
	keys := make([]string, 0, len(w.paths))
	for k := range w.paths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out.Paths = append(out.Paths, w.paths[k])
	}
	for v := range w.vars {
		out.Vars = append(out.Vars, v)
	}
	sort.Strings(out.Vars)
	return out
}

// IterPath reports whether the query is a plain path that iterates what it reaches,
// .a.b[] (or .[] for the input itself), and returns its keys. Such a query yields
// the elements of one array (or the values of one object) and reads nothing else, so
// its outputs can be produced while the document is still being read.
func (q *Query) IterPath() ([]string, bool) {
	keys, rest, ok := indexPath(q.ast)
	if !ok || len(rest) != 1 || !rest[0].Iter {
		return nil, false
	}
	if keys == nil {
		keys = []string{}
	}
	return keys, true
}

// indexPath splits a query that is one term starting with . or .name into the keys of
// its leading plain indexes and the suffixes after them; ok is false for any other
// query.
func indexPath(a *gojq.Query) (keys []string, rest []*gojq.Suffix, ok bool) {
	if a == nil || a.Term == nil || a.Left != nil || a.Right != nil || len(a.FuncDefs) > 0 || len(a.Patterns) > 0 {
		return nil, nil, false
	}
	t := a.Term
	switch t.Type {
	case gojq.TermTypeIdentity:
	case gojq.TermTypeIndex:
		k := indexName(t.Index)
		if k == "" {
			return nil, nil, false
		}
		keys = append(keys, k)
	default:
		return nil, nil, false
	}
	for i, s := range t.SuffixList {
		k := ""
		if s.Index != nil && !s.Iter && !s.Optional {
			k = indexName(s.Index)
		}
		if k == "" {
			return keys, t.SuffixList[i:], true
		}
		keys = append(keys, k)
	}
	return keys, nil, true
}

type readsWalker struct {
	paths map[string][]string
	vars  map[string]bool
	whole bool
}

func (w *readsWalker) path(p []string) {
	w.paths[strings.Join(p, "\x00")] = append([]string(nil), p...)
}

// inputFree lists functions that do not read their input (their arguments may).
var inputFree = map[string]bool{"empty": true, "now": true, "infinite": true, "nan": true, "range": true, "input_line_number": true, "halt": true}

// query walks q; root says whether q's input is the input of the whole query. Parts
// that run on something else are still walked, for their variables.
func (w *readsWalker) query(q *gojq.Query, root bool) {
	if q == nil {
		return
	}
	if len(q.FuncDefs) > 0 && root {
		w.whole = true // a function body may read its caller's input: not tracked
	}
	for _, fd := range q.FuncDefs {
		w.query(fd.Body, false)
	}
	if q.Term != nil {
		w.term(q.Term, root)
	}
	switch q.Op {
	case 0:
	case gojq.OpPipe:
		w.query(q.Left, root)
		// "e as $x | body" runs body on the same input as e.
		w.query(q.Right, root && len(q.Patterns) > 0)
	case gojq.OpAssign, gojq.OpModify, gojq.OpUpdateAdd, gojq.OpUpdateSub, gojq.OpUpdateMul,
		gojq.OpUpdateDiv, gojq.OpUpdateMod, gojq.OpUpdateAlt:
		if root {
			w.whole = true // an update outputs the whole input
		}
		w.query(q.Left, root)
		w.query(q.Right, root)
	default:
		w.query(q.Left, root)
		w.query(q.Right, root)
	}
}

func (w *readsWalker) term(t *gojq.Term, root bool) {
	whole := func() {
		if root {
			w.whole = true
		}
	}
	switch t.Type {
	case gojq.TermTypeIdentity, gojq.TermTypeRecurse:
		whole() // . and .. themselves, or .[] on them
	case gojq.TermTypeIndex:
		w.index(t.Index, root)
		first := indexName(t.Index)
		if first == "" {
			whole()
			break
		}
		p := []string{first}
		for _, s := range t.SuffixList {
			if s.Optional {
				continue
			}
			if s.Index == nil {
				break
			}
			k := indexName(s.Index)
			if k == "" {
				break
			}
			p = append(p, k)
		}
		if root {
			w.path(p)
		}
	case gojq.TermTypeFunc:
		name := t.Func.Name
		if strings.HasPrefix(name, "$") {
			w.vars[name] = true
			break
		}
		// error/1 raises its argument; error/0 raises the input.
		if !inputFree[name] && !(name == "error" && len(t.Func.Args) == 1) {
			whole()
		}
		for _, a := range t.Func.Args {
			w.query(a, root) // arguments run on the function's input

		}
	case gojq.TermTypeObject:
		for _, kv := range t.Object.KeyVals {
			w.query(kv.KeyQuery, root)
			if kv.KeyString != nil {
				w.str(kv.KeyString, root)
			}
			if kv.Val != nil {
				w.query(kv.Val, root)
				continue
			}
			switch {
			case strings.HasPrefix(kv.Key, "$"):
				w.vars[kv.Key] = true
			case kv.Key != "":
				if root {
					w.path([]string{kv.Key})
				}
			case kv.KeyString != nil && kv.KeyString.Queries == nil:
				if root {
					w.path([]string{kv.KeyString.Str})
				}
			default:
				whole()
			}
		}
	case gojq.TermTypeArray:
		w.query(t.Array.Query, root)
	case gojq.TermTypeUnary:
		w.term(t.Unary.Term, root)
	case gojq.TermTypeFormat:
		if t.Str == nil {
			whole() // @base64 formats the input itself
		} else {
			w.str(t.Str, root)
		}
	case gojq.TermTypeString:
		w.str(t.Str, root)
	case gojq.TermTypeIf:
		w.query(t.If.Cond, root)
		w.query(t.If.Then, root)
		for _, e := range t.If.Elif {
			w.query(e.Cond, root)
			w.query(e.Then, root)
		}
		w.query(t.If.Else, root)
	case gojq.TermTypeTry:
		w.query(t.Try.Body, root)
		w.query(t.Try.Catch, false) // its input is the error
	case gojq.TermTypeReduce:
		w.query(t.Reduce.Query, root)
		w.query(t.Reduce.Start, root)
		w.query(t.Reduce.Update, false)
	case gojq.TermTypeForeach:
		w.query(t.Foreach.Query, root)
		w.query(t.Foreach.Start, root)
		w.query(t.Foreach.Update, false)
		w.query(t.Foreach.Extract, false)
	case gojq.TermTypeLabel:
		w.query(t.Label.Body, root)
	case gojq.TermTypeQuery:
		w.query(t.Query, root)
	case gojq.TermTypeNull, gojq.TermTypeTrue, gojq.TermTypeFalse, gojq.TermTypeNumber, gojq.TermTypeBreak:
	default:
		whole()
	}
	// Index expressions in suffixes (.a[.k], $x[.k]) run on the term's input.
	for _, s := range t.SuffixList {
		if s.Index != nil {
			w.index(s.Index, root)
		}
	}
}

func (w *readsWalker) index(ix *gojq.Index, root bool) {
	if ix == nil {
		return
	}
	if ix.Str != nil {
		w.str(ix.Str, root)
	}
	w.query(ix.Start, root)
	w.query(ix.End, root)
}

func (w *readsWalker) str(s *gojq.String, root bool) {
	if s == nil {
		return
	}
	for _, q := range s.Queries {
		w.query(q, root)
	}
}
