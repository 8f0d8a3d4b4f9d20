package spec_test

import (
	"testing"

	"github.com/intakehq/intake/engine/spec"
)

// Found by FuzzLoadSpec, which checks that every error's line and column lie inside
// the file: an error inside a scalar was placed by adding a byte offset to a column
// that counts characters, so any non-ASCII text before it (in the scalar, or in the
// key of a quoted one) moved it right, past the end of the line; and goccy/go-yaml
// places some syntax errors after a multi-line scalar past the end of their line.
// Columns count characters, as yaml.v3's do.
func TestErrorColumnsCountCharacters(t *testing.T) {
	const head = "provider: p\nbase_url: http://x\ninteraction_types:\n  t:\n    kind: contact\n    request: {path: /t}\n    records: .[]\n    id: .id\n    fields:\n"
	cases := []struct{ name, yaml, want string }{
		{"plain scalar", head + "      name: .a + \"éé\" | bad)\n",
			`x.yaml:10:28: interaction_types.t.fields.name: invalid jq ".a + \"éé\" | bad)": unexpected token ")"`},
		{"double-quoted scalar with escapes, after a non-ASCII key", head + "      nämé: \".a + \\\"\\u00e9\\x41é\\\" | bad)\"\n",
			`x.yaml:10:40: interaction_types.t.fields.nämé: invalid jq ".a + \"éAé\" | bad)": unexpected token ")"`},
		{"single-quoted scalar", head + "      name: '.a + \"é''é\" | bad)'\n",
			`x.yaml:10:31: interaction_types.t.fields.name: invalid jq ".a + \"é'é\" | bad)": unexpected token ")"`},
		{"literal block", head + "      name: |\n        .a |\n        \"üü\" | bad)\n",
			`x.yaml:12:19: interaction_types.t.fields.name: invalid jq: unexpected token ")"`},
		{"template", "provider: p\nbase_url: http://x\ninteraction_types:\n  t:\n    kind: contact\n    request: {path: '/é/${ .x ) }'}\n    records: .[]\n    id: .id\n",
			`x.yaml:6:31: interaction_types.t.request.path: invalid jq " .x ) ": unexpected token ")"`},
		// The fuzzer's input, as found (testdata/fuzz/FuzzLoadSpec/afcbffdd2fd28b2b):
		// goccy placed the error at column 15 of a 9-character line.
		{"syntax error after a multi-line scalar", "provider: helpdesk\ncredentialope  token:\n    description: AP token.\nbase_urlp httpses:\n  ti://api.helpdesk.ùexample/v2\nauth:\n  type: bearer\ninteracvion_types:\n  ticket:\n    kind: ticket\n    request:\n      path: /tickets\n    records: \".tickets[] | select(.status == \\\"s:\nn\\\"\t | ]\"\n    id: .id/",
			`x.yaml:14:10: invalid YAML: value is not allowed in this context. map key-value is pre-defined`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := spec.Load("x.yaml", []byte(tc.yaml))
			if err == nil || err.Error() != tc.want {
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
}
