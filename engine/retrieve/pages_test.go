package retrieve_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/retrieve"
)

// offsetAPI serves all like a typical offset/limit API (GET /v1/items?offset=&limit=):
// offsets start at base, a page holds at most maxPage records whatever limit asks
// (0: no cap), and the body carries the total count (also as a string under meta) and
// has_more.
type offsetAPI struct {
	all               []string
	base, maxPage     int
	param, limitParam string
}

func (o offsetAPI) handler(t *testing.T) handlerFunc {
	param, limitParam := o.param, o.limitParam
	if param == "" {
		param = "offset"
	}
	if limitParam == "" {
		limitParam = "limit"
	}
	return func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/items" {
			t.Errorf("request %d: %s %s, want GET /v1/items", n, r.Method, r.URL.Path)
			writeJSON(w, http.StatusNotFound, map[string]any{"error": "not found"})
			return
		}
		q := r.URL.Query()
		off, err1 := strconv.Atoi(q.Get(param))
		lim, err2 := strconv.Atoi(q.Get(limitParam))
		if err1 != nil || err2 != nil || off < o.base || lim < 1 || lim > 1000 {
			t.Errorf("request %d: bad %s/%s in %s", n, param, limitParam, r.URL.RawQuery)
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid offset or limit"})
			return
		}
		if o.maxPage > 0 && lim > o.maxPage {
			lim = o.maxPage
		}
		from := min(off-o.base, len(o.all))
		to := min(from+lim, len(o.all))
		writeJSON(w, http.StatusOK, map[string]any{
			"data":     rows(o.all[from:to]),
			"total":    len(o.all),
			"meta":     map[string]any{"total": strconv.Itoa(len(o.all))},
			"has_more": to < len(o.all),
		})
	}
}

func TestPagesOffset(t *testing.T) {
	const limit3 = "type: offset, limit_param: limit, limit: 3"
	cases := []struct {
		name       string
		api        offsetAPI
		pagination string
		want       []string // request targets, in order
		wantN      int      // records expected, in id order; -1 for all
	}{
		{
			name: "empty first page", api: offsetAPI{all: ids(0)},
			pagination: "{" + limit3 + "}",
			want:       []string{"/v1/items?offset=0&limit=3"},
		},
		{
			name: "one short page then an empty one", api: offsetAPI{all: ids(2)},
			pagination: "{" + limit3 + "}",
			want:       []string{"/v1/items?offset=0&limit=3", "/v1/items?offset=2&limit=3"},
		},
		{
			name: "last page short", api: offsetAPI{all: ids(7)},
			pagination: "{" + limit3 + "}",
			want:       []string{"/v1/items?offset=0&limit=3", "/v1/items?offset=3&limit=3", "/v1/items?offset=6&limit=3", "/v1/items?offset=7&limit=3"},
		},
		{
			name: "last page exactly full: one more request comes back empty", api: offsetAPI{all: ids(6)},
			pagination: "{" + limit3 + "}",
			want:       []string{"/v1/items?offset=0&limit=3", "/v1/items?offset=3&limit=3", "/v1/items?offset=6&limit=3"},
		},
		{
			name: "stop_on_short_page", api: offsetAPI{all: ids(7)},
			pagination: "{" + limit3 + ", stop_on_short_page: true}",
			want:       []string{"/v1/items?offset=0&limit=3", "/v1/items?offset=3&limit=3", "/v1/items?offset=6&limit=3"},
		},
		{
			name: "stop_on_short_page, last page exactly full", api: offsetAPI{all: ids(6)},
			pagination: "{" + limit3 + ", stop_on_short_page: true}",
			want:       []string{"/v1/items?offset=0&limit=3", "/v1/items?offset=3&limit=3", "/v1/items?offset=6&limit=3"},
		},
		{
			name: "total", api: offsetAPI{all: ids(7)},
			pagination: "{" + limit3 + ", total: .total}",
			want:       []string{"/v1/items?offset=0&limit=3", "/v1/items?offset=3&limit=3", "/v1/items?offset=6&limit=3"},
		},
		{
			name: "total, last page exactly full: no empty request", api: offsetAPI{all: ids(6)},
			pagination: "{" + limit3 + ", total: .total}",
			want:       []string{"/v1/items?offset=0&limit=3", "/v1/items?offset=3&limit=3"},
		},
		{
			name: "total given as a string", api: offsetAPI{all: ids(5)},
			pagination: "{" + limit3 + ", total: .meta.total}",
			want:       []string{"/v1/items?offset=0&limit=3", "/v1/items?offset=3&limit=3"},
		},
		{
			name: "total zero", api: offsetAPI{all: ids(0)},
			pagination: "{" + limit3 + ", total: .total}",
			want:       []string{"/v1/items?offset=0&limit=3"},
		},
		{
			name: "stop expression", api: offsetAPI{all: ids(7)},
			pagination: "{" + limit3 + ", stop: '.has_more == false'}",
			want:       []string{"/v1/items?offset=0&limit=3", "/v1/items?offset=3&limit=3", "/v1/items?offset=6&limit=3"},
		},
		{
			name: "stop expression on a full last page", api: offsetAPI{all: ids(6)},
			pagination: "{" + limit3 + ", stop: '.has_more == false'}",
			want:       []string{"/v1/items?offset=0&limit=3", "/v1/items?offset=3&limit=3"},
		},
		{
			name:       "API caps the page size below limit: offset advances by what arrived",
			api:        offsetAPI{all: ids(75), maxPage: 30},
			pagination: "{type: offset, limit_param: limit, limit: 100}",
			want:       []string{"/v1/items?offset=0&limit=100", "/v1/items?offset=30&limit=100", "/v1/items?offset=60&limit=100", "/v1/items?offset=75&limit=100"},
		},
		{
			name:       "API caps the page size, with total",
			api:        offsetAPI{all: ids(75), maxPage: 30},
			pagination: "{type: offset, limit_param: limit, limit: 100, total: .total}",
			want:       []string{"/v1/items?offset=0&limit=100", "/v1/items?offset=30&limit=100", "/v1/items?offset=60&limit=100"},
		},
		{
			name: "1-based offsets (start: 1)", api: offsetAPI{all: ids(7), base: 1},
			pagination: "{" + limit3 + ", start: 1}",
			want:       []string{"/v1/items?offset=1&limit=3", "/v1/items?offset=4&limit=3", "/v1/items?offset=7&limit=3", "/v1/items?offset=8&limit=3"},
		},
		{
			name: "1-based offsets with total: the last record is not lost", api: offsetAPI{all: ids(7), base: 1},
			pagination: "{" + limit3 + ", start: 1, total: .total}",
			want:       []string{"/v1/items?offset=1&limit=3", "/v1/items?offset=4&limit=3", "/v1/items?offset=7&limit=3"},
		},
		{
			name: "custom parameter names", api: offsetAPI{all: ids(4), param: "start", limitParam: "count"},
			pagination: "{type: offset, param: start, limit_param: count, limit: 3, stop_on_short_page: true}",
			want:       []string{"/v1/items?start=0&count=3", "/v1/items?start=3&count=3"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newAPI(t, wantHeaderKey, tc.api.handler(t))
			c, it := load(t, specOpts{Pagination: tc.pagination})
			got, pages, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
			require.NoError(t, err)
			assert.Equal(t, tc.api.all, got, "records")
			assert.Equal(t, normAll(tc.want), api.Targets(), "requests")
			assert.Equal(t, seq(len(tc.want)), pageNumbers(pages))
		})
	}
}

// pageAPI serves all like a page-number API (GET /v1/items?page=&per_page=) whose first
// page is base; the body is {items, total_count, total_pages, next_page}.
type pageAPI struct {
	all  []string
	base int
}

func (p pageAPI) handler(t *testing.T) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		q := r.URL.Query()
		page, err1 := strconv.Atoi(q.Get("page"))
		per, err2 := strconv.Atoi(q.Get("per_page"))
		if r.URL.Path != "/v1/items" || err1 != nil || err2 != nil || page < p.base || per < 1 {
			t.Errorf("request %d: bad request %s", n, r.URL)
			writeJSON(w, http.StatusBadRequest, map[string]any{"message": "bad page"})
			return
		}
		from := min((page-p.base)*per, len(p.all))
		to := min(from+per, len(p.all))
		var next any
		if to < len(p.all) {
			next = page + 1
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"items":       rows(p.all[from:to]),
			"total_count": len(p.all),
			"total_pages": (len(p.all) + per - 1) / per,
			"page":        page,
			"next_page":   next,
		})
	}
}

func TestPagesPageNumber(t *testing.T) {
	const per3 = "type: page, limit_param: per_page, limit: 3"
	cases := []struct {
		name       string
		api        pageAPI
		pagination string
		params     string
		want       []string
	}{
		{
			name: "empty first page", api: pageAPI{all: ids(0), base: 1},
			pagination: "{" + per3 + "}",
			want:       []string{"/v1/items?page=1&per_page=3"},
		},
		{
			name: "pages start at 1 by default", api: pageAPI{all: ids(7), base: 1},
			pagination: "{" + per3 + "}",
			want:       []string{"/v1/items?page=1&per_page=3", "/v1/items?page=2&per_page=3", "/v1/items?page=3&per_page=3", "/v1/items?page=4&per_page=3"},
		},
		{
			name: "last page exactly full: one more request comes back empty", api: pageAPI{all: ids(6), base: 1},
			pagination: "{" + per3 + "}",
			want:       []string{"/v1/items?page=1&per_page=3", "/v1/items?page=2&per_page=3", "/v1/items?page=3&per_page=3"},
		},
		{
			name: "pages start at 0 (start: 0)", api: pageAPI{all: ids(7), base: 0},
			pagination: "{" + per3 + ", start: 0}",
			want:       []string{"/v1/items?page=0&per_page=3", "/v1/items?page=1&per_page=3", "/v1/items?page=2&per_page=3", "/v1/items?page=3&per_page=3"},
		},
		{
			name: "stop_on_short_page", api: pageAPI{all: ids(7), base: 1},
			pagination: "{" + per3 + ", stop_on_short_page: true}",
			want:       []string{"/v1/items?page=1&per_page=3", "/v1/items?page=2&per_page=3", "/v1/items?page=3&per_page=3"},
		},
		{
			name: "total", api: pageAPI{all: ids(7), base: 1},
			pagination: "{" + per3 + ", total: .total_count}",
			want:       []string{"/v1/items?page=1&per_page=3", "/v1/items?page=2&per_page=3", "/v1/items?page=3&per_page=3"},
		},
		{
			name: "total, last page exactly full", api: pageAPI{all: ids(6), base: 1},
			pagination: "{" + per3 + ", total: .total_count}",
			want:       []string{"/v1/items?page=1&per_page=3", "/v1/items?page=2&per_page=3"},
		},
		{
			name: "stop expression", api: pageAPI{all: ids(6), base: 1},
			pagination: "{" + per3 + ", stop: '.next_page == null'}",
			want:       []string{"/v1/items?page=1&per_page=3", "/v1/items?page=2&per_page=3"},
		},
		{
			name: "stop expression comparing page numbers", api: pageAPI{all: ids(8), base: 1},
			pagination: "{" + per3 + ", stop: '.page >= .total_pages'}",
			want:       []string{"/v1/items?page=1&per_page=3", "/v1/items?page=2&per_page=3", "/v1/items?page=3&per_page=3"},
		},
		{
			name: "page number, offset and limit in params", api: pageAPI{all: ids(7), base: 1},
			pagination: "{" + per3 + ", stop_on_short_page: true}",
			params:     "{skip: '${ .page.offset }', label: 'p${ .page.number }of${ .page.limit }'}",
			want: []string{
				"/v1/items?page=1&per_page=3&skip=0&label=p1of3",
				"/v1/items?page=2&per_page=3&skip=3&label=p2of3",
				"/v1/items?page=3&per_page=3&skip=6&label=p3of3",
			},
		},
		{
			name: "page offset in params with start: 0", api: pageAPI{all: ids(5), base: 0},
			pagination: "{" + per3 + ", start: 0, stop_on_short_page: true}",
			params:     "{skip: '${ .page.offset }'}",
			want:       []string{"/v1/items?page=0&per_page=3&skip=0", "/v1/items?page=1&per_page=3&skip=3"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newAPI(t, wantHeaderKey, tc.api.handler(t))
			c, it := load(t, specOpts{Pagination: tc.pagination, Params: tc.params, Records: ".items[]"})
			got, pages, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
			require.NoError(t, err)
			assert.Equal(t, tc.api.all, got, "records")
			assert.Equal(t, normAll(tc.want), api.Targets(), "requests")
			assert.Equal(t, seq(len(tc.want)), pageNumbers(pages))
		})
	}
}

func TestPagesOffsetInParams(t *testing.T) {
	// An API that wants a range rather than offset/limit still gets the offset param
	// the paginator owns; the range comes from ${ .page.offset } and ${ .page.limit }.
	all := ids(5)
	api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
		var from, to int
		if _, err := fmt.Sscanf(r.URL.Query().Get("range"), "%d-%d", &from, &to); err != nil {
			t.Errorf("request %d: range = %q", n, r.URL.Query().Get("range"))
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "range"})
			return
		}
		from, to = min(from, len(all)), min(to+1, len(all))
		writeJSON(w, http.StatusOK, map[string]any{"data": rows(all[from:to])})
	})
	c, it := load(t, specOpts{
		Pagination: "{type: offset, limit_param: limit, limit: 2}",
		Params:     "{range: '${ .page.offset }-${ .page.offset + .page.limit - 1 }'}",
	})
	got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
	require.NoError(t, err)
	assert.Equal(t, all, got)
	assert.Equal(t, normAll([]string{
		"/v1/items?offset=0&limit=2&range=0-1",
		"/v1/items?offset=2&limit=2&range=2-3",
		"/v1/items?offset=4&limit=2&range=4-5",
		"/v1/items?offset=5&limit=2&range=5-6",
	}), api.Targets())
}

// cursorToken is an opaque-looking token for the position after offset off.
func cursorToken(off int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"after":%d}`, off)))
}

// cursorAPI serves all like a cursor API: GET /v1/items?limit=&cursor= returns
// {data, next_cursor, has_more}. end says how the last page ends: "null" (default),
// "empty" (""), "missing" (no key), "always" (a cursor anyway; has_more says false).
type cursorAPI struct {
	all   []string
	param string
	end   string
}

func (c cursorAPI) handler(t *testing.T) handlerFunc {
	param := c.param
	if param == "" {
		param = "cursor"
	}
	return func(w http.ResponseWriter, r *http.Request, n int) {
		q := r.URL.Query()
		lim, err := strconv.Atoi(q.Get("limit"))
		if err != nil || lim < 1 {
			t.Errorf("request %d: limit = %q", n, q.Get("limit"))
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "limit"})
			return
		}
		from := 0
		if vs, ok := q[param]; ok {
			if n == 1 {
				t.Errorf("first request carries %s=%q", param, vs)
			}
			raw, err := base64.RawURLEncoding.DecodeString(vs[0])
			var tok struct{ After *int }
			if err != nil || json.Unmarshal(raw, &tok) != nil || tok.After == nil {
				t.Errorf("request %d: invalid cursor %q", n, vs[0])
				writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid cursor"})
				return
			}
			from = min(*tok.After, len(c.all))
		} else if n > 1 {
			t.Errorf("request %d carries no %s", n, param)
		}
		to := min(from+lim, len(c.all))
		body := map[string]any{"data": rows(c.all[from:to]), "has_more": to < len(c.all)}
		switch {
		case to < len(c.all) || c.end == "always":
			body["next_cursor"] = cursorToken(to)
		case c.end == "empty":
			body["next_cursor"] = ""
		case c.end == "missing":
		default:
			body["next_cursor"] = nil
		}
		writeJSON(w, http.StatusOK, body)
	}
}

func TestPagesCursor(t *testing.T) {
	first := "/v1/items?limit=3"
	after := func(off int) string { return "/v1/items?limit=3&cursor=" + cursorToken(off) }
	cases := []struct {
		name       string
		api        cursorAPI
		pagination string
		want       []string
	}{
		{
			name: "empty first page", api: cursorAPI{all: ids(0)},
			want: []string{first},
		},
		{
			name: "single page", api: cursorAPI{all: ids(2)},
			want: []string{first},
		},
		{
			name: "several pages", api: cursorAPI{all: ids(7)},
			want: []string{first, after(3), after(6)},
		},
		{
			name: "last page exactly full, next is null", api: cursorAPI{all: ids(6)},
			want: []string{first, after(3)},
		},
		{
			name: "next is an empty string at the end", api: cursorAPI{all: ids(5), end: "empty"},
			want: []string{first, after(3)},
		},
		{
			name: "next is missing at the end", api: cursorAPI{all: ids(5), end: "missing"},
			want: []string{first, after(3)},
		},
		{
			name: "stop expression ends paging although a cursor is given", api: cursorAPI{all: ids(6), end: "always"},
			pagination: "{type: cursor, next: .next_cursor, limit_param: limit, limit: 3, stop: '.has_more == false'}",
			want:       []string{first, after(3)},
		},
		{
			name: "custom param", api: cursorAPI{all: ids(4), param: "page_token"},
			pagination: "{type: cursor, param: page_token, next: .next_cursor, limit_param: limit, limit: 3}",
			want:       []string{first, "/v1/items?limit=3&page_token=" + cursorToken(3)},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pagination := tc.pagination
			if pagination == "" {
				pagination = "{type: cursor, next: .next_cursor, limit_param: limit, limit: 3}"
			}
			api := newAPI(t, wantHeaderKey, tc.api.handler(t))
			c, it := load(t, specOpts{Pagination: pagination})
			got, pages, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
			require.NoError(t, err)
			assert.Equal(t, tc.api.all, got, "records")
			assert.Equal(t, normAll(tc.want), api.Targets(), "requests")
			assert.Equal(t, seq(len(tc.want)), pageNumbers(pages))
		})
	}
}

func TestPagesCursorStripeStyle(t *testing.T) {
	// Stripe pages with starting_after=<last id> and says has_more.
	all := ids(7)
	api := newAPI(t, wantBearer, func(w http.ResponseWriter, r *http.Request, n int) {
		q := r.URL.Query()
		if q.Get("limit") != "3" {
			t.Errorf("request %d: limit = %q", n, q.Get("limit"))
		}
		from := 0
		if sa := q.Get("starting_after"); sa != "" {
			from = -1
			for i, id := range all {
				if id == sa {
					from = i + 1
				}
			}
			if from < 0 {
				writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"message": "No such object: " + sa}})
				return
			}
		}
		to := min(from+3, len(all))
		writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": rows(all[from:to]), "has_more": to < len(all)})
	})
	c, it := load(t, specOpts{
		Auth:       "{type: bearer}",
		Pagination: `{type: cursor, param: starting_after, next: '.data[-1].id', stop: '.has_more | not', limit_param: limit, limit: 3}`,
	})
	got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{creds: map[string]any{"token": token}}), it, nil)
	require.NoError(t, err)
	assert.Equal(t, all, got)
	assert.Equal(t, normAll([]string{"/v1/items?limit=3", "/v1/items?limit=3&starting_after=r03", "/v1/items?limit=3&starting_after=r06"}), api.Targets())
}

func TestPagesCursorNumericToken(t *testing.T) {
	all := ids(5)
	api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
		from := 0
		if s := r.URL.Query().Get("after"); s != "" {
			from, _ = strconv.Atoi(s)
		}
		to := min(from+2, len(all))
		var next any
		if to < len(all) {
			next = to
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": rows(all[from:to]), "next": next})
	})
	c, it := load(t, specOpts{Pagination: "{type: cursor, param: after, next: .next}"})
	got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
	require.NoError(t, err)
	assert.Equal(t, all, got)
	assert.Equal(t, []string{"/v1/items", "/v1/items?after=2", "/v1/items?after=4"}, api.Targets())
}

func TestPagesCursorRepeated(t *testing.T) {
	// A buggy API that hands out the same token again must not be followed forever.
	cases := []struct {
		name   string
		tokens []any // next token of each page
		want   []string
	}{
		{"same token twice in a row", []any{"abc", "abc", "abc"}, []string{"/v1/items", "/v1/items?cursor=abc"}},
		{"token comes back later", []any{"a", "b", "a", "b"}, []string{"/v1/items", "/v1/items?cursor=a", "/v1/items?cursor=b"}},
		{"numeric token repeats", []any{7, 7}, []string{"/v1/items", "/v1/items?cursor=7"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			all := ids(len(tc.tokens))
			api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
				if n > len(tc.tokens) {
					t.Errorf("request %d: the client kept following a repeated token", n)
					writeJSON(w, http.StatusTooManyRequests, map[string]any{})
					return
				}
				writeJSON(w, http.StatusOK, map[string]any{"data": rows(all[n-1 : n]), "next_cursor": tc.tokens[n-1]})
			})
			c, it := load(t, specOpts{Pagination: "{type: cursor, next: .next_cursor}"})
			got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
			require.Error(t, err)
			assert.ErrorIs(t, err, retrieve.ErrRepeatedToken)
			assert.Equal(t, all[:len(tc.want)], got, "every page fetched is delivered")
			assert.Equal(t, tc.want, api.Targets())
		})
	}
}

func TestPagesMaxPages(t *testing.T) {
	endless := func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, http.StatusOK, map[string]any{
			"data":        rows([]string{fmt.Sprintf("r%02d", n)}),
			"next_cursor": fmt.Sprintf("c%d", n),
			"next":        fmt.Sprintf("/v1/items?page=%d", n+1),
		})
	}
	cases := []struct {
		name       string
		pagination string
	}{
		{"cursor", "{type: cursor, next: .next_cursor, max_pages: 3}"},
		{"next_url", "{type: next_url, next: .next, max_pages: 3}"},
		{"offset", "{type: offset, limit_param: limit, limit: 1, max_pages: 3}"},
		{"page", "{type: page, max_pages: 3}"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newAPI(t, wantHeaderKey, endless)
			c, it := load(t, specOpts{Pagination: tc.pagination})
			got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "max_pages (3)")
			assert.NotErrorIs(t, err, retrieve.ErrRepeatedToken)
			assert.Equal(t, ids(3), got)
			assert.Equal(t, 3, api.Count())
		})
	}

	t.Run("exactly max_pages pages is not an error", func(t *testing.T) {
		api := newAPI(t, wantHeaderKey, cursorAPI{all: ids(9)}.handler(t))
		c, it := load(t, specOpts{Pagination: "{type: cursor, next: .next_cursor, limit_param: limit, limit: 3, max_pages: 3}"})
		got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
		require.NoError(t, err)
		assert.Equal(t, ids(9), got)
		assert.Equal(t, 3, api.Count())
	})
}

// nextURLAPI serves all with the next page's URL in the body under paging.next, in the
// given form: "absolute", "root" (/v1/items?...), "relative" (items?...), "query"
// (?...). The last page has no next (null) or, when omitNext, no paging key at all.
type nextURLAPI struct {
	all      []string
	form     string
	omitNext bool
	srvURL   func() string
}

func (a nextURLAPI) handler(t *testing.T) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		q := r.URL.Query()
		if r.URL.Path != "/v1/items" {
			t.Errorf("request %d: path %s", n, r.URL.Path)
			writeJSON(w, http.StatusNotFound, map[string]any{"error": "not found"})
			return
		}
		lim, err := strconv.Atoi(q.Get("limit"))
		if err != nil {
			t.Errorf("request %d: limit = %q", n, q.Get("limit"))
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "limit"})
			return
		}
		from := 0
		if pt := q.Get("page_token"); pt != "" {
			from, err = strconv.Atoi(strings.TrimPrefix(pt, "pt_"))
			if err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]any{"error": "page_token"})
				return
			}
		}
		to := min(from+lim, len(a.all))
		body := map[string]any{"data": rows(a.all[from:to])}
		if to < len(a.all) {
			rel := fmt.Sprintf("page_token=pt_%d&limit=%d", to, lim)
			var next string
			switch a.form {
			case "absolute":
				next = a.srvURL() + "/v1/items?" + rel
			case "root":
				next = "/v1/items?" + rel
			case "relative":
				next = "items?" + rel
			case "query":
				next = "?" + rel
			default:
				t.Errorf("form %q", a.form)
			}
			body["paging"] = map[string]any{"next": next}
		} else if !a.omitNext {
			body["paging"] = map[string]any{"next": nil}
		}
		writeJSON(w, http.StatusOK, body)
	}
}

func TestPagesNextURL(t *testing.T) {
	cases := []struct {
		name     string
		api      nextURLAPI
		stop     string
		wantReqs []string
	}{
		{
			name: "empty first page", api: nextURLAPI{all: ids(0), form: "absolute"},
			wantReqs: []string{"/v1/items?limit=3"},
		},
		{
			name: "absolute next URLs", api: nextURLAPI{all: ids(7), form: "absolute"},
			wantReqs: []string{"/v1/items?limit=3", "/v1/items?limit=3&page_token=pt_3", "/v1/items?limit=3&page_token=pt_6"},
		},
		{
			name: "absolute next URLs, last page exactly full", api: nextURLAPI{all: ids(6), form: "absolute"},
			wantReqs: []string{"/v1/items?limit=3", "/v1/items?limit=3&page_token=pt_3"},
		},
		{
			name: "root-relative next URLs", api: nextURLAPI{all: ids(7), form: "root"},
			wantReqs: []string{"/v1/items?limit=3", "/v1/items?limit=3&page_token=pt_3", "/v1/items?limit=3&page_token=pt_6"},
		},
		{
			name: "path-relative next URLs", api: nextURLAPI{all: ids(5), form: "relative"},
			wantReqs: []string{"/v1/items?limit=3", "/v1/items?limit=3&page_token=pt_3"},
		},
		{
			name: "query-only next URLs", api: nextURLAPI{all: ids(5), form: "query"},
			wantReqs: []string{"/v1/items?limit=3", "/v1/items?limit=3&page_token=pt_3"},
		},
		{
			name: "next missing from the last page", api: nextURLAPI{all: ids(5), form: "root", omitNext: true},
			wantReqs: []string{"/v1/items?limit=3", "/v1/items?limit=3&page_token=pt_3"},
		},
		{
			name: "stop expression", api: nextURLAPI{all: ids(9), form: "root"},
			stop:     "'(.data | length) < 3 or .data[-1].id == \"r06\"'",
			wantReqs: []string{"/v1/items?limit=3", "/v1/items?limit=3&page_token=pt_3"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var api *fakeAPI
			tc.api.srvURL = func() string { return api.URL }
			api = newAPI(t, wantHeaderKey, tc.api.handler(t))
			pagination := "{type: next_url, next: .paging.next, limit_param: limit, limit: 3"
			if tc.stop != "" {
				pagination += ", stop: " + tc.stop
			}
			c, it := load(t, specOpts{Pagination: pagination + "}"})
			got, pages, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
			require.NoError(t, err)
			want := tc.api.all
			if tc.stop != "" {
				want = ids(6)
			}
			assert.Equal(t, want, got, "records")
			assert.Equal(t, normAll(tc.wantReqs), api.Targets(), "requests")
			assert.Equal(t, seq(len(tc.wantReqs)), pageNumbers(pages))
		})
	}
}

func TestPagesNextURLRepeated(t *testing.T) {
	cases := []struct {
		name  string
		nexts []string
		want  []string
	}{
		{"same next twice in a row", []string{"/v1/items?page=2", "/v1/items?page=2"}, []string{"/v1/items", "/v1/items?page=2"}},
		{"absolute and relative forms of the same URL", []string{"/v1/items?page=2", "{URL}/v1/items?page=2"}, []string{"/v1/items", "/v1/items?page=2"}},
		{"cycle back", []string{"?page=2", "?page=3", "?page=2"}, []string{"/v1/items", "/v1/items?page=2", "/v1/items?page=3"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var api *fakeAPI
			api = newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
				if n > len(tc.nexts) {
					t.Errorf("request %d: the client kept following a repeated next URL", n)
					writeJSON(w, http.StatusTooManyRequests, map[string]any{})
					return
				}
				next := strings.ReplaceAll(tc.nexts[n-1], "{URL}", api.URL)
				writeJSON(w, http.StatusOK, map[string]any{"data": rows(ids(n)[n-1:]), "next": next})
			})
			c, it := load(t, specOpts{Pagination: "{type: next_url, next: .next}"})
			got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
			require.Error(t, err)
			assert.ErrorIs(t, err, retrieve.ErrRepeatedToken)
			assert.Equal(t, ids(len(tc.want)), got)
			assert.Equal(t, tc.want, api.Targets())
		})
	}
}

// linkAPI serves all GitHub style: GET /v1/items?per_page=&page= with a Link header
// carrying next, last, first and prev, as absolute URLs or, when relative, paths.
type linkAPI struct {
	all      []string
	relative bool
	split    bool // one Link header line per relation
	srvURL   func() string
}

func (a linkAPI) handler(t *testing.T) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		q := r.URL.Query()
		per, err := strconv.Atoi(q.Get("per_page"))
		if err != nil {
			t.Errorf("request %d: per_page = %q", n, q.Get("per_page"))
			writeJSON(w, http.StatusBadRequest, map[string]any{"message": "per_page"})
			return
		}
		page := 1
		if p := q.Get("page"); p != "" {
			page, _ = strconv.Atoi(p)
		}
		from := min((page-1)*per, len(a.all))
		to := min(from+per, len(a.all))
		last := max(1, (len(a.all)+per-1)/per)
		u := func(p int) string {
			s := fmt.Sprintf("/v1/items?per_page=%d&page=%d", per, p)
			if !a.relative {
				s = a.srvURL() + s
			}
			return s
		}
		var links []string
		if page > 1 {
			links = append(links, fmt.Sprintf(`<%s>; rel="prev"`, u(page-1)))
		}
		if to < len(a.all) {
			links = append(links, fmt.Sprintf(`<%s>; rel="next"`, u(page+1)))
		}
		if len(a.all) > per {
			links = append(links, fmt.Sprintf(`<%s>; rel="last"`, u(last)), fmt.Sprintf(`<%s>; rel="first"`, u(1)))
		}
		if a.split {
			for _, l := range links {
				w.Header().Add("Link", l)
			}
		} else if len(links) > 0 {
			w.Header().Set("Link", strings.Join(links, ", "))
		}
		writeJSON(w, http.StatusOK, rows(a.all[from:to]))
	}
}

func TestPagesLink(t *testing.T) {
	p := func(page int) string { return fmt.Sprintf("/v1/items?per_page=3&page=%d", page) }
	cases := []struct {
		name string
		api  linkAPI
		want []string
	}{
		{"empty first page, no Link header", linkAPI{all: ids(0)}, []string{"/v1/items?per_page=3"}},
		{"single page, no Link header", linkAPI{all: ids(3)}, []string{"/v1/items?per_page=3"}},
		{"several pages", linkAPI{all: ids(7)}, []string{"/v1/items?per_page=3", p(2), p(3)}},
		{"last page exactly full has no next", linkAPI{all: ids(6)}, []string{"/v1/items?per_page=3", p(2)}},
		{"relative link targets", linkAPI{all: ids(7), relative: true}, []string{"/v1/items?per_page=3", p(2), p(3)}},
		{"one Link header line per relation", linkAPI{all: ids(7), split: true}, []string{"/v1/items?per_page=3", p(2), p(3)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var api *fakeAPI
			tc.api.srvURL = func() string { return api.URL }
			api = newAPI(t, wantHeaderKey, tc.api.handler(t))
			c, it := load(t, specOpts{Records: ".[]", Pagination: "{type: link, limit_param: per_page, limit: 3}"})
			got, pages, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
			require.NoError(t, err)
			assert.Equal(t, tc.api.all, got)
			assert.Equal(t, normAll(tc.want), api.Targets())
			assert.Equal(t, seq(len(tc.want)), pageNumbers(pages))
		})
	}
}

func TestPagesLinkCustomRel(t *testing.T) {
	// An API whose next page is rel="older"; rel="next" must be ignored.
	api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
		switch n {
		case 1:
			w.Header().Set("Link", `</v1/items?before=9>; rel="next", </v1/items?before=2>; rel="older"`)
		case 2:
			w.Header().Set("Link", `</v1/items?before=9>; rel="next"`)
		}
		writeJSON(w, http.StatusOK, rows(ids(n)[n-1:]))
	})
	c, it := load(t, specOpts{Records: ".[]", Pagination: "{type: link, rel: older}"})
	got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
	require.NoError(t, err)
	assert.Equal(t, ids(2), got)
	assert.Equal(t, []string{"/v1/items", "/v1/items?before=2"}, api.Targets())
}

func TestPagesLinkRepeated(t *testing.T) {
	api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
		if n > 2 {
			t.Errorf("request %d: the client kept following a repeated Link", n)
		}
		w.Header().Set("Link", `</v1/items?page=2>; rel="next"`)
		writeJSON(w, http.StatusOK, rows(ids(n)[n-1:]))
	})
	c, it := load(t, specOpts{Records: ".[]", Pagination: "{type: link}"})
	got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
	require.ErrorIs(t, err, retrieve.ErrRepeatedToken)
	assert.Equal(t, ids(2), got)
	assert.Equal(t, []string{"/v1/items", "/v1/items?page=2"}, api.Targets())
}

func TestPagesRequestHeadersOnEveryPage(t *testing.T) {
	// Request headers (an API version, say) belong to every page, including the pages
	// reached through a next URL or a Link header.
	cases := []struct {
		pagination string
		firstPage  int // .page.number of the first page: 1 for every style by default
	}{
		{"{type: link}", 1},
		{"{type: next_url, next: .next}", 1},
		{"{type: cursor, next: .next}", 1},
		{"{type: page, limit_param: n, limit: 1}", 1},
		{"{type: page, limit_param: n, limit: 1, start: 0}", 0},
	}
	for _, tc := range cases {
		t.Run(tc.pagination, func(t *testing.T) {
			api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
				if got := r.Header.Get("X-Api-Version"); got != "2024-01-01" {
					t.Errorf("request %d: X-Api-Version = %q", n, got)
				}
				if got, want := r.Header.Get("X-Page"), fmt.Sprintf("p%d", tc.firstPage+n-1); got != want {
					t.Errorf("request %d: X-Page = %q, want %q", n, got, want)
				}
				body := map[string]any{"data": rows(ids(n)[n-1:])}
				if n < 3 {
					w.Header().Set("Link", fmt.Sprintf(`</v1/items?page=%d>; rel="next"`, n+1))
					body["next"] = fmt.Sprintf("/v1/items?page=%d", n+1)
				} else {
					body["data"] = rows(nil)
				}
				writeJSON(w, http.StatusOK, body)
			})
			c, it := load(t, specOpts{
				Pagination: tc.pagination,
				Headers:    "{X-Api-Version: '2024-01-01', X-Page: 'p${ .page.number }'}",
			})
			got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
			require.NoError(t, err)
			assert.Equal(t, ids(2), got)
			assert.Equal(t, 3, api.Count())
		})
	}
}

func TestPagesIncremental(t *testing.T) {
	since := time.Date(2024, 3, 5, 6, 7, 8, 900_000_000, time.UTC)
	cases := []struct {
		name   string
		format string
		since  *time.Time
		want   string // updated_since sent on every page; "" when absent
	}{
		{"rfc3339", "rfc3339", &since, "2024-03-05T06:07:08Z"},
		{"unix", "unix", &since, "1709618828"},
		{"unix_ms", "unix_ms", &since, "1709618828900"},
		{"go layout", "2006-01-02", &since, "2024-03-05"},
		{"since in another zone is sent in UTC", "rfc3339", ptr(since.In(time.FixedZone("CET", 3600))), "2024-03-05T06:07:08Z"},
		{"no since: no param", "rfc3339", nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newAPI(t, wantHeaderKey, offsetAPI{all: ids(4)}.handler(t))
			c, it := load(t, specOpts{
				Pagination:  "{type: offset, limit_param: limit, limit: 3, stop_on_short_page: true}",
				Incremental: fmt.Sprintf("{cursor: .updated_at, param: updated_since, format: '%s'}", tc.format),
			})
			got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, tc.since)
			require.NoError(t, err)
			assert.Equal(t, ids(4), got)
			calls := api.Calls()
			require.Len(t, calls, 2)
			for i, cl := range calls {
				if tc.want == "" {
					assert.NotContains(t, cl.Query, "updated_since", "request %d", i+1)
				} else {
					assert.Equal(t, []string{tc.want}, cl.Query["updated_since"], "request %d", i+1)
				}
			}
		})
	}
}

func TestPagesCursorInParams(t *testing.T) {
	since := time.Date(2024, 3, 5, 6, 7, 8, 0, time.UTC)
	cases := []struct {
		name  string
		since *time.Time
		want  string
	}{
		{"with since", &since, "/v1/items?since=1709618828&q=updated_at>1709618828&page=1"},
		{"without since: params yielding null are omitted", nil, "/v1/items?page=1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
				writeJSON(w, http.StatusOK, map[string]any{"data": rows(ids(2))})
			})
			c, it := load(t, specOpts{
				Params:      `{since: '${ .cursor }', q: '${ if .cursor then "updated_at>" + .cursor else null end }', page: '${ .page.number }'}`,
				Incremental: "{cursor: .updated_at, format: unix}",
			})
			got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, tc.since)
			require.NoError(t, err)
			assert.Equal(t, ids(2), got)
			assert.Equal(t, []string{norm(tc.want)}, api.Targets())
		})
	}
}

func TestPagesPostBody(t *testing.T) {
	// A search endpoint paged by a token in the JSON body.
	all := ids(5)
	api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/items/search" {
			t.Errorf("request %d: %s %s", n, r.Method, r.URL.Path)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("request %d: Content-Type = %q", n, ct)
		}
		var body struct {
			Filter map[string]any `json:"filter"`
			Size   int            `json:"size"`
			After  *string        `json:"after"`
			Tags   []any          `json:"tags"`
		}
		raw := bodyOf(r)
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Errorf("request %d: body %q: %v", n, raw, err)
		}
		if body.Filter["status"] != "open" || body.Size != 2 || len(body.Tags) != 2 || body.Tags[1] != fmt.Sprintf("p%d", n) {
			t.Errorf("request %d: body %s", n, raw)
		}
		from := 0
		if n == 1 && body.After != nil {
			t.Errorf("first request has after = %q", *body.After)
		}
		if n > 1 {
			if body.After == nil {
				t.Errorf("request %d has no after", n)
				writeJSON(w, http.StatusBadRequest, map[string]any{})
				return
			}
			from, _ = strconv.Atoi(strings.TrimPrefix(*body.After, "after_"))
		}
		to := min(from+2, len(all))
		var next any
		if to < len(all) {
			next = fmt.Sprintf("after_%d", to)
		}
		writeJSON(w, http.StatusOK, map[string]any{"hits": rows(all[from:to]), "next_token": next})
	})
	c, it := load(t, specOpts{
		Method:     "POST",
		Path:       "/items/search",
		Body:       `{filter: {status: open}, size: 2, after: '${ .page.token }', tags: ['fixed', 'p${ .page.number }']}`,
		Records:    ".hits[]",
		Pagination: "{type: cursor, next: .next_token}",
	})
	got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
	require.NoError(t, err)
	assert.Equal(t, all, got)
	calls := api.Calls()
	require.Len(t, calls, 3)
	var bodies []map[string]any
	for _, cl := range calls {
		var m map[string]any
		require.NoError(t, json.Unmarshal(cl.Body, &m))
		bodies = append(bodies, m)
	}
	assert.Equal(t, []any{nil, "after_2", "after_4"}, []any{bodies[0]["after"], bodies[1]["after"], bodies[2]["after"]})
	assert.Equal(t, []any{"fixed", "p1"}, bodies[0]["tags"])
	assert.Equal(t, []any{"fixed", "p2"}, bodies[1]["tags"])
	for i, cl := range calls {
		assert.Empty(t, cl.Query, "request %d: the token travels in the body only", i+1)
	}
}

func TestPagesPostNextURLRepeatsBody(t *testing.T) {
	api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Method != http.MethodPost {
			t.Errorf("request %d: method %s", n, r.Method)
		}
		if string(bodyOf(r)) != `{"query":"status:open"}` {
			t.Errorf("request %d: body %s", n, bodyOf(r))
		}
		body := map[string]any{"results": rows(ids(n)[n-1:])}
		if n < 2 {
			body["next"] = "/v1/search?page=2"
		}
		writeJSON(w, http.StatusOK, body)
	})
	c, it := load(t, specOpts{Method: "POST", Path: "/search", Body: "{query: 'status:open'}", Records: ".results[]", Pagination: "{type: next_url, next: .next}"})
	got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
	require.NoError(t, err)
	assert.Equal(t, ids(2), got)
	assert.Equal(t, []string{"/v1/search", "/v1/search?page=2"}, api.Targets())
}

func TestPagesGetHasNoBody(t *testing.T) {
	api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
		if ct := r.Header.Get("Content-Type"); ct != "" {
			t.Errorf("GET with Content-Type %q", ct)
		}
		if len(bodyOf(r)) != 0 {
			t.Errorf("GET with a body %q", bodyOf(r))
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": rows(ids(1))})
	})
	c, it := load(t, specOpts{})
	got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
	require.NoError(t, err)
	assert.Equal(t, ids(1), got)
	assert.Equal(t, 1, api.Count())
}

func TestPagesCallbackErrorStopsPaging(t *testing.T) {
	api := newAPI(t, wantHeaderKey, cursorAPI{all: ids(9)}.handler(t))
	c, it := load(t, specOpts{Pagination: "{type: cursor, next: .next_cursor, limit_param: limit, limit: 3}"})
	cl := newClient(t, c, api.URL, clientOpts{})
	stop := errors.New("disk full")
	var seen []int
	err := cl.Pages(testCtx(t), it, retrieve.Query{}, func(p retrieve.Page) error {
		seen = append(seen, p.Number)
		if p.Number == 2 {
			return stop
		}
		return nil
	})
	assert.Same(t, stop, err, "fn's error is returned as is")
	assert.Equal(t, []int{1, 2}, seen)
	assert.Equal(t, 2, api.Count())
}

func TestPagesRecordsExpressionError(t *testing.T) {
	api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, http.StatusOK, map[string]any{"data": "not a list"})
	})
	c, it := load(t, specOpts{Pagination: "{type: cursor, next: .next}"})
	got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "records")
	assert.Empty(t, got)
	assert.Equal(t, 1, api.Count())
}

func TestPagesTrace(t *testing.T) {
	api := newAPI(t, wantHeaderKey, cursorAPI{all: ids(5)}.handler(t))
	c, it := load(t, specOpts{Pagination: "{type: cursor, next: .next_cursor, limit_param: limit, limit: 3}"})
	tr := &tracer{}
	_, _, err := collect(t, newClient(t, c, api.URL, clientOpts{trace: tr}), it, nil)
	require.NoError(t, err)
	reqs, pages := tr.kind("request"), tr.kind("page")
	require.Len(t, reqs, 2)
	require.Len(t, pages, 2)
	assert.Equal(t, []int{3, 2}, []int{pages[0].Records, pages[1].Records})
	assert.Equal(t, []int{1, 2}, []int{pages[0].Page, pages[1].Page})
	assert.Equal(t, "items", pages[0].Type)
	assert.Equal(t, http.StatusOK, reqs[1].Status)
	assert.Equal(t, http.MethodGet, reqs[1].Method)
	assert.Equal(t, api.URL+"/v1/items?cursor="+cursorToken(3)+"&limit=3", reqs[1].URL)
}

func ptr[T any](v T) *T { return &v }
