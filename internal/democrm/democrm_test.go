package democrm

// The tests use only the standard library: testify's assert package needs a
// go.sum entry (go.yaml.in/yaml/v3) that this module does not carry.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration)     { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock(t time.Time) *clock        { return &clock{t: t} }
func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

type resp struct {
	status int
	header http.Header
	body   []byte
}

type page struct {
	Data       []json.RawMessage `json:"data"`
	HasMore    bool              `json:"has_more"`
	NextCursor *string           `json:"next_cursor"`
}

type rec struct {
	ID        string `json:"id"`
	UpdatedAt string `json:"updated_at"`
	CreatedAt string `json:"created_at"`
}

type apiErr struct {
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

type harness struct {
	t   *testing.T
	srv *Server
	url string
	key string
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	if opts.Now == nil {
		opts.Now = fixed(t0)
	}
	srv := New(opts)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	key := opts.APIKey
	if key == "" {
		key = "demo-key"
	}
	return &harness{t: t, srv: srv, url: ts.URL, key: key}
}

func (h *harness) do(method, path string, q url.Values, key *string) resp {
	h.t.Helper()
	u := h.url + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	if key != nil {
		req.Header.Set("X-API-Key", *key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp{res.StatusCode, res.Header, b}
}

func (h *harness) get(path string, q url.Values) resp {
	h.t.Helper()
	return h.do(http.MethodGet, path, q, &h.key)
}

func (h *harness) getPage(path string, q url.Values) (page, resp) {
	h.t.Helper()
	r := h.get(path, q)
	if r.status != http.StatusOK {
		h.t.Fatalf("GET %s?%s: status %d: %s", path, q.Encode(), r.status, r.body)
	}
	var p page
	if err := json.Unmarshal(r.body, &p); err != nil {
		h.t.Fatalf("decode page: %v: %s", err, r.body)
	}
	return p, r
}

// all pages through resource and returns every record and every raw page.
func (h *harness) all(resource string, q url.Values) ([]rec, []json.RawMessage, [][]byte) {
	h.t.Helper()
	q = cloneValues(q)
	var (
		recs  []rec
		raws  []json.RawMessage
		pages [][]byte
	)
	limit, _ := strconv.Atoi(q.Get("limit"))
	for i := 0; ; i++ {
		if i > 10000 {
			h.t.Fatal("pagination does not terminate")
		}
		p, r := h.getPage("/v1/"+resource, q)
		pages = append(pages, r.body)
		for _, d := range p.Data {
			var x rec
			if err := json.Unmarshal(d, &x); err != nil {
				h.t.Fatal(err)
			}
			recs = append(recs, x)
			raws = append(raws, d)
		}
		if !p.HasMore {
			if p.NextCursor != nil {
				h.t.Fatalf("has_more=false but next_cursor=%q", *p.NextCursor)
			}
			if !bytes.Contains(r.body, []byte(`"next_cursor":null`)) {
				h.t.Fatalf("last page must carry an explicit null next_cursor: %s", r.body)
			}
			return recs, raws, pages
		}
		if p.NextCursor == nil || *p.NextCursor == "" {
			h.t.Fatal("has_more=true without next_cursor")
		}
		if limit > 0 && len(p.Data) != limit {
			h.t.Fatalf("non-final page has %d records, want %d", len(p.Data), limit)
		}
		q.Set("cursor", *p.NextCursor)
	}
}

func cloneValues(q url.Values) url.Values {
	c := url.Values{}
	for k, v := range q {
		c[k] = append([]string(nil), v...)
	}
	return c
}

func less(a, b rec) bool {
	return a.UpdatedAt < b.UpdatedAt || (a.UpdatedAt == b.UpdatedAt && a.ID < b.ID)
}

func checkSorted(t *testing.T, recs []rec) {
	t.Helper()
	for i := 1; i < len(recs); i++ {
		if !less(recs[i-1], recs[i]) {
			t.Fatalf("records %d,%d out of (updated_at,id) order: %+v then %+v", i-1, i, recs[i-1], recs[i])
		}
	}
}

func ptr(s string) *string { return &s }

func TestAuthAndRouting(t *testing.T) {
	h := newHarness(t, Options{APIKey: "s3cret", Accounts: 3, Contacts: 3})
	tests := []struct {
		name, method, path string
		key                *string
		status             int
		errType            string
	}{
		{"no key", "GET", "/v1/accounts", nil, 401, "unauthorized"},
		{"empty key", "GET", "/v1/contacts", ptr(""), 401, "unauthorized"},
		{"wrong key", "GET", "/v1/contacts", ptr("demo-key"), 401, "unauthorized"},
		{"ok accounts", "GET", "/v1/accounts", ptr("s3cret"), 200, ""},
		{"ok contacts", "GET", "/v1/contacts", ptr("s3cret"), 200, ""},
		{"unknown resource", "GET", "/v1/deals", ptr("s3cret"), 404, "not_found"},
		{"root", "GET", "/", ptr("s3cret"), 404, "not_found"},
		{"trailing slash", "GET", "/v1/accounts/", ptr("s3cret"), 404, "not_found"},
		{"post", "POST", "/v1/accounts", ptr("s3cret"), 405, "method_not_allowed"},
		{"delete", "DELETE", "/v1/contacts", ptr("s3cret"), 405, "method_not_allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(tc.method, tc.path, nil, tc.key)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tc.errType == "" {
				return
			}
			var e apiErr
			if err := json.Unmarshal(r.body, &e); err != nil {
				t.Fatal(err)
			}
			if e.Error.Type != tc.errType || e.Error.Message == "" {
				t.Errorf("error body %s, want type %q", r.body, tc.errType)
			}
			if tc.status == 401 {
				want := `{"error":{"type":"unauthorized","message":"missing or invalid API key"}}`
				if string(r.body) != want {
					t.Errorf("body %s, want %s", r.body, want)
				}
				if got := r.header.Get("WWW-Authenticate"); got != "ApiKey" {
					t.Errorf("WWW-Authenticate %q", got)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	h := newHarness(t, Options{})
	if got := h.srv.Count("accounts"); got != 120 {
		t.Errorf("accounts %d, want 120", got)
	}
	if got := h.srv.Count("contacts"); got != 360 {
		t.Errorf("contacts %d, want 360", got)
	}
	if got := h.srv.Count("deals"); got != 0 {
		t.Errorf("deals %d", got)
	}
	p, _ := h.getPage("/v1/contacts", nil)
	if len(p.Data) != 50 || !p.HasMore {
		t.Errorf("default page: %d records, has_more=%v", len(p.Data), p.HasMore)
	}
	// Seed 0 means 1.
	h1 := newHarness(t, Options{Seed: 1})
	_, a := h.getPage("/v1/accounts", nil)
	_, b := h1.getPage("/v1/accounts", nil)
	if !bytes.Equal(a.body, b.body) {
		t.Error("seed 0 should behave as seed 1")
	}
}

func TestPagingCollectsEverything(t *testing.T) {
	h := newHarness(t, Options{Seed: 7})
	splitTies := 0
	for _, resource := range []string{"accounts", "contacts"} {
		var ref []rec
		for _, limit := range []int{7, 1, 50, 200} {
			t.Run(fmt.Sprintf("%s/limit=%d", resource, limit), func(t *testing.T) {
				recs, _, pages := h.all(resource, url.Values{"limit": {strconv.Itoa(limit)}})
				if len(recs) != h.srv.Count(resource) {
					t.Fatalf("collected %d records, server has %d", len(recs), h.srv.Count(resource))
				}
				seen := map[string]bool{}
				for _, r := range recs {
					if seen[r.ID] {
						t.Fatalf("duplicate %s", r.ID)
					}
					seen[r.ID] = true
				}
				checkSorted(t, recs)
				if want := (len(recs) + limit - 1) / limit; len(pages) != want {
					t.Errorf("%d pages, want %d", len(pages), want)
				}
				for i := limit; i < len(recs); i += limit {
					if recs[i-1].UpdatedAt == recs[i].UpdatedAt {
						splitTies++
					}
				}
				if ref == nil {
					ref = recs
				} else if fmt.Sprint(ref) != fmt.Sprint(recs) {
					t.Error("different page sizes yield different sequences")
				}
			})
		}
		// The data must contain updated_at ties for keyset paging to be tested.
		ties := 0
		for i := 1; i < len(ref); i++ {
			if ref[i].UpdatedAt == ref[i-1].UpdatedAt {
				ties++
			}
		}
		if ties < len(ref)/10 {
			t.Errorf("%s: only %d records share an updated_at with their predecessor", resource, ties)
		}
	}
	if splitTies == 0 {
		t.Error("no page boundary fell inside a group of equal updated_at; ties are not exercised")
	}
}

func TestLastPageExactlyFull(t *testing.T) {
	h := newHarness(t, Options{Accounts: 14, Contacts: 21})
	tests := []struct {
		resource     string
		limit, pages int
	}{
		{"accounts", 7, 2},
		{"accounts", 14, 1},
		{"contacts", 7, 3},
		{"contacts", 21, 1},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%d", tc.resource, tc.limit), func(t *testing.T) {
			recs, _, pages := h.all(tc.resource, url.Values{"limit": {strconv.Itoa(tc.limit)}})
			if len(pages) != tc.pages || len(recs) != tc.limit*tc.pages {
				t.Fatalf("%d pages / %d records, want %d / %d", len(pages), len(recs), tc.pages, tc.limit*tc.pages)
			}
			if !bytes.HasSuffix(pages[len(pages)-1], []byte(`],"has_more":false,"next_cursor":null}`)) {
				t.Errorf("last page: %s", pages[len(pages)-1])
			}
		})
	}
}

func TestEmptyResult(t *testing.T) {
	h := newHarness(t, Options{Accounts: 5, Contacts: 5})
	for _, since := range []string{"2025-06-01T12:00:01Z", "2030-01-01T00:00:00+02:00"} {
		for _, resource := range []string{"accounts", "contacts"} {
			r := h.get("/v1/"+resource, url.Values{"updated_since": {since}})
			want := `{"data":[],"has_more":false,"next_cursor":null}`
			if r.status != 200 || string(r.body) != want {
				t.Errorf("%s since %s: %d %s", resource, since, r.status, r.body)
			}
		}
	}
}

func TestUpdatedSinceInclusive(t *testing.T) {
	h := newHarness(t, Options{Seed: 3})
	for _, resource := range []string{"accounts", "contacts"} {
		full, _, _ := h.all(resource, url.Values{"limit": {"200"}})
		// Find a tie group in the middle so the boundary holds several records.
		mid := len(full) / 2
		for ; mid < len(full)-1 && full[mid].UpdatedAt != full[mid+1].UpdatedAt; mid++ {
		}
		for mid > 0 && full[mid-1].UpdatedAt == full[mid].UpdatedAt {
			mid--
		}
		boundary := full[mid].UpdatedAt
		bt, _ := time.Parse(time.RFC3339, boundary)
		if mid+1 >= len(full) || full[mid+1].UpdatedAt != boundary {
			t.Fatalf("%s: no tie group found", resource)
		}
		tests := []struct {
			name, since string
			first       string // id of the first expected record, "" to skip
		}{
			{"equal", boundary, full[mid].ID},
			{"equal other zone", bt.In(time.FixedZone("X", -5*3600)).Format(time.RFC3339), full[mid].ID},
			{"equal fractional", bt.Format("2006-01-02T15:04:05.000Z07:00"), full[mid].ID},
			{"one second before", bt.Add(-time.Second).Format(time.RFC3339), ""},
			{"half a second after", bt.Add(500 * time.Millisecond).Format(time.RFC3339Nano), ""},
			{"epoch", "1970-01-01T00:00:00Z", full[0].ID},
		}
		for _, tc := range tests {
			t.Run(resource+"/"+tc.name, func(t *testing.T) {
				since, err := time.Parse(time.RFC3339, tc.since)
				if err != nil {
					t.Fatal(err)
				}
				var want []rec
				for _, r := range full {
					if u, _ := time.Parse(time.RFC3339, r.UpdatedAt); !u.Before(since) {
						want = append(want, r)
					}
				}
				got, _, _ := h.all(resource, url.Values{"limit": {"7"}, "updated_since": {tc.since}})
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("got %d records, want %d", len(got), len(want))
				}
				if tc.first != "" && (len(got) == 0 || got[0].ID != tc.first) {
					t.Errorf("first record should be %s (updated_at == updated_since)", tc.first)
				}
			})
		}
	}
}

func TestInvalidRequests(t *testing.T) {
	h := newHarness(t, Options{Accounts: 20, Contacts: 20})
	p, _ := h.getPage("/v1/accounts", url.Values{"limit": {"2"}})
	accCursor := *p.NextCursor
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	const limitMsg = "limit must be an integer between 1 and 200"
	tests := []struct {
		name, path string
		q          url.Values
		msg        string // "" means just check invalid_request
	}{
		{"limit zero", "/v1/accounts", url.Values{"limit": {"0"}}, limitMsg},
		{"limit negative", "/v1/accounts", url.Values{"limit": {"-3"}}, limitMsg},
		{"limit text", "/v1/contacts", url.Values{"limit": {"ten"}}, limitMsg},
		{"limit float", "/v1/contacts", url.Values{"limit": {"1.5"}}, limitMsg},
		{"limit empty", "/v1/contacts", url.Values{"limit": {""}}, limitMsg},
		{"updated_since date only", "/v1/accounts", url.Values{"updated_since": {"2025-01-02"}}, ""},
		{"updated_since garbage", "/v1/accounts", url.Values{"updated_since": {"yesterday"}}, ""},
		{"updated_since unix", "/v1/accounts", url.Values{"updated_since": {"1735689600"}}, ""},
		{"cursor garbage", "/v1/accounts", url.Values{"cursor": {"!!!not-base64"}}, "invalid cursor"},
		{"cursor empty", "/v1/accounts", url.Values{"cursor": {""}}, "invalid cursor"},
		{"cursor not json", "/v1/accounts", url.Values{"cursor": {b64("hello")}}, "invalid cursor"},
		{"cursor empty object", "/v1/accounts", url.Values{"cursor": {b64("{}")}}, "invalid cursor"},
		{"cursor padded", "/v1/accounts", url.Values{"cursor": {accCursor + "=="}}, "invalid cursor"},
		{"cursor truncated", "/v1/accounts", url.Values{"cursor": {accCursor[:len(accCursor)-4]}}, "invalid cursor"},
		{"cursor of other resource", "/v1/contacts", url.Values{"cursor": {accCursor}}, "invalid cursor"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.get(tc.path, tc.q)
			if r.status != 400 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var e apiErr
			if err := json.Unmarshal(r.body, &e); err != nil {
				t.Fatal(err)
			}
			if e.Error.Type != "invalid_request" || (tc.msg != "" && e.Error.Message != tc.msg) || e.Error.Message == "" {
				t.Errorf("body %s", r.body)
			}
		})
	}

	t.Run("limit clamped", func(t *testing.T) {
		h := newHarness(t, Options{Accounts: 250})
		for _, l := range []string{"201", "1000", "99999999999999999999999"} {
			p, _ := h.getPage("/v1/accounts", url.Values{"limit": {l}})
			if len(p.Data) != 200 || !p.HasMore {
				t.Errorf("limit=%s: %d records, has_more=%v", l, len(p.Data), p.HasMore)
			}
		}
	})
}

func TestCursorCarriesFilter(t *testing.T) {
	h := newHarness(t, Options{Seed: 11})
	full, _, _ := h.all("contacts", url.Values{"limit": {"200"}})
	since := full[len(full)/3].UpdatedAt
	want, _, _ := h.all("contacts", url.Values{"limit": {"200"}, "updated_since": {since}})

	// First page with the filter, then follow cursors alone, or with a
	// different (ignored) updated_since in the query.
	for _, follow := range []url.Values{
		{},
		{"updated_since": {since}},
		{"updated_since": {"2000-01-01T00:00:00Z"}},
		{"updated_since": {"not a time"}},
	} {
		q := url.Values{"limit": {"9"}, "updated_since": {since}}
		var got []rec
		for i := 0; ; i++ {
			if i > 1000 {
				t.Fatal("pagination does not terminate")
			}
			p, _ := h.getPage("/v1/contacts", q)
			for _, d := range p.Data {
				var r rec
				_ = json.Unmarshal(d, &r)
				got = append(got, r)
			}
			if !p.HasMore {
				break
			}
			// The token embeds the filter it was issued for.
			c, err := decodeCursor(*p.NextCursor, "contacts")
			if err != nil {
				t.Fatal(err)
			}
			if cs, _ := time.Parse(time.RFC3339, c.UpdatedSince); cs.Format(time.RFC3339) != since {
				t.Fatalf("cursor %+v does not carry updated_since %s", c, since)
			}
			q = cloneValues(follow)
			q.Set("limit", "9")
			q.Set("cursor", *p.NextCursor)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("follow-up %v: %d records, want %d", follow, len(got), len(want))
		}
	}
}

func TestMutate(t *testing.T) {
	clk := newClock(t0)
	h := newHarness(t, Options{Seed: 5, Now: clk.Now})
	before := map[string]map[string]string{} // resource -> id -> raw JSON
	var prevMax string
	for _, resource := range []string{"accounts", "contacts"} {
		recs, raws, _ := h.all(resource, url.Values{"limit": {"200"}})
		before[resource] = map[string]string{}
		for i, r := range recs {
			before[resource][r.ID] = string(raws[i])
			prevMax = max(prevMax, r.UpdatedAt)
		}
	}

	clk.Add(90 * time.Minute)
	ch := h.srv.Mutate(10, 8)
	nowStr := clk.Now().Format(time.RFC3339)
	if ch.Updated["accounts"]+ch.Updated["contacts"] != 10 {
		t.Errorf("updated %v", ch.Updated)
	}
	if ch.Created["accounts"] != 2 || ch.Created["contacts"] != 6 {
		t.Errorf("created %v, want 2 accounts and 6 contacts", ch.Created)
	}
	if h.srv.Count("accounts") != 122 || h.srv.Count("contacts") != 366 {
		t.Errorf("counts %d/%d", h.srv.Count("accounts"), h.srv.Count("contacts"))
	}

	accountIDs := map[string]bool{}
	for _, resource := range []string{"accounts", "contacts"} {
		recs, raws, _ := h.all(resource, url.Values{"limit": {"7"}})
		checkSorted(t, recs)
		var changed, created []string
		for i, r := range recs {
			if resource == "accounts" {
				accountIDs[r.ID] = true
			} else {
				var c struct {
					AccountID string `json:"account_id"`
				}
				_ = json.Unmarshal(raws[i], &c)
				if !accountIDs[c.AccountID] {
					t.Errorf("contact %s belongs to unknown account %q", r.ID, c.AccountID)
				}
			}
			old, ok := before[resource][r.ID]
			switch {
			case !ok:
				created = append(created, r.ID)
				if r.CreatedAt != nowStr || r.UpdatedAt != nowStr {
					t.Errorf("new record %s: created %s updated %s, want %s", r.ID, r.CreatedAt, r.UpdatedAt, nowStr)
				}
			case old != string(raws[i]):
				changed = append(changed, r.ID)
				if r.UpdatedAt != nowStr {
					t.Errorf("changed record %s has updated_at %s, want %s", r.ID, r.UpdatedAt, nowStr)
				}
				// Exactly one business field plus updated_at changed.
				var o, n map[string]any
				_ = json.Unmarshal([]byte(old), &o)
				_ = json.Unmarshal(raws[i], &n)
				diff := 0
				for k := range n {
					if fmt.Sprint(o[k]) != fmt.Sprint(n[k]) && k != "updated_at" {
						diff++
					}
				}
				if diff != 1 {
					t.Errorf("changed record %s: %d fields changed besides updated_at:\n%s\n%s", r.ID, diff, old, raws[i])
				}
			default:
				if r.UpdatedAt >= nowStr {
					t.Errorf("unchanged record %s has updated_at %s", r.ID, r.UpdatedAt)
				}
			}
		}
		if len(changed) != ch.Updated[resource] || len(created) != ch.Created[resource] {
			t.Errorf("%s: %d changed / %d created, Mutate reported %d / %d",
				resource, len(changed), len(created), ch.Updated[resource], ch.Created[resource])
		}
		// Changed and created records are at the end of the feed.
		n := len(changed) + len(created)
		for _, r := range recs[len(recs)-n:] {
			if r.UpdatedAt != nowStr {
				t.Errorf("%s: tail record %s has updated_at %s", resource, r.ID, r.UpdatedAt)
			}
		}

		// Incremental read from the previous max updated_at: exactly the
		// changed and created records, plus unchanged ones on the boundary.
		inc, _, _ := h.all(resource, url.Values{"limit": {"7"}, "updated_since": {prevMax}})
		want := map[string]bool{}
		for _, id := range append(changed, created...) {
			want[id] = true
		}
		for _, r := range recs {
			if r.UpdatedAt == prevMax {
				want[r.ID] = true
			}
		}
		got := map[string]bool{}
		for _, r := range inc {
			got[r.ID] = true
		}
		if fmt.Sprint(got) != fmt.Sprint(want) || len(inc) != len(want) {
			t.Errorf("%s incremental read: got %v, want %v", resource, got, want)
		}
	}

	// Updating more records than exist touches each once.
	clk.Add(time.Minute)
	total := h.srv.Count("accounts") + h.srv.Count("contacts")
	ch = h.srv.Mutate(total+50, 0)
	if ch.Updated["accounts"] != h.srv.Count("accounts") || ch.Updated["contacts"] != h.srv.Count("contacts") {
		t.Errorf("Mutate(all): %v", ch.Updated)
	}
	ch = h.srv.Mutate(0, 0)
	if len(ch.Updated) != 2 || len(ch.Created) != 2 || ch.Updated["accounts"] != 0 || ch.Created["contacts"] != 0 {
		t.Errorf("Mutate(0,0): %+v", ch)
	}
}

func TestDeterminism(t *testing.T) {
	pages := func(seed int64) [][]byte {
		clk := newClock(t0)
		h := newHarness(t, Options{Seed: seed, Now: clk.Now})
		var out [][]byte
		read := func() {
			for _, resource := range []string{"accounts", "contacts"} {
				_, _, p := h.all(resource, url.Values{"limit": {"37"}})
				out = append(out, p...)
				_, _, p = h.all(resource, url.Values{"limit": {"5"}, "updated_since": {"2025-03-01T00:00:00Z"}})
				out = append(out, p...)
			}
		}
		read()
		for range 3 {
			clk.Add(17 * time.Minute)
			h.srv.Mutate(12, 9)
			read()
		}
		return out
	}
	a, b := pages(42), pages(42)
	if len(a) != len(b) {
		t.Fatalf("%d vs %d pages", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("page %d differs:\n%s\n%s", i, a[i], b[i])
		}
	}
	if c := pages(43); bytes.Equal(bytes.Join(a, nil), bytes.Join(c, nil)) {
		t.Error("different seeds produced identical data")
	}
}

var (
	stampRE   = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$`)
	accIDRE   = regexp.MustCompile(`^acc_\d{4}$`)
	conIDRE   = regexp.MustCompile(`^con_\d{4}$`)
	domainRE  = regexp.MustCompile(`^[a-z0-9-]+\.example$`)
	validPlan = map[string]bool{"free": true, "starter": true, "growth": true, "enterprise": true}
)

func TestRecordShapes(t *testing.T) {
	h := newHarness(t, Options{Seed: 9, Accounts: 300, Contacts: 1200})
	start := t0.Add(-400 * 24 * time.Hour)
	checkTimes := func(id, created, updated string) {
		if !stampRE.MatchString(created) || !stampRE.MatchString(updated) {
			t.Errorf("%s: bad timestamps %q %q", id, created, updated)
		}
		c, _ := time.Parse(time.RFC3339, created)
		u, _ := time.Parse(time.RFC3339, updated)
		if c.Before(start) || u.Before(c) || u.After(t0) {
			t.Errorf("%s: created %s updated %s outside [%s, %s]", id, created, updated, start, t0)
		}
	}

	type account struct {
		ID, Name, Domain, Website, Industry, Plan, Country string
		Employees                                          int
		Owner                                              struct{ Name, Email string }
		CreatedAt                                          string `json:"created_at"`
		UpdatedAt                                          string `json:"updated_at"`
	}
	_, raws, _ := h.all("accounts", url.Values{"limit": {"200"}})
	accounts := map[string]account{}
	names, domains := map[string]bool{}, map[string]bool{}
	byID := make([]account, len(raws)+1)
	for _, raw := range raws {
		var a account
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatal(err)
		}
		accounts[a.ID] = a
		if !accIDRE.MatchString(a.ID) {
			t.Errorf("bad id %q", a.ID)
		}
		n, _ := strconv.Atoi(strings.TrimPrefix(a.ID, "acc_"))
		byID[n] = a
		if names[a.Name] || domains[a.Domain] {
			t.Errorf("duplicate name/domain %q %q", a.Name, a.Domain)
		}
		names[a.Name], domains[a.Domain] = true, true
		if !domainRE.MatchString(a.Domain) || a.Website != "https://www."+a.Domain {
			t.Errorf("%s: domain %q website %q", a.ID, a.Domain, a.Website)
		}
		first := strings.ToLower(strings.Fields(a.Name)[0])
		if !strings.HasPrefix(a.Domain, first) {
			t.Errorf("%s: domain %q not derived from name %q", a.ID, a.Domain, a.Name)
		}
		if !validPlan[a.Plan] || a.Employees < 1 || a.Industry == "" || len(a.Country) != 2 ||
			a.Owner.Name == "" || !strings.HasSuffix(a.Owner.Email, "@demo-crm.example") {
			t.Errorf("bad account %s", raw)
		}
		checkTimes(a.ID, a.CreatedAt, a.UpdatedAt)
	}
	if len(accounts) != 300 {
		t.Fatalf("%d accounts", len(accounts))
	}
	for i := 2; i < len(byID); i++ { // ids follow creation order
		if byID[i].CreatedAt < byID[i-1].CreatedAt {
			t.Errorf("%s created before %s", byID[i].ID, byID[i-1].ID)
		}
	}

	type contact struct {
		ID             string  `json:"id"`
		AccountID      string  `json:"account_id"`
		FirstName      string  `json:"first_name"`
		LastName       string  `json:"last_name"`
		Email          string  `json:"email"`
		Phone          *string `json:"phone"`
		Title          string  `json:"title"`
		LifecycleStage string  `json:"lifecycle_stage"`
		CreatedAt      string  `json:"created_at"`
		UpdatedAt      string  `json:"updated_at"`
	}
	_, raws, _ = h.all("contacts", url.Values{"limit": {"200"}})
	mixed, noPhone := 0, 0
	emails := map[string]bool{}
	for _, raw := range raws {
		if !bytes.Contains(raw, []byte(`"phone":`)) {
			t.Fatalf("phone key missing: %s", raw)
		}
		var c contact
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatal(err)
		}
		if !conIDRE.MatchString(c.ID) {
			t.Errorf("bad id %q", c.ID)
		}
		acc, ok := accounts[c.AccountID]
		if !ok {
			t.Fatalf("contact %s: unknown account %q", c.ID, c.AccountID)
		}
		if acc.CreatedAt > c.CreatedAt {
			t.Errorf("contact %s created before its account", c.ID)
		}
		lower := strings.ToLower(c.Email)
		if !strings.HasSuffix(lower, "@"+acc.Domain) {
			t.Errorf("contact %s: email %q not on %q", c.ID, c.Email, acc.Domain)
		}
		if emails[lower] {
			t.Errorf("duplicate email %q", c.Email)
		}
		emails[lower] = true
		if lower != c.Email {
			mixed++
		}
		if c.Phone == nil {
			noPhone++
		} else if !strings.HasPrefix(*c.Phone, "+") {
			t.Errorf("phone %q", *c.Phone)
		}
		if c.FirstName == "" || c.LastName == "" || c.Title == "" || c.LifecycleStage == "" {
			t.Errorf("bad contact %s", raw)
		}
		checkTimes(c.ID, c.CreatedAt, c.UpdatedAt)
	}
	// ~5% mixed-case emails and ~3% null phones out of 1200.
	if mixed < 30 || mixed > 100 {
		t.Errorf("%d mixed-case emails of %d", mixed, len(raws))
	}
	if noPhone < 15 || noPhone > 70 {
		t.Errorf("%d null phones of %d", noPhone, len(raws))
	}
}

func TestRateLimitHeadersAndRequests(t *testing.T) {
	clk := newClock(t0)
	h := newHarness(t, Options{Now: clk.Now, Accounts: 3, Contacts: 3})
	remaining := func(r resp) int {
		t.Helper()
		if r.header.Get("X-RateLimit-Limit") != "600" {
			t.Errorf("X-RateLimit-Limit %q", r.header.Get("X-RateLimit-Limit"))
		}
		n, err := strconv.Atoi(r.header.Get("X-RateLimit-Remaining"))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := remaining(h.get("/v1/accounts", nil)); got != 599 {
		t.Errorf("remaining %d", got)
	}
	if got := remaining(h.do("GET", "/v1/accounts", nil, nil)); got != 598 { // 401 counts too
		t.Errorf("remaining %d", got)
	}
	if got := remaining(h.get("/nope", nil)); got != 597 {
		t.Errorf("remaining %d", got)
	}
	clk.Add(time.Minute)
	if got := remaining(h.get("/v1/contacts", nil)); got != 599 {
		t.Errorf("remaining after a minute %d", got)
	}
	for range 700 { // never enforced
		h.srv.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/accounts", nil))
	}
	r := h.get("/v1/accounts", nil)
	if r.status != 200 || remaining(r) != 0 {
		t.Errorf("over the limit: status %d remaining %d", r.status, remaining(r))
	}
	if got := h.srv.Requests(); got != 705 {
		t.Errorf("Requests() = %d, want 705", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	clk := newClock(t0)
	h := newHarness(t, Options{Now: clk.Now, Accounts: 50, Contacts: 100})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			resource := []string{"accounts", "contacts"}[i%2]
			q := url.Values{"limit": {"13"}}
			for range 200 {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest("GET", "/v1/"+resource+"?"+q.Encode(), nil)
				req.Header.Set("X-API-Key", "demo-key")
				h.srv.Handler().ServeHTTP(rec, req)
				if rec.Code != 200 {
					t.Errorf("status %d: %s", rec.Code, rec.Body)
					return
				}
				var p page
				_ = json.Unmarshal(rec.Body.Bytes(), &p)
				if !p.HasMore {
					q.Del("cursor")
				} else {
					q.Set("cursor", *p.NextCursor)
				}
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			clk.Add(time.Second)
			h.srv.Mutate(3, 2)
			_ = h.srv.Count("contacts")
		}
	})
	wg.Wait()
	if h.srv.Requests() != 1600 {
		t.Errorf("Requests() = %d", h.srv.Requests())
	}
}
