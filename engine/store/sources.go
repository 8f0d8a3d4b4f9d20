package store

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// attrSource is where the value survivorship kept for one attribute of an account or
// contact came from: the provider, and when that provider's record changed (RFC 3339).
type attrSource struct {
	provider, at string
}

// encodeSources writes the sources column: the attributes grouped by the source they
// share, groups ordered by provider and time, each group's attributes sorted:
//
//	[{"at":"2026-01-05T00:00:00Z","fields":["email","name"],"provider":"hubspot"}]
//
// Grouped because a record sets all its attributes at once: keyed by attribute, the
// same provider and time were written once per attribute, a quarter of the bytes a
// new contact wrote.
func encodeSources(m map[string]attrSource) string {
	groups := map[attrSource][]string{}
	for field, src := range m {
		groups[src] = append(groups[src], field)
	}
	order := slices.SortedFunc(maps.Keys(groups), func(a, b attrSource) int {
		if c := strings.Compare(a.provider, b.provider); c != 0 {
			return c
		}
		return strings.Compare(a.at, b.at)
	})
	b := make([]byte, 0, 64*len(order)+16*len(m)+2)
	b = append(b, '[')
	for i, src := range order {
		if i > 0 {
			b = append(b, ',')
		}
		fields := groups[src]
		slices.Sort(fields)
		b = appendSourceGroup(b, src, fields)
	}
	return string(append(b, ']'))
}

// appendSourceGroup appends one group of encodeSources; its keys in the order jsonx
// would sort them.
func appendSourceGroup(b []byte, src attrSource, fields []string) []byte {
	b = append(b, `{"at":`...)
	b = jsonxAppendString(b, src.at)
	b = append(b, `,"fields":[`...)
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonxAppendString(b, f)
	}
	b = append(b, `],"provider":`...)
	b = jsonxAppendString(b, src.provider)
	return append(b, '}')
}

// decodeSources reads the sources column in either of its forms: the groups of
// encodeSources, or an object of attribute → {"provider", "at"}, which rows written
// before the groups still hold until survivorship next changes them.
func decodeSources(text string) (map[string]attrSource, error) {
	t := strings.TrimSpace(text)
	if strings.HasPrefix(t, "[") {
		var groups []struct {
			Provider string   `json:"provider"`
			At       string   `json:"at"`
			Fields   []string `json:"fields"`
		}
		if err := json.Unmarshal([]byte(t), &groups); err != nil {
			return nil, fmt.Errorf("sources: %w", err)
		}
		m := map[string]attrSource{}
		for _, g := range groups {
			for _, f := range g.Fields {
				m[f] = attrSource{provider: g.Provider, at: g.At}
			}
		}
		return m, nil
	}
	var byField map[string]struct {
		Provider string `json:"provider"`
		At       string `json:"at"`
	}
	if err := json.Unmarshal([]byte(t), &byField); err != nil {
		return nil, fmt.Errorf("sources: %w", err)
	}
	m := make(map[string]attrSource, len(byField))
	for f, s := range byField {
		m[f] = attrSource{provider: s.Provider, at: s.At}
	}
	return m, nil
}
