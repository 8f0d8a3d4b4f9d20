package retrieve

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/spec"
)

// TestBodyPlan: a JSON body streams only when the envelope answers every expression
// that reads the body exactly as the whole document would.
func TestBodyPlan(t *testing.T) {
	cases := []struct {
		name       string
		records    string
		pagination string
		rules      string // interaction type response_rules, YAML flow
		connRules  string
		response   string
		path       []string // nil: read whole
		keep       bool
	}{
		{name: "plain path", records: ".data[]", path: []string{"data"}},
		{name: "the document is the list", records: ".[]", path: []string{}},
		{name: "deep path; pagination reads a sibling", records: ".data.search.nodes[]",
			pagination: "{type: cursor, next: .data.search.pageInfo.endCursor, has_more: .data.search.pageInfo.hasNextPage}",
			path:       []string{"data", "search", "nodes"}},
		{name: "rules read other keys", records: ".data[]", rules: `[{body: '.error == "busy"', action: retry}]`, connRules: "[{body: .errors, action: fail}]", path: []string{"data"}},
		{name: "headers and the page number do not read the body", records: ".data[]",
			pagination: `{type: cursor, next: '$headers["x-next"]', stop: '$page > 3'}`, path: []string{"data"}},
		{name: "records is not a plain path", records: ".data[] | select(.active)"},
		{name: "records keeps the list", records: ".data"},
		{name: "pagination reads the records (Stripe's last id)", records: ".data[]", pagination: "{type: cursor, param: starting_after, next: '.data[-1].id'}"},
		{name: "pagination reads the object around the records", records: ".results.items[]", pagination: "{type: cursor, next: .results}"},
		{name: "pagination reads the whole document", records: ".data[]", pagination: "{type: cursor, next: '.next', stop: 'has(\"more\") | not'}"},
		{name: "a rule reads the records", records: ".data[]", rules: "[{body: '.data | length == 0', action: ignore}]"},
		{name: "a connector rule reads the whole document", records: ".data[]", connRules: "[{body: 'length == 0', action: ignore}]"},
		{name: "$records is kept, and the body read whole", records: ".data[]", pagination: "{type: cursor, next: .next, stop: '$records | length < 10'}", keep: true},
		{name: "JSON Lines always streams", records: ".", response: "{format: jsonl}"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := "provider: p\nbase_url: https://api.example.com\n"
			if tc.connRules != "" {
				src += "response_rules: " + tc.connRules + "\n"
			}
			src += fmt.Sprintf("interaction_types:\n  items:\n    kind: item\n    request: {path: /items}\n    records: %q\n    id: .id\n", tc.records)
			for k, v := range map[string]string{"pagination": tc.pagination, "response_rules": tc.rules, "response": tc.response} {
				if v != "" {
					src += fmt.Sprintf("    %s: %s\n", k, v)
				}
			}
			conn, err := spec.Load("p.yaml", []byte(src))
			require.NoError(t, err, src)
			cl, err := NewClient(context.Background(), Source{Connector: conn}, Options{})
			require.NoError(t, err)
			p := cl.newBodyPlan(conn.InteractionTypes.Map["items"])
			assert.Equal(t, tc.path, p.path)
			assert.Equal(t, tc.keep, p.keep)
			assert.Equal(t, tc.response != "" || tc.path != nil, p.streams())
		})
	}
}
