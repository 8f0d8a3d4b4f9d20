package retrieve_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// autoStyle is how one API shape pages: the body of page p (1-based, two records a
// page) given its records, whether it is the last, and the server's URL; and the
// Link header, if the shape uses one.
type autoStyle struct {
	name       string
	records    string // records jq; default .data[]
	method     string
	body       string // request body (YAML)
	pagination string // default {type: auto}
	page       func(recs any, p int, last bool, base string) map[string]any
	link       bool
	want       []string // request targets
	detail     string   // the trace's description of what was detected
}

// position reads which page a request asks for, whatever the shape carries it in:
// a page-ish query parameter, a token "tokN", or a GraphQL variable.
func position(r *http.Request) int {
	q := r.URL.Query()
	for _, k := range []string{"page", "cursor", "after", "pageToken", "starting_after", "p"} {
		if v := q.Get(k); v != "" {
			p, _ := strconv.Atoi(strings.TrimPrefix(v, "tok"))
			return p
		}
	}
	var gql struct{ Variables map[string]any }
	if json.Unmarshal(bodyOf(r), &gql) == nil {
		if after, ok := gql.Variables["after"].(string); ok {
			p, _ := strconv.Atoi(strings.TrimPrefix(after, "tok"))
			return p
		}
	}
	return 1
}

func TestPagesAuto(t *testing.T) {
	all := ids(5)
	tok := func(p int) string { return fmt.Sprintf("tok%d", p) }
	nextOr := func(last bool, v any) any {
		if last {
			return nil
		}
		return v
	}
	pages := func(param string, tokens bool) []string {
		out := []string{"/v1/items"}
		for p := 2; p <= 3; p++ {
			v := strconv.Itoa(p)
			if tokens {
				v = tok(p)
			}
			out = append(out, "/v1/items?"+param+"="+v)
		}
		return out
	}
	styles := []autoStyle{
		{
			name: "Link header", link: true,
			page: func(recs any, p int, last bool, base string) map[string]any { return map[string]any{"data": recs} },
			want: pages("p", false), detail: `link: following the Link header's rel="next"`,
		},
		{
			name: "next as an absolute URL",
			page: func(recs any, p int, last bool, base string) map[string]any {
				return map[string]any{"data": recs, "next": nextOr(last, fmt.Sprintf("%s/v1/items?p=%d", base, p+1))}
			},
			want: pages("p", false), detail: "next_url: the next page's URL from .next",
		},
		{
			name: "next_url as a path",
			page: func(recs any, p int, last bool, base string) map[string]any {
				return map[string]any{"data": recs, "next_url": nextOr(last, fmt.Sprintf("/v1/items?p=%d", p+1))}
			},
			want: pages("p", false), detail: "next_url: the next page's URL from .next_url",
		},
		{
			name: "links.next (JSON:API)",
			page: func(recs any, p int, last bool, base string) map[string]any {
				return map[string]any{"data": recs, "links": map[string]any{"self": "x", "next": nextOr(last, fmt.Sprintf("%s/v1/items?p=%d", base, p+1))}}
			},
			want: pages("p", false), detail: "next_url: the next page's URL from .links.next",
		},
		{
			name: "nextRecordsUrl (Salesforce)", records: ".records[]",
			page: func(recs any, p int, last bool, base string) map[string]any {
				b := map[string]any{"records": recs, "done": last, "totalSize": 5}
				if !last {
					b["nextRecordsUrl"] = fmt.Sprintf("/v1/items?p=%d", p+1)
				}
				return b
			},
			want: pages("p", false), detail: "next_url: the next page's URL from .nextRecordsUrl",
		},
		{
			name: "@odata.nextLink (Microsoft Graph)", records: ".value[]",
			page: func(recs any, p int, last bool, base string) map[string]any {
				b := map[string]any{"value": recs, "@odata.context": "x"}
				if !last {
					b["@odata.nextLink"] = fmt.Sprintf("%s/v1/items?p=%d", base, p+1)
				}
				return b
			},
			want: pages("p", false), detail: `next_url: the next page's URL from ."@odata.nextLink"`,
		},
		{
			name: "next_cursor",
			page: func(recs any, p int, last bool, base string) map[string]any {
				return map[string]any{"data": recs, "next_cursor": nextOr(last, tok(p+1))}
			},
			want: pages("cursor", true), detail: "cursor: the next token from .next_cursor, sent in query parameter cursor",
		},
		{
			name: "paging.next.after (HubSpot)", records: ".results[]",
			page: func(recs any, p int, last bool, base string) map[string]any {
				b := map[string]any{"results": recs}
				if !last {
					b["paging"] = map[string]any{"next": map[string]any{"after": tok(p + 1), "link": "?after=" + tok(p+1)}}
				}
				return b
			},
			want: pages("after", true), detail: "next_url: the next page's URL from .paging.next.link",
		},
		{
			name: "paging.next.after without a link", records: ".results[]",
			page: func(recs any, p int, last bool, base string) map[string]any {
				b := map[string]any{"results": recs}
				if !last {
					b["paging"] = map[string]any{"next": map[string]any{"after": tok(p + 1)}}
				}
				return b
			},
			want: pages("after", true), detail: "cursor: the next token from .paging.next.after, sent in query parameter after",
		},
		{
			name: "nextPageToken (Google)", records: ".items[]",
			page: func(recs any, p int, last bool, base string) map[string]any {
				return map[string]any{"items": recs, "nextPageToken": nextOr(last, tok(p+1))}
			},
			want: pages("pageToken", true), detail: "cursor: the next token from .nextPageToken, sent in query parameter pageToken",
		},
		{
			name: "meta.next_cursor",
			page: func(recs any, p int, last bool, base string) map[string]any {
				return map[string]any{"data": recs, "meta": map[string]any{"next_cursor": nextOr(last, tok(p+1))}}
			},
			want: pages("cursor", true), detail: "cursor: the next token from .meta.next_cursor, sent in query parameter cursor",
		},
		{
			name: "a cursor field under another parameter name", pagination: "{type: auto, param: starting_after}",
			page: func(recs any, p int, last bool, base string) map[string]any {
				return map[string]any{"data": recs, "next_cursor": nextOr(last, tok(p+1))}
			},
			want: pages("starting_after", true), detail: "cursor: the next token from .next_cursor, sent in query parameter starting_after",
		},
		{
			name: "GraphQL pageInfo, cursor in the body", records: ".data.search.nodes[]", method: "POST",
			body:       "{query: 'query($after: String) { search(first: 2, after: $after) { nodes { id } pageInfo { endCursor hasNextPage } } }', variables: {}}",
			pagination: "{type: auto, in: body, param: variables.after}",
			page: func(recs any, p int, last bool, base string) map[string]any {
				// The last page still has an end cursor; hasNextPage says it is the last.
				return map[string]any{"data": map[string]any{"search": map[string]any{"nodes": recs,
					"pageInfo": map[string]any{"endCursor": tok(p + 1), "hasNextPage": !last}}}}
			},
			want:   []string{"/v1/items", "/v1/items", "/v1/items"},
			detail: "cursor: the next token from .data.search.pageInfo.endCursor, sent in body at variables.after, while .data.search.pageInfo.hasNextPage is true",
		},
		{
			name: "page and total_pages",
			page: func(recs any, p int, last bool, base string) map[string]any {
				return map[string]any{"data": recs, "page": p, "total_pages": 3}
			},
			want: pages("page", false), detail: "page: page numbers from .page up to .total_pages, sent in query parameter page",
		},
		{
			name: "current_page and last_page as strings (Laravel)",
			page: func(recs any, p int, last bool, base string) map[string]any {
				return map[string]any{"data": recs, "current_page": strconv.Itoa(p), "last_page": "3"}
			},
			want: pages("page", false), detail: "page: page numbers from .current_page up to .last_page, sent in query parameter page",
		},
		{
			name: "next_page number",
			page: func(recs any, p int, last bool, base string) map[string]any {
				return map[string]any{"data": recs, "next_page": nextOr(last, p+1)}
			},
			want: pages("page", false), detail: "cursor: the next token from .next_page, sent in query parameter page",
		},
	}
	for _, st := range styles {
		t.Run(st.name, func(t *testing.T) {
			var api *fakeAPI
			api = newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
				p := position(r)
				from := min((p-1)*2, len(all))
				to := min(from+2, len(all))
				last := to >= len(all)
				if st.link && !last {
					w.Header().Set("Link", fmt.Sprintf(`<%s/v1/items?p=%d>; rel="next"`, api.URL, p+1))
				}
				writeJSON(w, http.StatusOK, st.page(rows(all[from:to]), p, last, api.URL))
			})
			pagination := st.pagination
			if pagination == "" {
				pagination = "{type: auto}"
			}
			c, it := load(t, specOpts{Records: st.records, Method: st.method, Body: st.body, Pagination: pagination})
			tr := &tracer{}
			got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{trace: tr}), it, nil)
			require.NoError(t, err)
			assert.Equal(t, all, got)
			assert.Equal(t, normAll(st.want), api.Targets())
			det := tr.kind("detect")
			require.Len(t, det, 1, "detection happens once, on the first page")
			assert.Equal(t, st.detail, det[0].Detail)
			assert.Equal(t, "items", det[0].Type)
		})
	}
}

func TestPagesAutoNothingToDetect(t *testing.T) {
	cases := []struct {
		name string
		body map[string]any
	}{
		{"no paging fields", map[string]any{"data": rows(ids(2))}},
		{"a next that is null on the first page", map[string]any{"data": rows(ids(2)), "next": nil}},
		{"a next that is no URL", map[string]any{"data": rows(ids(2)), "next": "soon"}},
		{"an empty cursor", map[string]any{"data": rows(ids(2)), "next_cursor": ""}},
		{"pageInfo without a next page", map[string]any{"data": rows(ids(2)), "pageInfo": map[string]any{"endCursor": nil, "hasNextPage": false}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
				writeJSON(w, http.StatusOK, tc.body)
			})
			c, it := load(t, specOpts{Pagination: "{type: auto, limit_param: limit, limit: 50}"})
			tr := &tracer{}
			got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{trace: tr}), it, nil)
			require.NoError(t, err)
			assert.Equal(t, ids(2), got)
			assert.Equal(t, []string{"/v1/items?limit=50"}, api.Targets())
			det := tr.kind("detect")
			require.Len(t, det, 1)
			assert.Equal(t, "none: the first response names no further page", det[0].Detail)
		})
	}
}

func TestPagesAutoRepeatedToken(t *testing.T) {
	api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
		if n > 2 {
			t.Errorf("request %d: the client kept following a repeated token", n)
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": rows(ids(n)[n-1:]), "next_cursor": "again"})
	})
	c, it := load(t, specOpts{Pagination: "{type: auto}"})
	got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "pagination repeated itself")
	assert.Equal(t, ids(2), got)
}
