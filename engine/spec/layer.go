package spec

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Override is one customer's changes to a provider's spec:
// customers/CUSTOMER/PROVIDER.yaml, or a file attached to an integration.
type Override struct {
	File     string
	Customer string
	Provider string
	data     []byte
	provLine int // where provider is set, for a mismatch error
	provCol  int
	custLine int // where customer is set
	custCol  int
	root     *yaml.Node // without customer and provider
}

// DefaultCustomizable are the key paths every provider lets customers override. A
// path allows everything below it; * matches one key.
var DefaultCustomizable = []string{
	"sync_every",
	"kinds",
	"interaction_types.*.sync_every",
	"interaction_types.*.fields",
	"interaction_types.*.filter",
	"interaction_types.*.request.params",
	"interaction_types.*.incremental.start",
	"interaction_types.*.incremental.initial_window",
	"interaction_types.*.pagination.limit",
	"interaction_types.*.match",
	"interaction_types.*.links",
}

// SourceCustomizable are the paths customers may also override in the connectors of a
// source other than http: the extra condition and page size of a query, and how files
// are found and parsed (names, delimiter, encoding...).
var SourceCustomizable = map[string][]string{
	SourceSQL:   {"interaction_types.*.query.where", "interaction_types.*.query.limit"},
	SourceFiles: {"interaction_types.*.files"},
}

// customTypeKeys may also be set on a custom type (one made with extends).
var customTypeKeys = []string{"kind", "description"}

// ParseOverride reads an override file. Its customer and provider keys say whose and
// which spec it changes; the rest is merged onto the provider's spec.
func ParseOverride(file string, data []byte) (*Override, error) {
	root, errs := parseYAML(file, data, overrideFile)
	if errs != nil {
		return nil, errs
	}
	if root.Kind != yaml.MappingNode {
		return nil, Errors{{File: file, Line: root.Line, Col: root.Column, Msg: "an override is a mapping with customer, provider and the keys it changes"}}
	}
	o := &Override{File: file, data: data, root: &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: root.Line, Column: root.Column}}
	var errList Errors
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "customer", "provider":
			if v.Kind != yaml.ScalarNode || v.Value == "" || v.ShortTag() != "!!str" {
				errList = append(errList, &Error{File: file, Line: v.Line, Col: v.Column, Path: k.Value, Msg: "must be a name"})
				continue
			}
			if k.Value == "customer" {
				o.Customer, o.custLine, o.custCol = v.Value, v.Line, v.Column
			} else {
				o.Provider, o.provLine, o.provCol = v.Value, v.Line, v.Column
			}
		default:
			o.root.Content = append(o.root.Content, k, v)
		}
	}
	if o.Customer == "" {
		errList = append(errList, &Error{File: file, Line: root.Line, Col: root.Column, Msg: `missing required key "customer"`})
	}
	if o.Provider == "" {
		errList = append(errList, &Error{File: file, Line: root.Line, Col: root.Column, Msg: `missing required key "provider"`})
	}
	if errList != nil {
		return nil, errList
	}
	return o, nil
}

// Layers is a provider's spec with overrides applied: the effective spec and where
// each of its values came from.
type Layers struct {
	Connector *Connector
	root      *yaml.Node
	origin    *origins
	overrides []string // override files, in the order applied
}

// Apply layers overrides, in order, onto base: maps merge by key, a scalar or a list
// replaces, null removes. Every path an override touches must be customizable. The
// effective spec is validated like any spec; errors name the file and line of the
// value at fault and, for a value an override replaced, the provider's line.
func Apply(base *Connector, overrides ...*Override) (*Layers, error) {
	if base.srcData == nil {
		return nil, fmt.Errorf("layer %s: the spec's source is not kept", base.File)
	}
	root, errs := parseYAML(base.File, base.srcData, connectorFile)
	if errs != nil {
		return nil, errs
	}
	o := newOrigins(base.File, base.srcData)
	// Aliases are resolved first: an override of one type must not reach another type
	// that shares the value through a YAML anchor.
	root = deepCopy(root, o)
	l := &Layers{root: root, origin: o}
	var all Errors
	custom := map[string]bool{} // a custom type stays custom for the overrides after it
	for _, ov := range overrides {
		if ov.Provider != base.Provider {
			all = append(all, &Error{File: ov.File, Line: ov.provLine, Col: ov.provCol, Path: "provider", Msg: fmt.Sprintf("is %q, but this override is applied to provider %q", ov.Provider, base.Provider)})
			continue
		}
		o.lines[ov.File] = YAMLLines(ov.data)
		m := &merger{o: o, file: ov.File, allowed: slices.Concat(DefaultCustomizable, SourceCustomizable[base.Source], base.Customizable), base: base, custom: custom}
		m.mergeMap(root, ov.root, nil)
		all = append(all, m.errs...)
		l.overrides = append(l.overrides, ov.File)
	}
	if all != nil {
		return nil, all.sorted()
	}
	c, err := loadNode(base.File, root, o)
	if err != nil {
		return nil, err
	}
	c.srcData = base.srcData
	l.Connector = c
	return l, nil
}

type merger struct {
	o       *origins
	file    string
	allowed []string
	base    *Connector
	custom  map[string]bool // interaction types the overrides create with extends
	errs    Errors
}

func (m *merger) fail(n *yaml.Node, path []string, format string, args ...any) {
	m.errs = append(m.errs, &Error{File: m.file, Line: n.Line, Col: n.Column, Path: pathString(path), Msg: fmt.Sprintf(format, args...)})
}

// mergeMap merges the override mapping over into base, recording origins.
func (m *merger) mergeMap(base, over *yaml.Node, path []string) {
	for i := 0; i+1 < len(over.Content); i += 2 {
		k, v := over.Content[i], over.Content[i+1]
		p := append(append([]string(nil), path...), k.Value)
		if len(path) == 1 && path[0] == "interaction_types" {
			if m.interactionType(base, k, v, p) {
				continue
			}
		}
		idx := mapIndex(base, k.Value)
		if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
			// null removes.
			if !m.check(k, p) {
				continue
			}
			if idx >= 0 {
				// Only what is there is removed (and shown as removed by explain).
				base.Content = append(base.Content[:idx], base.Content[idx+2:]...)
				m.o.forget(p)
				m.o.removed = append(m.o.removed, removal{path: p, at: fmt.Sprintf("%s:%d", m.file, k.Line)})
			}
			continue
		}
		if idx >= 0 && base.Content[idx+1].Kind == yaml.MappingNode && v.Kind == yaml.MappingNode {
			m.mergeMap(base.Content[idx+1], v, p)
			continue
		}
		if !m.check(k, p) {
			continue
		}
		m.o.forget(p)
		if idx >= 0 {
			// Errors name the provider's value; over an earlier override's value,
			// the provider's (if any) is still the one recorded.
			if old := base.Content[idx+1]; m.o.of(old) == m.o.main {
				m.o.replaced[posKey(p)] = fmt.Sprintf("%s:%d", m.o.main, old.Line)
			}
			base.Content[idx+1] = m.adopt(v)
			continue
		}
		base.Content = append(base.Content, m.adopt(k), m.adopt(v))
	}
}

// interactionType handles interaction_types.NAME: an unknown name is an error unless
// the override creates it with extends. It reports whether it dealt with the key.
func (m *merger) interactionType(types, k, v *yaml.Node, p []string) bool {
	idx := mapIndex(types, k.Value)
	ext := -1
	if v.Kind == yaml.MappingNode {
		ext = mapIndex(v, "extends")
	}
	if ext < 0 {
		if idx < 0 && !m.custom[k.Value] {
			known := mapKeys(types)
			msg := fmt.Sprintf("provider %s has no interaction type %q", m.base.Provider, k.Value)
			if s := suggest(k.Value, known); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else {
				msg += " (it has: " + strings.Join(known, ", ") + ")"
			}
			m.fail(k, p, "%s; to add a custom type, write extends: TYPE", msg)
			return true
		}
		return false
	}
	from := v.Content[ext+1]
	if idx >= 0 {
		if m.custom[k.Value] {
			m.fail(v.Content[ext], append(p, "extends"), "%q is already a custom type, made by an earlier override; change it here without extends", k.Value)
			return true
		}
		m.fail(v.Content[ext], append(p, "extends"), "%q already exists in the provider's spec; extends creates a new type, so choose another name", k.Value)
		return true
	}
	src := mapIndex(types, from.Value)
	if from.Kind != yaml.ScalarNode || src < 0 {
		m.fail(from, append(p, "extends"), "provider %s has no interaction type %q to extend (it has: %s)", m.base.Provider, from.Value, strings.Join(mapKeys(types), ", "))
		return true
	}
	// The copy keeps its provider origins: explain shows where each value came from.
	copied := deepCopy(types.Content[src+1], m.o)
	types.Content = append(types.Content, m.adopt(k), copied)
	m.custom[k.Value] = true
	rest := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(v.Content); i += 2 {
		if i != ext {
			rest.Content = append(rest.Content, v.Content[i], v.Content[i+1])
		}
	}
	m.mergeMap(copied, rest, p)
	return true
}

// check reports whether the override may set path, and records an error if not.
func (m *merger) check(at *yaml.Node, path []string) bool {
	allowed := m.allowed
	if len(path) >= 2 && path[0] == "interaction_types" && m.custom[path[1]] {
		for _, k := range customTypeKeys {
			allowed = append(allowed, "interaction_types.*."+k)
		}
	}
	for _, a := range allowed {
		if pathUnder(path, strings.Split(a, ".")) {
			return true
		}
	}
	// Say what may be set below this key, or else at its level: the rest of each
	// customizable path, or its first key when the rest holds a *.
	rest := func(segs []string) string {
		if slices.Contains(segs, "*") {
			return segs[0]
		}
		return strings.Join(segs, ".")
	}
	var here, below, names []string
	for _, a := range allowed {
		segs := strings.Split(a, ".")
		if len(segs) > len(path) && pathUnder(path, segs[:len(path)]) {
			below = append(below, rest(segs[len(path):]))
		}
		if len(segs) >= len(path) && pathUnder(path[:len(path)-1], segs[:len(path)-1]) && segs[len(path)-1] != "*" {
			here = append(here, rest(segs[len(path)-1:]))
			names = append(names, segs[len(path)-1])
		}
	}
	slices.Sort(below)
	slices.Sort(here)
	msg := "may not be changed per customer"
	if slices.Contains(below, "*") {
		msg += " as a whole, only inside each of its entries"
	} else if len(below) > 0 {
		msg += " as a whole, only its " + strings.Join(slices.Compact(below), ", ")
	} else if s := suggest(path[len(path)-1], names); s != "" && s != path[len(path)-1] {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	} else if len(here) > 0 {
		msg += " (customizable here: " + strings.Join(slices.Compact(here), ", ") + ")"
	} else {
		msg += "; the provider's spec lists what may vary under customizable"
	}
	m.fail(at, path, "%s", msg)
	return false
}

// pathUnder reports whether path is pattern or below it.
func pathUnder(path, pattern []string) bool {
	if len(path) < len(pattern) {
		return false
	}
	for i, p := range pattern {
		if p != "*" && p != path[i] {
			return false
		}
	}
	return true
}

// adopt marks every node of an override value as coming from the override.
func (m *merger) adopt(n *yaml.Node) *yaml.Node {
	c := deepCopy(n, m.o)
	var mark func(*yaml.Node)
	mark = func(x *yaml.Node) {
		m.o.file[x] = m.file
		for _, ch := range x.Content {
			mark(ch)
		}
	}
	mark(c)
	return c
}

// deepCopy copies a node tree, resolving aliases and keeping each node's origin.
func deepCopy(n *yaml.Node, o *origins) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return deepCopy(n.Alias, o)
	}
	c := *n
	c.Anchor = "" // aliases are resolved, so anchors mean nothing in the copy
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, ch := range n.Content {
		c.Content[i] = deepCopy(ch, o)
	}
	if f, ok := o.file[n]; ok {
		o.file[&c] = f
	}
	return &c
}

func mapIndex(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

func mapKeys(m *yaml.Node) []string {
	var out []string
	for i := 0; i+1 < len(m.Content); i += 2 {
		out = append(out, m.Content[i].Value)
	}
	return out
}

type removal struct {
	path []string
	at   string // file:line of the override's null
}

// forget drops the removals at or below path: a later override set or removed it again.
func (o *origins) forget(path []string) {
	o.removed = slices.DeleteFunc(o.removed, func(r removal) bool { return pathUnder(r.path, path) })
}

// Overrides lists the override files applied, in order.
func (l *Layers) Overrides() []string { return l.overrides }

// Explain renders the effective spec as YAML with, after each value, the file:line
// that set it. types, when not empty, keeps only those interaction types. With diff,
// only what the overrides set or removed is shown.
func (l *Layers) Explain(types []string, diff bool) ([]byte, error) {
	root := deepCopy(l.root, l.origin)
	if len(types) > 0 {
		if i := mapIndex(root, "interaction_types"); i >= 0 {
			its := root.Content[i+1]
			kept := its.Content[:0]
			for j := 0; j+1 < len(its.Content); j += 2 {
				if slices.Contains(types, its.Content[j].Value) {
					kept = append(kept, its.Content[j], its.Content[j+1])
				}
			}
			its.Content = kept
		}
	}
	if diff {
		l.addRemovals(root, types)
		if !l.prune(root) {
			root.Content = nil
		}
	}
	clearComments(root)
	l.annotate(root, nil)
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

func (l *Layers) fromOverride(n *yaml.Node) bool {
	return l.origin.of(n) != l.origin.main
}

// prune keeps only keys whose value, or something below it, an override set. It
// reports whether anything is left.
func (l *Layers) prune(n *yaml.Node) bool {
	if l.fromOverride(n) {
		return true
	}
	switch n.Kind {
	case yaml.MappingNode:
		kept := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			if l.fromOverride(n.Content[i]) || l.prune(n.Content[i+1]) {
				kept = append(kept, n.Content[i], n.Content[i+1])
			}
		}
		n.Content = kept
		return len(kept) > 0
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if l.prune(c) {
				return true
			}
		}
	}
	return false
}

// addRemovals puts back each removed key as null, marked with the override's line.
func (l *Layers) addRemovals(root *yaml.Node, types []string) {
	for _, r := range l.origin.removed {
		if len(types) > 0 && len(r.path) > 1 && r.path[0] == "interaction_types" && !slices.Contains(types, r.path[1]) {
			continue
		}
		n := root
		for _, seg := range r.path[:len(r.path)-1] {
			i := mapIndex(n, seg)
			if i < 0 {
				child := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: seg}, child)
				n = child
				continue
			}
			n = n.Content[i+1]
		}
		key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: r.path[len(r.path)-1]}
		val := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null", LineComment: "removed by " + r.at}
		l.origin.file[key], l.origin.file[val] = "removed", "removed"
		n.Content = append(n.Content, key, val)
	}
}

// annotate writes each value's origin as a line comment and renders every mapping and
// list in block style, so that each value has a line of its own.
func (l *Layers) annotate(n *yaml.Node, path []string) {
	at := func(x *yaml.Node) string { return fmt.Sprintf("%s:%d", l.origin.of(x), x.Line) }
	// An empty mapping or list stays {} or [] on its key's line, commented like a
	// scalar: in block style the encoder would put it on a line of its own, which is
	// not YAML.
	oneLine := func(x *yaml.Node) bool { return x.Kind == yaml.ScalarNode || len(x.Content) == 0 }
	switch n.Kind {
	case yaml.MappingNode, yaml.SequenceNode:
		n.Style = 0
		if len(n.Content) == 0 {
			n.Style = yaml.FlowStyle
		}
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.LineComment != "" { // a removal
				continue
			}
			if oneLine(v) {
				v.LineComment = at(v)
			} else {
				k.LineComment = at(k)
			}
			l.annotate(v, append(path, k.Value))
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if oneLine(c) {
				c.LineComment = at(c)
			}
			l.annotate(c, path)
		}
	}
}

// clearComments drops the files' own comments: explain's comments are the origins.
func clearComments(n *yaml.Node) {
	if n.LineComment != "" && !strings.HasPrefix(n.LineComment, "removed by ") {
		n.LineComment = ""
	}
	n.HeadComment, n.FootComment = "", ""
	for _, c := range n.Content {
		clearComments(c)
	}
}
