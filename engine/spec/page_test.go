package spec_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/intakehq/intake/engine/expr"
	"github.com/intakehq/intake/engine/spec"
)

// pageSpec uses every pagination placement and body format.
const pageSpec = `provider: shapes
base_url: https://api.example.com
interaction_types:
  offsets:
    kind: item
    request: {path: /items}
    records: .data[]
    id: .id
    pagination: {type: offset, in: header, param: X-Offset, limit_param: X-Limit, limit: 100, total: '$headers["x-total-count"]'}
  search:
    kind: item
    request:
      method: POST
      path: /search
      body: {query: {field: updated_at}}
    records: .data[]
    id: .id
    pagination: {type: cursor, in: body, param: pagination.starting_after, limit_param: pagination.per_page, limit: 50, next: .pages.next.starting_after, has_more: '.pages.next != null'}
  templated:
    kind: item
    request:
      method: POST
      path: /search
      body: {after: '${ .page.token }'}
    records: .data[]
    id: .id
    pagination: {type: cursor, in: body, next: .next}
  detected:
    kind: item
    request: {path: /things}
    records: .results[]
    id: .id
    pagination: {type: auto, limit_param: limit, limit: 100, stop: '$page >= 50'}
  export:
    kind: item
    request: {path: /export.csv}
    records: .
    id: .id
    response: {format: csv}
    pagination: {type: page, limit_param: per_page, limit: 1000, stop_on_short_page: true, has_more: '$headers["x-more"] == "1"'}
  lines:
    kind: item
    request: {path: /export.jsonl}
    records: .
    id: .id
    response: {format: jsonl}
  plain:
    kind: item
    request: {path: /plain}
    records: .[]
    id: .id
    pagination: {type: cursor, next: .next}
`

func TestPaginationAndResponseDefaults(t *testing.T) {
	c, err := spec.Load("shapes.yaml", []byte(pageSpec))
	if err != nil {
		t.Fatal(err)
	}
	get := func(n string) *spec.InteractionType { return c.InteractionTypes.Map[n] }
	for name, want := range map[string]string{"offsets": "header", "search": "body", "templated": "body", "detected": "query", "export": "query", "lines": "", "plain": "query"} {
		if got := get(name).Pagination.In; got != want {
			t.Errorf("%s: in = %q, want %q", name, got, want)
		}
	}
	if got := get("templated").Pagination.Param; got != "" {
		t.Errorf("templated: param = %q: a template places the token, so no default", got)
	}
	if got := get("plain").Pagination.Param; got != "cursor" {
		t.Errorf("plain: param = %q, want the default cursor", got)
	}
	for name, want := range map[string]string{"offsets": "json", "export": "csv", "lines": "jsonl"} {
		if got := get(name).Format(); got != want {
			t.Errorf("%s: format = %q, want %q", name, got, want)
		}
	}
	if got := get("offsets").Response; got != nil {
		t.Errorf("offsets: response = %+v, want nil (json)", got)
	}
	csv := get("export").Response.CSV
	if csv == nil || csv.Delimiter != "," || csv.Comma() != ',' || !csv.HasHeader() || csv.Encoding != "utf-8" {
		t.Errorf("export: csv defaults = %+v", csv)
	}
	// Pagination expressions see $headers, $records and $page.
	v, err := get("offsets").Pagination.Total.FirstVars(context.Background(), nil, expr.Vars{"$headers": map[string]any{"x-total-count": "7"}})
	if err != nil || v != "7" {
		t.Errorf("total with $headers = %v, %v", v, err)
	}
	stop, err := get("detected").Pagination.Stop.TruthyVars(context.Background(), nil, expr.Vars{"$page": 50})
	if err != nil || !stop {
		t.Errorf("stop with $page = %v, %v", stop, err)
	}
	if !reflect.DeepEqual(spec.PageVars, []string{"$headers", "$records", "$page"}) {
		t.Errorf("PageVars = %v", spec.PageVars)
	}
}

// A provider can let customers set the CSV options of their own exports.
func TestCSVOptionsOverridable(t *testing.T) {
	base, err := spec.Load("exports.yaml", []byte(`provider: exports
base_url: https://files.example
customizable: [interaction_types.*.response.csv]
interaction_types:
  rows:
    kind: item
    request: {path: /export.csv}
    records: .
    id: .id
    response: {format: csv}
`))
	if err != nil {
		t.Fatal(err)
	}
	ov, err := spec.ParseOverride("acme.yaml", []byte("customer: acme\nprovider: exports\ninteraction_types:\n  rows:\n    response:\n      csv: {delimiter: ';', encoding: windows-1252}\n"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := spec.Apply(base, ov)
	if err != nil {
		t.Fatal(err)
	}
	got := l.Connector.InteractionTypes.Map["rows"].Response
	if got.Format != "csv" || got.CSV.Delimiter != ";" || got.CSV.Encoding != "windows-1252" || !got.CSV.HasHeader() {
		t.Errorf("effective response = %+v, csv %+v", got, got.CSV)
	}
	// Without the provider's leave, the format is the provider's to say.
	ov, err = spec.ParseOverride("acme.yaml", []byte("customer: acme\nprovider: exports\ninteraction_types:\n  rows:\n    response: {format: jsonl}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := spec.Apply(base, ov); err == nil {
		t.Error("an override changed response.format, which the provider does not allow")
	}
}

func TestMatchEndpoint(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		want          bool
	}{
		{"/incremental", "/incremental/tickets/cursor.json", true},
		{"/incremental", "/incremental.json", true},
		{"/incremental", "/incremental", true},
		{"/incremental/", "/incremental/users", true},
		{"/incremental", "/tickets/1/comments.json", false},
		{"/incremental", "/incrementals/x", false},
		{"/crm/v3/objects/*/search", "/crm/v3/objects/contacts/search", true},
		{"/crm/v3/objects/*/search", "/crm/v3/objects/contacts", false},
		{"/crm/v3/objects/*/search", "/crm/v3/objects/deals/search/more", true},
		{"/tickets/*/comments", "/tickets/42/comments.json", true},
		{"/a/b", "/a", false},
	} {
		if got := spec.MatchEndpoint(tc.pattern, tc.path); got != tc.want {
			t.Errorf("MatchEndpoint(%q, %q) = %v, want %v", tc.pattern, tc.path, got, tc.want)
		}
	}
}
