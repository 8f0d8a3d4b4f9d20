package expr_test

import (
	"reflect"
	"testing"

	"github.com/intakehq/intake/engine/expr"
)

func TestReads(t *testing.T) {
	tests := []struct {
		src   string
		paths [][]string
		whole bool
		vars  []string
	}{
		{".has_more", [][]string{{"has_more"}}, false, nil},
		{".has_more | not", [][]string{{"has_more"}}, false, nil},
		{".has_more == false", [][]string{{"has_more"}}, false, nil},
		{".paging.next.after // empty", [][]string{{"paging", "next", "after"}}, false, nil},
		{`."@odata.nextLink"`, [][]string{{"@odata.nextLink"}}, false, nil},
		{`.["a"]["b"]`, [][]string{{"a", "b"}}, false, nil},
		{".a.b?.c[0].d", [][]string{{"a", "b", "c"}}, false, nil},
		{".page >= .total_pages", [][]string{{"page"}, {"total_pages"}}, false, nil},
		{"(.meta.total | tonumber)", [][]string{{"meta", "total"}}, false, nil},
		{"if .a then .b else empty end", [][]string{{"a"}, {"b"}}, false, nil},
		{"{a, b: .c, $x}", [][]string{{"a"}, {"c"}}, false, []string{"$x"}},
		{`"\(.a)-x"`, [][]string{{"a"}}, false, nil},
		{".a as $x | .b", [][]string{{"a"}, {"b"}}, false, nil},
		{`$headers["x-next"]`, nil, false, []string{"$headers"}},
		{"$records | length < 100", nil, false, []string{"$records"}},
		{"$page >= .total_pages", [][]string{{"total_pages"}}, false, []string{"$page"}},
		{"try .a catch .", [][]string{{"a"}}, false, nil},
		{"reduce .items[] as $i (0; . + $i)", [][]string{{"items"}}, false, []string{"$i"}},
		{"[.a, .b] | length", [][]string{{"a"}, {"b"}}, false, nil},
		{".a[.k]", [][]string{{"a"}, {"k"}}, false, nil},
		{"-(.n)", [][]string{{"n"}}, false, nil},
		{"null", nil, false, nil},
		{"empty", nil, false, nil},
		{`error("x")`, nil, false, nil},
		// The input itself, or in ways paths do not capture.
		{".", nil, true, nil},
		{"..", nil, true, nil},
		{".[]", nil, true, nil},
		{".[0]", nil, true, nil},
		{".[$k]", nil, true, []string{"$k"}},
		{"length", nil, true, nil},
		{"keys", nil, true, nil},
		{`has("data")`, nil, true, nil},
		{"select(.a)", [][]string{{"a"}}, true, nil},
		{"@base64", nil, true, nil},
		{".a = 1", [][]string{{"a"}}, true, nil},
		{".a |= 1", [][]string{{"a"}}, true, nil},
		{"def f: .x; f", nil, true, nil},
		{"getpath([\"a\"])", nil, true, nil},
		{"to_entries", nil, true, nil},
		{"error", nil, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			q, err := expr.Compile(tc.src, "$x", "$k", "$headers", "$records", "$page")
			if err != nil {
				t.Fatal(err)
			}
			r := q.Reads()
			if !reflect.DeepEqual(r.Paths, tc.paths) {
				t.Errorf("Paths = %q, want %q", r.Paths, tc.paths)
			}
			if r.Whole != tc.whole {
				t.Errorf("Whole = %v, want %v", r.Whole, tc.whole)
			}
			if !reflect.DeepEqual(r.Vars, tc.vars) {
				t.Errorf("Vars = %q, want %q", r.Vars, tc.vars)
			}
		})
	}
}

func TestIterPath(t *testing.T) {
	tests := []struct {
		src  string
		keys []string
		ok   bool
	}{
		{".data[]", []string{"data"}, true},
		{".results.items[]", []string{"results", "items"}, true},
		{".[]", []string{}, true},
		{`."@odata"[]`, []string{"@odata"}, true},
		{`.["a"].b[]`, []string{"a", "b"}, true},
		{".data", nil, false},
		{".data[]?", nil, false},
		{".data[0]", nil, false},
		{".data[].x", nil, false},
		{".data[] | .x", nil, false},
		{".data[]?.x", nil, false},
		{".a?.b[]", nil, false},
		{".a[0][]", nil, false},
		{".data[], .more[]", nil, false},
		{"[.data[]]", nil, false},
		{".data[] | select(.x)", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			keys, ok := expr.MustCompile(tc.src).IterPath()
			if ok != tc.ok || !reflect.DeepEqual(keys, tc.keys) {
				t.Errorf("IterPath() = %q, %v; want %q, %v", keys, ok, tc.keys, tc.ok)
			}
		})
	}
}

func TestVariables(t *testing.T) {
	q, err := expr.Compile(`$records | length < $page`, "$records", "$page", "$headers")
	if err != nil {
		t.Fatal(err)
	}
	got, err := q.TruthyVars(ctx, nil, expr.Vars{"$records": []any{1, 2}, "$page": 3})
	if err != nil || !got {
		t.Errorf("TruthyVars = %v, %v; want true", got, err)
	}
	// Unbound variables are null: the plain methods still run.
	v, err := q.First(ctx, nil)
	if err != nil || v != false {
		t.Errorf("First without vars = %v, %v; want false (0 < null is false)", v, err)
	}
	h, err := expr.Compile(`$headers["x-next"] // .next`, "$headers")
	if err != nil {
		t.Fatal(err)
	}
	v, err = h.FirstVars(ctx, map[string]any{"next": "b"}, expr.Vars{"$headers": map[string]any{"x-next": "a"}})
	if err != nil || v != "a" {
		t.Errorf("FirstVars = %v, %v; want a", v, err)
	}
	if _, err := expr.Compile(`$headers`); err == nil {
		t.Error("an undeclared variable compiled")
	}
}
