package spec_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/intakehq/intake/engine/spec"
)

const aliasHead = "provider: helpdesk\nbase_url: https://api.helpdesk.example\n"

// aliasType is a valid interaction type that uses no alias.
const aliasType = "interaction_types:\n  tickets:\n    kind: ticket\n    request: {path: /tickets}\n    records: .tickets[]\n    id: .id\n"

// Found by FuzzLoadSpec: the loader expands every alias, so an alias inside the value
// it names never ended (the input hung), and nested aliases ("billion laughs", a few
// hundred bytes) took time and memory exponential in their depth. Both are refused
// before anything is expanded.
func TestAliasesAreBounded(t *testing.T) {
	shared := func(n, items int) string {
		// One list of items strings shared by n aliases: each adds items values (the
		// list and its items, less the alias it replaces).
		var b strings.Builder
		b.WriteString(aliasHead + aliasType + "customizable: &s [" + strings.TrimSuffix(strings.Repeat("x, ", items), ", ") + "]\n")
		for i := range n {
			fmt.Fprintf(&b, "title%d: *s\n", i)
		}
		return b.String()
	}
	cases := []struct {
		name, yaml string
		want       string // "" when no alias error is expected
	}{
		{"alias to the map holding it", aliasHead + "interaction_types: &a {t: *a}\n",
			"fuzz.yaml:3:27: alias *a is inside the value it names (&a, line 3); a value cannot contain itself"},
		{"alias to a list holding it", aliasHead + aliasType + "customizable: &a [x, *a]\n",
			"fuzz.yaml:9:22: alias *a is inside the value it names (&a, line 9); a value cannot contain itself"},
		{"alias deep inside its value", aliasHead + aliasType + "customizable: &a\n  - &b [y, [*a]]\n",
			"fuzz.yaml:10:13: alias *a is inside the value it names (&a, line 9); a value cannot contain itself"},
		{"billion laughs", aliasHead + aliasType + aliasBomb(9),
			"fuzz.yaml:13:10: aliases add more than 10000 values to the file once expanded (nested aliases multiply); share fewer values"},
		{"many aliases of one big value", shared(101, 100),
			"fuzz.yaml:110:11: aliases add more than 10000 values to the file once expanded (nested aliases multiply); share fewer values"},
		{"up to the limit", shared(100, 100), ""},
		{"alias of an anchor defined earlier at the same level", aliasHead + aliasType + "title: &a x\ndescription: *a\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := spec.Load("fuzz.yaml", []byte(tc.yaml))
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
			got := ""
			if err != nil && strings.Contains(err.Error(), "alias") {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// An anchor shared between interaction types is the intended use: it loads, and each
// type has its own copy of the value.
func TestSharedAnchorsLoad(t *testing.T) {
	y := aliasHead + `interaction_types:
  tickets:
    kind: ticket
    request: &req {path: /tickets, params: {per_page: "100"}}
    records: .tickets[]
    id: .id
    fields: &fields {subject: .subject, status: .status}
  archived:
    kind: ticket
    request: *req
    records: .tickets[]
    id: .id
    fields: *fields
`
	c, err := spec.Load("shared.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := c.InteractionTypes.Map["tickets"], c.InteractionTypes.Map["archived"]; a.Fields.Len() != 2 || b.Fields.Len() != 2 {
		t.Errorf("fields: %d and %d, want 2 each", a.Fields.Len(), b.Fields.Len())
	}
}

// An override file is held to the same bounds as a spec.
func TestOverrideAliasesAreBounded(t *testing.T) {
	for name, y := range map[string]string{
		"cycle":          "customer: acme\nprovider: crm\nsync_every: 1h\nkinds: &k {x: *k}\n",
		"billion laughs": "customer: acme\nprovider: crm\n" + aliasBomb(9),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := spec.ParseOverride("acme.yaml", []byte(y))
			if err == nil || !strings.HasPrefix(err.Error(), "acme.yaml:") || !strings.Contains(err.Error(), "alias") {
				t.Errorf("got %v, want an alias error located in acme.yaml", err)
			}
		})
	}
}

// Deeply nested flow collections are a syntax error yaml.v3 reports at once, but
// goccy/go-yaml, which re-reads a file with a syntax error to place it precisely,
// took time quadratic in the nesting (20,000 "[" held the loader for half a minute).
// Past a nesting no spec reaches, yaml.v3's position is used.
func TestDeepFlowNestingIsBounded(t *testing.T) {
	for _, y := range []string{
		strings.Repeat("[", 20000),
		"provider: p\nkinds: " + strings.Repeat("{a: ", 20000),
		"provider: p\nkinds: " + strings.Repeat("[{a: ", 5000) + "]]",
	} {
		start := time.Now()
		_, err := spec.Load("deep.yaml", []byte(y))
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%.20s... took %v", y, d)
		}
		if err == nil || !strings.HasPrefix(err.Error(), "deep.yaml:") || !strings.Contains(err.Error(), "invalid YAML") {
			t.Errorf("%.20s...: got %v, want an invalid YAML error", y, err)
		}
	}
}
