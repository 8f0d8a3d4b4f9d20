package retrieve_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/retrieve"
)

// headerPagedAPI serves all by offset and limit read from request headers
// (X-Offset, X-Limit), as some internal APIs do; it echoes nothing in the query.
func headerPagedAPI(t *testing.T, all []string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		if len(r.URL.Query()) != 0 {
			t.Errorf("request %d: query %q: paging belongs in headers", n, r.URL.RawQuery)
		}
		off, err1 := strconv.Atoi(r.Header.Get("X-Offset"))
		lim, err2 := strconv.Atoi(r.Header.Get("X-Limit"))
		if err1 != nil || err2 != nil {
			t.Errorf("request %d: X-Offset %q, X-Limit %q", n, r.Header.Get("X-Offset"), r.Header.Get("X-Limit"))
			writeJSON(w, http.StatusBadRequest, map[string]any{})
			return
		}
		from := min(off, len(all))
		to := min(from+lim, len(all))
		w.Header().Set("X-Total-Count", strconv.Itoa(len(all)))
		writeJSON(w, http.StatusOK, map[string]any{"data": rows(all[from:to])})
	}
}

func TestPagesOffsetInHeaders(t *testing.T) {
	all := ids(7)
	api := newAPI(t, wantHeaderKey, headerPagedAPI(t, all))
	c, it := load(t, specOpts{Pagination: `{type: offset, in: header, param: X-Offset, limit_param: X-Limit, limit: 3, total: '$headers["x-total-count"]'}`})
	got, pages, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
	require.NoError(t, err)
	assert.Equal(t, all, got)
	var offsets []string
	for _, cl := range api.Calls() {
		offsets = append(offsets, cl.Header.Get("X-Offset"))
		assert.Equal(t, "3", cl.Header.Get("X-Limit"))
	}
	assert.Equal(t, []string{"0", "3", "6"}, offsets, "the total from a header ends paging without an empty request")
	assert.Equal(t, seq(3), pageNumbers(pages))
}

// searchAPI is a POST search that pages by fields of its JSON body, Intercom style:
// {"query": {...}, "pagination": {"per_page": N, "starting_after": TOKEN}} answered with
// {"data": [...], "pages": {"next": {"starting_after": TOKEN}}}. tokens, when set,
// replaces the token of each page (to make a buggy API repeat itself).
type searchAPI struct {
	all    []string
	tokens []string
}

func (s searchAPI) handler(t *testing.T) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Method != http.MethodPost {
			t.Errorf("request %d: %s", n, r.Method)
		}
		var body struct {
			Query      map[string]any `json:"query"`
			Pagination struct {
				PerPage       json.Number `json:"per_page"`
				StartingAfter *string     `json:"starting_after"`
			} `json:"pagination"`
		}
		if err := json.Unmarshal(bodyOf(r), &body); err != nil {
			t.Errorf("request %d: body %s: %v", n, bodyOf(r), err)
		}
		if body.Query["field"] != "updated_at" {
			t.Errorf("request %d: the query was lost: %s", n, bodyOf(r))
		}
		per, err := body.Pagination.PerPage.Int64()
		if err != nil {
			t.Errorf("request %d: per_page %q is not a JSON number", n, body.Pagination.PerPage)
		}
		from := 0
		if sa := body.Pagination.StartingAfter; sa != nil {
			if n == 1 {
				t.Errorf("the first request carries starting_after %q", *sa)
			}
			from, _ = strconv.Atoi(*sa)
		} else if n > 1 {
			t.Errorf("request %d has no starting_after: %s", n, bodyOf(r))
		}
		from = min(from, len(s.all))
		to := min(from+int(per), len(s.all))
		resp := map[string]any{"type": "list", "data": rows(s.all[from:to])}
		if to < len(s.all) {
			tok := strconv.Itoa(to)
			if s.tokens != nil {
				tok = s.tokens[n-1]
			}
			resp["pages"] = map[string]any{"next": map[string]any{"starting_after": tok}}
		}
		writeJSON(w, http.StatusOK, resp)
	}
}

func TestPagesCursorInBody(t *testing.T) {
	all := ids(7)
	api := newAPI(t, wantHeaderKey, searchAPI{all: all}.handler(t))
	c, it := load(t, specOpts{
		Method: "POST", Path: "/contacts/search",
		Body:       `{query: {field: updated_at, operator: ">", value: 0}, pagination: {per_page: 2}}`,
		Pagination: `{type: cursor, in: body, param: pagination.starting_after, limit_param: pagination.per_page, limit: 3, next: .pages.next.starting_after}`,
	})
	got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
	require.NoError(t, err)
	assert.Equal(t, all, got)
	var bodies []string
	for _, cl := range api.Calls() {
		bodies = append(bodies, string(cl.Body))
		assert.Empty(t, cl.Query, "the token travels in the body only")
	}
	assert.Equal(t, []string{
		`{"pagination":{"per_page":3},"query":{"field":"updated_at","operator":"\u003e","value":0}}`,
		`{"pagination":{"per_page":3,"starting_after":"3"},"query":{"field":"updated_at","operator":"\u003e","value":0}}`,
		`{"pagination":{"per_page":3,"starting_after":"6"},"query":{"field":"updated_at","operator":"\u003e","value":0}}`,
	}, bodies, "limit_param replaces the body's per_page, the token joins it")
}

func TestPagesPageNumberInBody(t *testing.T) {
	// Page numbers in a body stay JSON numbers; the body grows the objects it needs.
	all := ids(5)
	api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
		var body struct {
			Page struct{ Number, Size any }
		}
		require.NoError(t, json.Unmarshal(bodyOf(r), &body))
		num, ok1 := body.Page.Number.(float64)
		size, ok2 := body.Page.Size.(float64)
		if !ok1 || !ok2 {
			t.Errorf("request %d: page %v, size %v: want numbers", n, body.Page.Number, body.Page.Size)
			writeJSON(w, http.StatusBadRequest, map[string]any{})
			return
		}
		from := min(int(num-1)*int(size), len(all))
		writeJSON(w, http.StatusOK, map[string]any{"data": rows(all[from:min(from+int(size), len(all))])})
	})
	c, it := load(t, specOpts{Method: "POST", Body: "{filter: open}",
		Pagination: "{type: page, in: body, param: page.number, limit_param: page.size, limit: 2, stop_on_short_page: true}"})
	got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
	require.NoError(t, err)
	assert.Equal(t, all, got)
	require.Equal(t, 3, api.Count())
	assert.JSONEq(t, `{"filter": "open", "page": {"number": 3, "size": 2}}`, string(api.Calls()[2].Body))
}

func TestPagesCursorInHeader(t *testing.T) {
	all := ids(5)
	api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
		from := 0
		if tok := r.Header.Get("X-Continuation"); tok != "" {
			from, _ = strconv.Atoi(tok)
		} else if n > 1 {
			t.Errorf("request %d has no X-Continuation", n)
		}
		to := min(from+2, len(all))
		if to < len(all) {
			w.Header().Set("X-Continuation", strconv.Itoa(to))
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": rows(all[from:to])})
	})
	// The token comes back in a response header and goes out in a request header.
	c, it := load(t, specOpts{Pagination: `{type: cursor, in: header, param: X-Continuation, next: '$headers["x-continuation"]'}`})
	got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
	require.NoError(t, err)
	assert.Equal(t, all, got)
	assert.Equal(t, []string{"/v1/items", "/v1/items", "/v1/items"}, api.Targets())
}

func TestPagesRepeatedTokenInHeaderAndBody(t *testing.T) {
	t.Run("header", func(t *testing.T) {
		api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
			if n > 2 {
				t.Errorf("request %d: the client kept following a repeated token", n)
			}
			w.Header().Set("X-Next", "same")
			writeJSON(w, http.StatusOK, map[string]any{"data": rows(ids(n)[n-1:])})
		})
		c, it := load(t, specOpts{Pagination: `{type: cursor, in: header, param: X-Token, next: '$headers["x-next"]'}`})
		got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
		require.ErrorIs(t, err, retrieve.ErrRepeatedToken)
		assert.Equal(t, ids(2), got)
		assert.Equal(t, 2, api.Count())
	})
	t.Run("body", func(t *testing.T) {
		api := newAPI(t, wantHeaderKey, searchAPI{all: ids(12), tokens: []string{"3", "6", "3"}}.handler(t))
		c, it := load(t, specOpts{Method: "POST", Body: "{query: {field: updated_at}}",
			Pagination: `{type: cursor, in: body, param: pagination.starting_after, limit_param: pagination.per_page, limit: 3, next: .pages.next.starting_after}`})
		got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
		require.ErrorIs(t, err, retrieve.ErrRepeatedToken)
		assert.Contains(t, err.Error(), `token "3" twice`)
		assert.Equal(t, ids(9), got)
		assert.Equal(t, 3, api.Count())
	})
}

func TestPagesInBodyNotAnObject(t *testing.T) {
	api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
		t.Errorf("a request was sent: %s", bodyOf(r))
	})
	c, it := load(t, specOpts{Method: "POST", Body: "{page: 'first'}",
		Pagination: "{type: page, in: body, param: page.number}"})
	_, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot put page.number into the body: page is not an object")
}

// stopAPI serves all by cursor with whatever extra body keys and headers a case needs:
// {data, next, has_more, count} and X-Has-More; fullEnd keeps handing out a cursor
// after the last record, so that only a stop condition ends paging (or one more,
// empty, page does).
type stopAPI struct {
	all     []string
	per     int
	fullEnd bool
}

func (s stopAPI) handler(t *testing.T) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		from, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
		from = min(from, len(s.all))
		to := min(from+s.per, len(s.all))
		more := to < len(s.all)
		body := map[string]any{"data": rows(s.all[from:to]), "has_more": more, "count": len(s.all)}
		if more || s.fullEnd && from < len(s.all) {
			body["next"] = strconv.Itoa(to)
		}
		w.Header().Set("X-Has-More", strconv.FormatBool(more))
		writeJSON(w, http.StatusOK, body)
	}
}

func TestPagesStopConditions(t *testing.T) {
	c3 := func(off int) string { return fmt.Sprintf("/v1/items?cursor=%d", off) }
	cases := []struct {
		name       string
		api        stopAPI
		pagination string
		want       []string
		records    int // records expected; 0: all
	}{
		{
			name: "full last page followed by an empty page (no stop condition)", api: stopAPI{all: ids(6), per: 3, fullEnd: true},
			pagination: "{type: cursor, next: .next}",
			want:       []string{"/v1/items", c3(3), c3(6)},
		},
		{
			name: "has_more false on a full page", api: stopAPI{all: ids(6), per: 3, fullEnd: true},
			pagination: "{type: cursor, next: .next, has_more: .has_more}",
			want:       []string{"/v1/items", c3(3)},
		},
		{
			name: "has_more from a header", api: stopAPI{all: ids(6), per: 3, fullEnd: true},
			pagination: `{type: cursor, next: .next, has_more: '$headers["x-has-more"] == "true"'}`,
			want:       []string{"/v1/items", c3(3)},
		},
		{
			name: "has_more true until the last page", api: stopAPI{all: ids(7), per: 3},
			pagination: "{type: cursor, next: .next, has_more: .has_more}",
			want:       []string{"/v1/items", c3(3), c3(6)},
		},
		{
			name: "has_more null (missing) stops", api: stopAPI{all: ids(7), per: 3},
			pagination: "{type: cursor, next: .next, has_more: .more}",
			want:       []string{"/v1/items"}, records: 3,
		},
		{
			name: "short page with $records", api: stopAPI{all: ids(7), per: 3, fullEnd: true},
			pagination: "{type: cursor, next: .next, stop: '$records | length < 3'}",
			want:       []string{"/v1/items", c3(3), c3(6)},
		},
		{
			name: "short page with $records, full last page", api: stopAPI{all: ids(6), per: 3, fullEnd: true},
			pagination: "{type: cursor, next: .next, stop: '$records | length < 3'}",
			want:       []string{"/v1/items", c3(3), c3(6)},
		},
		{
			name: "stop on the page number", api: stopAPI{all: ids(9), per: 3},
			pagination: "{type: cursor, next: .next, stop: '$page >= 2'}",
			want:       []string{"/v1/items", c3(3)}, records: 6,
		},
		{
			name: "stop when the records seen reach a count in the body", api: stopAPI{all: ids(6), per: 3, fullEnd: true},
			pagination: "{type: cursor, next: .next, stop: '$page * 3 >= .count'}",
			want:       []string{"/v1/items", c3(3)},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newAPI(t, wantHeaderKey, tc.api.handler(t))
			c, it := load(t, specOpts{Pagination: tc.pagination})
			got, pages, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
			require.NoError(t, err)
			want := tc.api.all
			if tc.records > 0 {
				want = want[:tc.records]
			}
			assert.Equal(t, want, got, "records")
			assert.Equal(t, tc.want, api.Targets(), "requests")
			assert.Equal(t, seq(len(tc.want)), pageNumbers(pages))
		})
	}
}

func TestPagesTotalAndHasMoreOnOffsets(t *testing.T) {
	o := func(off int) string { return fmt.Sprintf("/v1/items?limit=3&offset=%d", off) }
	cases := []struct {
		name       string
		api        offsetAPI
		pagination string
		want       []string
	}{
		{
			name: "total reached exactly", api: offsetAPI{all: ids(9)},
			pagination: "{type: offset, limit_param: limit, limit: 3, total: .total}",
			want:       []string{o(0), o(3), o(6)},
		},
		{
			name: "total with start: 1 and pages capped below limit", api: offsetAPI{all: ids(7), base: 1, maxPage: 2},
			pagination: "{type: offset, limit_param: limit, limit: 3, start: 1, total: .total}",
			want:       []string{o(1), o(3), o(5), o(7)},
		},
		{
			name: "has_more on offsets", api: offsetAPI{all: ids(6)},
			pagination: "{type: offset, limit_param: limit, limit: 3, has_more: .has_more}",
			want:       []string{o(0), o(3)},
		},
		{
			name: "short page with stop_on_short_page and a cap: the cap looks like the end", api: offsetAPI{all: ids(7), maxPage: 2},
			pagination: "{type: offset, limit_param: limit, limit: 3, has_more: .has_more}",
			want:       []string{o(0), o(2), o(4), o(6)},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newAPI(t, wantHeaderKey, tc.api.handler(t))
			c, it := load(t, specOpts{Pagination: tc.pagination})
			got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
			require.NoError(t, err)
			assert.Equal(t, tc.api.all, got)
			assert.Equal(t, normAll(tc.want), api.Targets())
		})
	}
}

func TestPagesPageNumberTotalWithCap(t *testing.T) {
	// A page-number API that serves 2 records when 3 are asked for: the total still
	// counts records, so the last ones are fetched.
	all := ids(5)
	api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		from := min((page-1)*2, len(all))
		writeJSON(w, http.StatusOK, map[string]any{"items": rows(all[from:min(from+2, len(all))]), "total_count": len(all)})
	})
	c, it := load(t, specOpts{Records: ".items[]", Pagination: "{type: page, limit_param: per_page, limit: 3, total: .total_count}"})
	got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
	require.NoError(t, err)
	assert.Equal(t, all, got)
	assert.Equal(t, 3, api.Count())
}
