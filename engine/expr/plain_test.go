package expr

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
)

// TestPlainPathsAgreeWithJQ runs each expression twice, on the plain-path walk and on
// gojq, over inputs that reach objects, nulls, missing keys and values a path cannot
// index, and requires the same outputs and the same errors.
func TestPlainPathsAgreeWithJQ(t *testing.T) {
	exprs := []struct {
		src   string
		plain bool
	}{
		{".", true}, {".a", true}, {".a.b", true}, {`."a b".c`, true}, {`.["a"].b`, true}, {".a.b.c.d", true},
		{".a?", false}, {".a[]", false}, {".a[0]", false}, {".a | .b", false}, {".a // 1", false}, {".[1:2]", false},
	}
	inputs := []string{`null`, `{}`, `{"a":null}`, `{"a":{"b":1}}`, `{"a":{"b":{"c":{"d":[1,2]}}}}`, `{"a":"text"}`, `{"a":[1,2]}`,
		`{"a b":{"c":true}}`, `[1,2,3]`, `"s"`, `{"a":{"b":"x"}}`}
	ctx := context.Background()
	for _, e := range exprs {
		q := MustCompile(e.src)
		if _, plain := q.plainPath(); plain != e.plain {
			t.Fatalf("%s: plain = %v, want %v", e.src, plain, e.plain)
		}
		slow := *q
		slow.fast = nil
		for _, in := range inputs {
			var v any
			if err := json.Unmarshal([]byte(in), &v); err != nil {
				t.Fatal(err)
			}
			got, gotErr := q.All(ctx, v)
			want, wantErr := slow.All(ctx, v)
			if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
				t.Errorf("%s on %s: got %#v, %v; gojq gives %#v, %v", e.src, in, got, gotErr, want, wantErr)
			}
		}
	}
}

// plainPath reports whether the query is a plain path, .a.b or . itself, with no
// iteration, optional or slice: the form fast.go walks as a path.
func (q *Query) plainPath() ([]string, bool) {
	keys, rest, ok := indexPath(q.ast)
	return keys, ok && len(rest) == 0
}
