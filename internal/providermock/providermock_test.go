package providermock

// The mocks' fidelity to the provider API notes: paging formats and last pages,
// changed-since semantics, auth refusals, rate-limit answers and error bodies. The
// connectors' end-to-end tests are in connectors/.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testClock = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

// answer is one HTTP answer, its JSON body decoded (nil when not JSON).
type answer struct {
	status int
	header http.Header
	raw    []byte
	body   any
}

func (a answer) obj() map[string]any { m, _ := a.body.(map[string]any); return m }

func call(t *testing.T, method, u string, header map[string]string, body any) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			raw, err := json.Marshal(b)
			require.NoError(t, err)
			rd = bytes.NewReader(raw)
		}
	}
	req, err := http.NewRequest(method, u, rd)
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func serve(t *testing.T, m Mock) map[string]string {
	t.Helper()
	urls, stop := Serve(m)
	t.Cleanup(stop)
	return urls
}

func TestHubSpot(t *testing.T) {
	h := NewHubSpot(HubSpotOptions{Common: Common{Now: func() time.Time { return testClock }, RateLimit: -1}})
	base := serve(t, h)["api"]
	auth := map[string]string{"Authorization": "Bearer " + DefaultHubSpotToken}
	search := func(obj string, body map[string]any) answer {
		return call(t, "POST", base+"/crm/v3/objects/"+obj+"/search", auth, body)
	}

	t.Run("bad token", func(t *testing.T) {
		a := call(t, "POST", base+"/crm/v3/objects/contacts/search", map[string]string{"Authorization": "Bearer nope"}, map[string]any{})
		assert.Equal(t, 401, a.status)
		assert.Equal(t, "INVALID_AUTHENTICATION", a.obj()["category"])
		assert.Equal(t, "401 Unauthorized", a.header.Get("x-hubspot-auth-failure"))
	})
	t.Run("search pages by offset, inclusive GTE on epoch ms, properties are strings", func(t *testing.T) {
		all := map[string]bool{}
		after := "0"
		var bound string
		for pages := 0; ; pages++ {
			a := search("contacts", map[string]any{"sorts": []any{map[string]any{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}},
				"properties": []any{"email", "numberofemployees", "hs_email_optout"}, "limit": 200, "after": after})
			require.Equal(t, 200, a.status, string(a.raw))
			for _, r := range a.obj()["results"].([]any) {
				rec := r.(map[string]any)
				all[rec["id"].(string)] = true
				for k, v := range rec["properties"].(map[string]any) {
					if v != nil {
						assert.IsType(t, "", v, "property %s", k)
					}
				}
				assert.NotContains(t, rec, "associations", "search answers carry no associations")
				bound = rec["properties"].(map[string]any)["lastmodifieddate"].(string)
			}
			assert.Empty(t, a.header.Get("X-HubSpot-RateLimit-Remaining"), "search answers carry no rate-limit headers")
			next, _ := a.obj()["paging"].(map[string]any)
			if next == nil {
				break
			}
			after = next["next"].(map[string]any)["after"].(string)
			_, err := fmt.Sscan(after, new(int))
			require.NoError(t, err, "search's after is a numeric offset")
		}
		assert.Equal(t, h.Counts()["contacts"], len(all), "archived contacts never appear in search")
		ts, err := time.Parse(time.RFC3339Nano, bound)
		require.NoError(t, err)
		a := search("contacts", map[string]any{"filterGroups": []any{map[string]any{"filters": []any{map[string]any{
			"propertyName": "lastmodifieddate", "operator": "GTE", "value": fmt.Sprint(ts.UnixMilli())}}}}})
		require.Equal(t, 200, a.status, string(a.raw))
		assert.GreaterOrEqual(t, a.obj()["total"], float64(1), "GTE includes the bound")
	})
	t.Run("validation", func(t *testing.T) {
		cases := []map[string]any{
			{"limit": 201},
			{"after": "10000"},
			{"filterGroups": []any{map[string]any{"filters": []any{map[string]any{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "1"}}}}},
			{"filterGroups": []any{map[string]any{"filters": []any{map[string]any{"propertyName": "lastmodifieddate", "operator": "GTE", "value": "2024-01-01T00:00:00Z"}}}}},
			{"sorts": []any{map[string]any{"propertyName": "email"}, map[string]any{"propertyName": "createdate"}}},
			{"properties": []any{strings.Repeat("x", 3001)}},
		}
		for _, c := range cases {
			a := search("contacts", c)
			assert.Equal(t, 400, a.status, "%v", c)
			assert.Equal(t, "VALIDATION_ERROR", a.obj()["category"], "%v", c)
		}
		assert.Equal(t, 200, search("companies", map[string]any{"filterGroups": []any{map[string]any{"filters": []any{
			map[string]any{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "1"}}}}}).status, "companies use hs_lastmodifieddate")
	})
	t.Run("list: opaque after, limit 100, associations, rate headers", func(t *testing.T) {
		a := call(t, "GET", base+"/crm/v3/objects/contacts?limit=500&associations=companies", auth, nil)
		require.Equal(t, 200, a.status)
		assert.Len(t, a.obj()["results"], 100)
		next := a.obj()["paging"].(map[string]any)["next"].(map[string]any)
		_, err := fmt.Sscan(next["after"].(string), new(int))
		assert.Error(t, err, "the list's after is opaque")
		assert.True(t, strings.HasPrefix(next["link"].(string), base+"/crm/v3/objects/contacts?"), next["link"])
		first := a.obj()["results"].([]any)[0].(map[string]any)
		assocs := first["associations"].(map[string]any)["companies"].(map[string]any)["results"].([]any)
		assert.Len(t, assocs, 2, "one company, once per association label")
		assert.NotEmpty(t, a.header.Get("X-HubSpot-RateLimit-Remaining"))
		arch := call(t, "GET", base+"/crm/v3/objects/contacts?archived=true", auth, nil)
		for _, r := range arch.obj()["results"].([]any) {
			assert.Contains(t, r, "archivedAt")
		}
	})
	t.Run("429", func(t *testing.T) {
		h.Throttle(0, 1)
		a := search("deals", map[string]any{})
		assert.Equal(t, 429, a.status)
		assert.Equal(t, "TEN_SECONDLY_ROLLING", a.obj()["policyName"])
		assert.Equal(t, "RATE_LIMIT", a.obj()["errorType"])
	})
}

func TestSalesforce(t *testing.T) {
	clock := NewClock(testClock)
	s := NewSalesforce(SalesforceOptions{Common: Common{Now: clock.Now}, TokenUses: 50})
	urls := serve(t, s)
	form := url.Values{"grant_type": {"refresh_token"}, "client_id": {DefaultSalesforceClientID}, "client_secret": {DefaultSalesforceClientSecret}, "refresh_token": {DefaultSalesforceRefreshToken}}
	token := func(f url.Values) answer {
		return call(t, "POST", urls["login"]+"/services/oauth2/token", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, f.Encode())
	}
	tok := token(form)
	require.Equal(t, 200, tok.status, string(tok.raw))
	assert.Equal(t, urls["api"], tok.obj()["instance_url"])
	assert.NotContains(t, tok.obj(), "expires_in")
	assert.NotContains(t, tok.obj(), "refresh_token")
	assert.Len(t, tok.obj()["issued_at"], 13, "epoch milliseconds, as a string")
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("refresh_token", "stale")
	assert.Equal(t, "invalid_grant", token(bad).obj()["error"])

	auth := map[string]string{"Authorization": "Bearer " + tok.obj()["access_token"].(string), "Sforce-Query-Options": "batchSize=200"}
	query := func(path, soql string) answer {
		return call(t, "GET", urls["api"]+"/services/data/v60.0/"+path+"?q="+url.QueryEscape(soql), auth, nil)
	}
	t.Run("query pages", func(t *testing.T) {
		a := query("query", "SELECT Id, Name, SystemModstamp, Owner.Email FROM Account ORDER BY SystemModstamp ASC, Id ASC")
		require.Equal(t, 200, a.status, string(a.raw))
		total := int(a.obj()["totalSize"].(float64))
		seen, sizes := 0, []int{}
		for {
			recs := a.obj()["records"].([]any)
			seen += len(recs)
			sizes = append(sizes, len(recs))
			r := recs[0].(map[string]any)
			assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+0000$`, r["SystemModstamp"])
			assert.Len(t, r["Id"], 18)
			assert.Contains(t, r["attributes"], "url")
			assert.Contains(t, r["Owner"], "Email")
			if a.obj()["done"] == true {
				assert.NotContains(t, a.obj(), "nextRecordsUrl")
				break
			}
			next := a.obj()["nextRecordsUrl"].(string)
			assert.Regexp(t, `^/services/data/v60\.0/query/01g\w+-\d+$`, next, "relative, ending in the row offset")
			a = call(t, "GET", urls["api"]+next, auth, nil)
			require.Equal(t, 200, a.status, string(a.raw))
			assert.Equal(t, float64(total), a.obj()["totalSize"], "totalSize counts every row")
		}
		assert.Equal(t, total, seen)
		assert.Contains(t, sizes, 200-200/7, "pages may be shorter than the batch size")
	})
	t.Run("queryAll includes deleted rows", func(t *testing.T) {
		live := query("query", "SELECT Id FROM Account").obj()["totalSize"]
		all := query("queryAll", "SELECT Id, IsDeleted FROM Account").obj()["totalSize"]
		assert.Less(t, live.(float64), all.(float64))
	})
	t.Run("SOQL errors are arrays", func(t *testing.T) {
		for soql, code := range map[string]string{
			"SELECT Id, Nope FROM Account": "INVALID_FIELD",
			"SELECT Id FROM Nope":          "INVALID_TYPE",
			"SELECT Id FROM Account WHERE SystemModstamp >= 2024-01-01T00:00:00 00:00": "MALFORMED_QUERY", // a '+' sent unencoded
			"SELECT Id FROM Account WHERE SystemModstamp >= '2024-01-01T00:00:00Z'":    "INVALID_FIELD",
			"SELEC Id FROM Account": "MALFORMED_QUERY",
		} {
			a := query("query", soql)
			assert.Equal(t, 400, a.status, soql)
			arr, ok := a.body.([]any)
			require.True(t, ok, "an array: %s", a.raw)
			assert.Equal(t, code, arr[0].(map[string]any)["errorCode"], soql)
		}
	})
	t.Run("an 11th cursor drops the oldest", func(t *testing.T) {
		first := query("query", "SELECT Id FROM Contact").obj()["nextRecordsUrl"].(string)
		for i := 0; i < 10; i++ {
			query("query", "SELECT Id FROM Contact")
		}
		a := call(t, "GET", urls["api"]+first, auth, nil)
		assert.Equal(t, 400, a.status)
		assert.Contains(t, string(a.raw), "INVALID_QUERY_LOCATOR")
	})
	t.Run("expired session", func(t *testing.T) {
		clock.Advance(3 * time.Hour)
		a := query("query", "SELECT Id FROM User")
		assert.Equal(t, 401, a.status)
		assert.JSONEq(t, `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`, string(a.raw))
	})
	t.Run("request limit is a 403", func(t *testing.T) {
		tok := token(form)
		auth["Authorization"] = "Bearer " + tok.obj()["access_token"].(string)
		s.Throttle(0, 1)
		a := query("query", "SELECT Id FROM User")
		assert.Equal(t, 403, a.status)
		assert.Contains(t, string(a.raw), "REQUEST_LIMIT_EXCEEDED")
		assert.Regexp(t, `^api-usage=\d+/15000$`, a.header.Get("Sforce-Limit-Info"))
	})
}

func TestZendesk(t *testing.T) {
	clock := NewClock(testClock)
	z := NewZendesk(ZendeskOptions{Common: Common{Now: clock.Now, RateLimit: -1}})
	base := serve(t, z)["api"] + "/api/v2"
	cred := base64.StdEncoding.EncodeToString([]byte(DefaultZendeskEmail + "/token:" + DefaultZendeskAPIToken))
	auth := map[string]string{"Authorization": "Basic " + cred}
	get := func(path string) answer { return call(t, "GET", base+path, auth, nil) }

	t.Run("auth", func(t *testing.T) {
		a := call(t, "GET", base+"/incremental/tickets/cursor.json?start_time=0", map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("x/token:y"))}, nil)
		assert.Equal(t, 401, a.status)
		assert.JSONEq(t, `{"error":"Couldn't authenticate you"}`, string(a.raw))
		assert.Equal(t, `Basic realm="Web Password"`, a.header.Get("WWW-Authenticate"))
	})
	t.Run("cursor export to the end, with and without .json", func(t *testing.T) {
		seen := 0
		a := get("/incremental/tickets/cursor?start_time=0&per_page=100")
		deleted := 0
		for {
			require.Equal(t, 200, a.status, string(a.raw))
			for _, tk := range a.obj()["tickets"].([]any) {
				if tk.(map[string]any)["status"] == "deleted" {
					deleted++
				}
				assert.IsType(t, float64(0), tk.(map[string]any)["id"], "ids are integers")
			}
			seen += len(a.obj()["tickets"].([]any))
			assert.NotEmpty(t, a.obj()["after_cursor"], "even the last page has an after_cursor")
			if a.obj()["end_of_stream"] == true {
				break
			}
			a = get("/incremental/tickets/cursor.json?per_page=100&cursor=" + url.QueryEscape(a.obj()["after_cursor"].(string)))
		}
		assert.Equal(t, z.Counts()["tickets"], seen)
		assert.Positive(t, deleted, "deleted tickets stay in the stream")
		// Resuming from the last cursor after a change reads only the change.
		last := a.obj()["after_cursor"].(string)
		clock.Advance(time.Minute)
		z.Change(2)
		b := get("/incremental/tickets/cursor.json?cursor=" + url.QueryEscape(last))
		assert.Empty(t, b.obj()["tickets"], "the last minute is held back")
		clock.Advance(2 * time.Minute)
		b = get("/incremental/tickets/cursor.json?cursor=" + url.QueryEscape(last))
		assert.Len(t, b.obj()["tickets"], 4, "two changed, one deleted, one created")
		assert.Equal(t, true, b.obj()["end_of_stream"])
	})
	t.Run("start_time", func(t *testing.T) {
		a := get(fmt.Sprintf("/incremental/tickets/cursor.json?start_time=%d", clock.Now().Add(-30*time.Second).Unix()))
		assert.Equal(t, 422, a.status)
		assert.Equal(t, 400, get("/incremental/tickets/cursor.json?start_time=2024-01-01T00:00:00Z").status, "unix seconds only")
		assert.Equal(t, 400, get("/incremental/tickets/cursor.json?start_time=0&cursor=abc").status)
	})
	t.Run("time export: next_page on the last page, duplicates at end_time", func(t *testing.T) {
		ids := map[float64]int{}
		a := get("/incremental/organizations.json?start_time=0&per_page=40")
		pages := 0
		for {
			pages++
			require.Equal(t, 200, a.status, string(a.raw))
			assert.NotNil(t, a.obj()["next_page"], "next_page is a URL even on the last page")
			for _, o := range a.obj()["organizations"].([]any) {
				ids[o.(map[string]any)["id"].(float64)]++
			}
			if a.obj()["end_of_stream"] == true {
				break
			}
			a = call(t, "GET", a.obj()["next_page"].(string), auth, nil)
		}
		assert.Len(t, ids, z.Counts()["organizations"])
		dup := 0
		for _, n := range ids {
			if n > 1 {
				dup++
			}
		}
		assert.Positive(t, dup, "items at a page's end_time come again")
	})
	t.Run("10 a minute", func(t *testing.T) {
		z2 := NewZendesk(ZendeskOptions{Common: Common{Now: clock.Now}})
		b := serve(t, z2)["api"] + "/api/v2"
		var last answer
		for i := 0; i < 11; i++ {
			last = call(t, "GET", b+"/incremental/organizations?start_time=0", auth, nil)
		}
		assert.Equal(t, 429, last.status)
		assert.NotEmpty(t, last.header.Get("Retry-After"))
		// The other endpoints count against the plan's limit, not the exports'.
		assert.Equal(t, 200, call(t, "GET", fmt.Sprintf("%s/tickets/%d/comments.json", b, z2.tickets[0].id), auth, nil).status)
	})
	t.Run("comments: cursor pages with side-loaded authors; a deleted ticket is a 404", func(t *testing.T) {
		var long, gone *zdRecord
		for _, tk := range z.tickets {
			if len(tk.comments) == 130 {
				long = tk
			}
			if tk.fields["status"] == "deleted" {
				gone = tk
			}
		}
		require.NotNil(t, long)
		a := get(fmt.Sprintf("/tickets/%d/comments.json?page[size]=100&include=users", long.id))
		require.Equal(t, 200, a.status, string(a.raw))
		assert.Len(t, a.obj()["comments"], 100)
		meta := a.obj()["meta"].(map[string]any)
		assert.Equal(t, true, meta["has_more"])
		assert.NotEmpty(t, a.obj()["users"], "the authors")
		next := a.obj()["links"].(map[string]any)["next"].(string)
		b := call(t, "GET", next, auth, nil)
		assert.Len(t, b.obj()["comments"], 30)
		assert.Equal(t, false, b.obj()["meta"].(map[string]any)["has_more"])
		assert.Nil(t, b.obj()["links"].(map[string]any)["next"])
		c := get(fmt.Sprintf("/tickets/%d/comments?page[size]=100&page[after]=%s", long.id, url.QueryEscape(meta["after_cursor"].(string))))
		assert.Equal(t, b.obj()["comments"], c.obj()["comments"], "page[after] and links.next say the same")
		first := a.obj()["comments"].([]any)[0].(map[string]any)
		assert.Equal(t, long.fields["description"], first["body"], "the first comment is the description")
		assert.Equal(t, 400, get(fmt.Sprintf("/tickets/%d/comments?page[size]=101", long.id)).status)
		o := get(fmt.Sprintf("/tickets/%d/comments", long.id))
		assert.Equal(t, float64(130), o.obj()["count"], "offset pages without page[size]")
		assert.NotNil(t, o.obj()["next_page"])
		require.NotNil(t, gone)
		assert.Equal(t, 404, get(fmt.Sprintf("/tickets/%d/comments.json", gone.id)).status)
	})
}

func TestStripe(t *testing.T) {
	s := NewStripe(StripeOptions{Common: Common{Now: func() time.Time { return testClock }, RateLimit: -1}})
	base := serve(t, s)["api"] + "/v1"
	auth := map[string]string{"Authorization": "Bearer " + DefaultStripeKey}
	get := func(path string) answer { return call(t, "GET", base+path, auth, nil) }

	t.Run("basic auth and masked bad key", func(t *testing.T) {
		a := call(t, "GET", base+"/customers", map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(DefaultStripeKey+":"))}, nil)
		assert.Equal(t, 200, a.status)
		a = call(t, "GET", base+"/customers", map[string]string{"Authorization": "Bearer sk_test_wrongwrongwrong1234"}, nil)
		assert.Equal(t, 401, a.status)
		msg := a.obj()["error"].(map[string]any)["message"].(string)
		assert.Contains(t, msg, "sk_test_*")
		assert.NotContains(t, msg, "wrongwrong")
	})
	t.Run("newest first, starting_after, has_more", func(t *testing.T) {
		var last float64 = 1 << 62
		n, after := 0, ""
		for {
			a := get("/customers?limit=100" + after)
			require.Equal(t, 200, a.status, string(a.raw))
			assert.Equal(t, "/v1/customers", a.obj()["url"])
			assert.NotContains(t, a.obj(), "total_count")
			data := a.obj()["data"].([]any)
			for _, d := range data {
				c := d.(map[string]any)["created"].(float64)
				assert.LessOrEqual(t, c, last)
				last = c
				assert.Contains(t, d, "phone", "null fields are present")
			}
			n += len(data)
			if a.obj()["has_more"] == false {
				break
			}
			after = "&starting_after=" + data[len(data)-1].(map[string]any)["id"].(string)
		}
		assert.Equal(t, s.Counts()["customers"], n)
	})
	t.Run("errors", func(t *testing.T) {
		for path, param := range map[string]string{
			"/customers?limit=101":                        "limit",
			"/customers?created%5Bgte%5D=2024-01-01":      "created[gte]",
			"/customers?starting_after=cus_gone":          "starting_after",
			"/invoices?expand%5B%5D=customer":             "expand",
			"/customers?starting_after=a&ending_before=b": "",
		} {
			a := get(path)
			assert.Equal(t, 400, a.status, path)
			e := a.obj()["error"].(map[string]any)
			assert.Equal(t, "invalid_request_error", e["type"], path)
			if param != "" {
				assert.Equal(t, param, e["param"], path)
			}
		}
	})
	t.Run("subscriptions hide canceled ones unless status=all", func(t *testing.T) {
		count := func(q string) int {
			n, after := 0, ""
			for {
				a := get("/subscriptions?limit=100" + q + after)
				data := a.obj()["data"].([]any)
				n += len(data)
				if a.obj()["has_more"] == false {
					return n
				}
				after = "&starting_after=" + data[len(data)-1].(map[string]any)["id"].(string)
			}
		}
		assert.Less(t, count(""), count("&status=all"))
		assert.Equal(t, s.Counts()["subscriptions"], count("&status=all"))
	})
	t.Run("expand data.customer", func(t *testing.T) {
		a := get("/invoices?limit=1&expand%5B%5D=data.customer")
		assert.IsType(t, map[string]any{}, a.obj()["data"].([]any)[0].(map[string]any)["customer"])
	})
	t.Run("429", func(t *testing.T) {
		s.Throttle(0, 1)
		a := get("/charges")
		assert.Equal(t, 429, a.status)
		assert.Equal(t, "rate_limit", a.obj()["error"].(map[string]any)["code"])
		assert.Empty(t, a.header.Get("Retry-After"))
	})
}

func TestGitHub(t *testing.T) {
	g := NewGitHub(GitHubOptions{Common: Common{Now: func() time.Time { return testClock }, RateLimit: -1}})
	base := serve(t, g)["api"]
	auth := map[string]string{"Authorization": "Bearer " + DefaultGitHubToken, "User-Agent": "test"}
	get := func(path string) answer { return call(t, "GET", base+path, auth, nil) }

	t.Run("default state is open", func(t *testing.T) {
		a := get("/repos/octocat/Hello-World/issues?per_page=100")
		for _, it := range a.body.([]any) {
			assert.Equal(t, "open", it.(map[string]any)["state"])
		}
	})
	t.Run("link header", func(t *testing.T) {
		a := get("/repos/octocat/Hello-World/issues?state=all&per_page=100&sort=updated&direction=asc")
		link := a.header.Get("Link")
		assert.Contains(t, link, `rel="next"`)
		assert.Contains(t, link, `rel="last"`)
		assert.Contains(t, link, base+"/repositories/1296269/issues?", "links use /repositories/{id}")
		pages, n, prs := 1, len(a.body.([]any)), 0
		for {
			for _, it := range a.body.([]any) {
				if _, ok := it.(map[string]any)["pull_request"]; ok {
					prs++
				}
			}
			next := ""
			for _, l := range strings.Split(a.header.Get("Link"), ",") {
				if strings.Contains(l, `rel="next"`) {
					next = strings.Trim(strings.TrimSpace(strings.Split(l, ";")[0]), "<>")
				}
			}
			if next == "" {
				assert.NotContains(t, a.header.Get("Link"), `rel="last"`, "the last page has no last")
				break
			}
			a = call(t, "GET", next, auth, nil)
			require.Equal(t, 200, a.status)
			pages++
			n += len(a.body.([]any))
		}
		assert.Equal(t, g.Counts()["issues"]+g.Counts()["pull_requests"], n)
		assert.Equal(t, g.Counts()["pull_requests"], prs)
		assert.Equal(t, "[]", strings.TrimSpace(string(get("/repos/octocat/Hello-World/issues?page=99").raw)), "past the end: 200 []")
		one := get("/repos/octocat/Hello-World/issues/comments?per_page=100&since=2025-12-30T00:00:00Z")
		assert.Empty(t, one.header.Get("Link"), "no Link header when one page holds everything")
	})
	t.Run("since is inclusive", func(t *testing.T) {
		a := get("/repos/octocat/Hello-World/issues?state=all&sort=updated&direction=asc&per_page=1")
		at := a.body.([]any)[0].(map[string]any)["updated_at"].(string)
		b := get("/repos/octocat/Hello-World/issues?state=all&sort=updated&direction=asc&per_page=1&since=" + at)
		assert.Equal(t, at, b.body.([]any)[0].(map[string]any)["updated_at"])
	})
	t.Run("refusals", func(t *testing.T) {
		assert.Equal(t, 403, call(t, "GET", base+"/repos/octocat/Hello-World/issues", map[string]string{"User-Agent": ""}, nil).status)
		a := call(t, "GET", base+"/repos/octocat/Hello-World/issues", map[string]string{"Authorization": "token bad", "User-Agent": "x"}, nil)
		assert.Equal(t, 401, a.status)
		assert.Equal(t, "401", a.obj()["status"], "status is a string")
		assert.Equal(t, 404, get("/repos/octocat/Hello-World/issues/").status, "a trailing slash")
		assert.Equal(t, 400, call(t, "GET", base+"/repos/octocat/Hello-World/issues", map[string]string{"X-GitHub-Api-Version": "1999-01-01", "User-Agent": "x"}, nil).status)
	})
	t.Run("304 is free", func(t *testing.T) {
		g2 := NewGitHub(GitHubOptions{Common: Common{Now: func() time.Time { return testClock }, RateLimit: 2}})
		b := serve(t, g2)["api"]
		a := call(t, "GET", b+"/repos/octocat/Hello-World/issues", auth, nil)
		h := map[string]string{"If-None-Match": a.header.Get("ETag")}
		for k, v := range auth {
			h[k] = v
		}
		for i := 0; i < 3; i++ {
			assert.Equal(t, 304, call(t, "GET", b+"/repos/octocat/Hello-World/issues", h, nil).status)
		}
		assert.Equal(t, 200, call(t, "GET", b+"/repos/octocat/Hello-World/issues", auth, nil).status, "304s did not count")
		spent := call(t, "GET", b+"/repos/octocat/Hello-World/issues", auth, nil)
		assert.Equal(t, 403, spent.status)
		assert.Equal(t, "0", spent.header.Get("x-ratelimit-remaining"))
		assert.Contains(t, spent.obj()["message"], "API rate limit exceeded")
	})
	t.Run("private repository", func(t *testing.T) {
		g3 := NewGitHub(GitHubOptions{Private: true})
		b := serve(t, g3)["api"]
		assert.Equal(t, 404, call(t, "GET", b+"/repos/octocat/Hello-World/issues", map[string]string{"User-Agent": "x"}, nil).status)
	})
}

func TestIntercom(t *testing.T) {
	clock := NewClock(testClock)
	ic := NewIntercom(IntercomOptions{Common: Common{Now: clock.Now, RateLimit: -1}})
	base := serve(t, ic)["api"]
	auth := map[string]string{"Authorization": "Bearer " + DefaultIntercomToken, "Accept": "application/json"}
	search := func(body any, version string, query string) answer {
		h := map[string]string{"Intercom-Version": version}
		for k, v := range auth {
			h[k] = v
		}
		return call(t, "POST", base+"/contacts/search"+query, h, body)
	}

	t.Run("cursor in the body; the query string is ignored", func(t *testing.T) {
		q := map[string]any{"field": "updated_at", "operator": ">", "value": 0}
		a := search(map[string]any{"query": q, "pagination": map[string]any{"per_page": 150, "starting_after": nil}}, "2.11", "")
		require.Equal(t, 200, a.status, string(a.raw))
		n := len(a.obj()["data"].([]any))
		firstOfPage1 := a.obj()["data"].([]any)[0]
		for {
			next, ok := a.obj()["pages"].(map[string]any)["next"].(map[string]any)
			if !ok {
				break
			}
			again := search(map[string]any{"query": q, "pagination": map[string]any{"per_page": 150}}, "2.11", "?starting_after="+url.QueryEscape(next["starting_after"].(string)))
			assert.Equal(t, firstOfPage1, again.obj()["data"].([]any)[0], "starting_after in the URL: page 1 again")
			a = search(map[string]any{"query": q, "pagination": map[string]any{"per_page": 150, "starting_after": next["starting_after"]}}, "2.11", "")
			n += len(a.obj()["data"].([]any))
		}
		assert.Equal(t, ic.Counts()["contacts"], n)
		assert.NotContains(t, a.obj()["pages"], "next", "the last page has no next")
	})
	t.Run("dates compare by day in the workspace's zone", func(t *testing.T) {
		// Two changes on the same (Los Angeles) day, an hour apart: each edits the same
		// contact and creates one.
		clock.Advance(time.Hour)
		ic.Change(1)
		first := clock.Now().Unix()
		clock.Advance(time.Hour)
		ic.Change(1)
		q := func(op string, v int64) map[string]any {
			return map[string]any{"query": map[string]any{"field": "updated_at", "operator": op, "value": fmt.Sprint(v)}}
		}
		assert.Zero(t, search(q(">", first), "2.11", "").obj()["total_count"], "> T starts the day after T's")
		assert.Equal(t, float64(3), search(q(">", first-86400), "2.11", "").obj()["total_count"], "> T-1d catches the whole day's changes")
		assert.Equal(t, 400, search(q(">=", first), "2.11", "").status, ">= is refused on date fields")
		assert.Equal(t, float64(2), search(q(">", first), "Preview", "").obj()["total_count"], "Preview compares seconds")
	})
	t.Run("refusals", func(t *testing.T) {
		a := call(t, "POST", base+"/contacts/search", map[string]string{"Authorization": "Bearer bad", "Accept": "application/json"}, map[string]any{})
		assert.Equal(t, 401, a.status)
		assert.Equal(t, "error.list", a.obj()["type"])
		assert.Empty(t, a.header.Get("X-RateLimit-Limit"), "no rate headers without valid credentials")
		assert.Equal(t, 406, call(t, "GET", base+"/companies/scroll", map[string]string{"Authorization": auth["Authorization"], "Accept": "text/html"}, nil).status)
		assert.Equal(t, 404, call(t, "GET", base+"/contacts/search", auth, nil).status, "a wrong method is a 404")
	})
	t.Run("scroll", func(t *testing.T) {
		a := call(t, "GET", base+"/companies/scroll", auth, nil)
		require.Equal(t, 200, a.status)
		assert.Nil(t, a.obj()["pages"])
		param := a.obj()["scroll_param"].(string)
		assert.Equal(t, 400, call(t, "GET", base+"/companies/scroll", auth, nil).status, "one open scroll per app")
		n := len(a.obj()["data"].([]any))
		for {
			a = call(t, "GET", base+"/companies/scroll?scroll_param="+param, auth, nil)
			require.Equal(t, 200, a.status)
			if len(a.obj()["data"].([]any)) == 0 {
				break
			}
			n += len(a.obj()["data"].([]any))
		}
		live := 0
		for _, c := range ic.companies {
			if !c.deleted {
				live++
			}
		}
		assert.Equal(t, live, n, "every company not deleted")
		assert.Equal(t, 404, call(t, "GET", base+"/companies/scroll?scroll_param="+param, auth, nil).status, "dead after the end")
		a = call(t, "GET", base+"/companies/scroll", auth, nil)
		clock.Advance(2 * time.Minute)
		assert.Equal(t, 404, call(t, "GET", base+"/companies/scroll?scroll_param="+a.obj()["scroll_param"].(string), auth, nil).status, "expired after a minute")
	})
	t.Run("429 with reset", func(t *testing.T) {
		ic.Throttle(0, 1)
		a := call(t, "GET", base+"/companies/scroll", auth, nil)
		assert.Equal(t, 429, a.status)
		assert.Equal(t, "0", a.header.Get("X-RateLimit-Remaining"))
		assert.NotEmpty(t, a.header.Get("X-RateLimit-Reset"))
		assert.Contains(t, string(a.raw), "rate_limit_exceeded")
	})
}

func TestJira(t *testing.T) {
	j := NewJira(JiraOptions{Common: Common{Now: func() time.Time { return testClock }, RateLimit: -1}})
	base := serve(t, j)["api"] + "/rest/api/3"
	auth := map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(DefaultJiraEmail+":"+DefaultJiraAPIToken))}
	search := func(params url.Values) answer { return call(t, "GET", base+"/search/jql?"+params.Encode(), auth, nil) }

	t.Run("the old search is gone", func(t *testing.T) {
		a := call(t, "GET", base+"/search?jql=project%3DED", auth, nil)
		assert.Equal(t, 410, a.status)
		assert.Contains(t, string(a.raw), "/rest/api/3/search/jql")
	})
	t.Run("unbounded JQL", func(t *testing.T) {
		assert.Equal(t, 400, search(url.Values{"jql": {"order by key"}}).status)
	})
	t.Run("pages by token; the last page has no token key", func(t *testing.T) {
		p := url.Values{"jql": {"project = ED ORDER BY updated ASC, key ASC"}, "fields": {"summary,updated"}, "maxResults": {"500"}}
		a := search(p)
		require.Equal(t, 200, a.status, string(a.raw))
		n, short := 0, false
		for {
			issues := a.obj()["issues"].([]any)
			assert.LessOrEqual(t, len(issues), 100, "at most 100 with fields")
			if len(issues) < 100 && a.obj()["isLast"] == false {
				short = true
			}
			assert.NotContains(t, a.obj(), "total")
			n += len(issues)
			if a.obj()["isLast"] == true {
				assert.NotContains(t, a.obj(), "nextPageToken")
				break
			}
			p.Set("nextPageToken", a.obj()["nextPageToken"].(string))
			a = search(p)
		}
		assert.Equal(t, j.Counts()["issues"], n)
		assert.True(t, short, "a short page is not the last")
	})
	t.Run("fields default to the id", func(t *testing.T) {
		a := search(url.Values{"jql": {"project = ED"}, "maxResults": {"1"}})
		assert.NotContains(t, a.obj()["issues"].([]any)[0], "fields")
	})
	t.Run("JQL dates: minute precision in the user's zone, or epoch ms", func(t *testing.T) {
		a := search(url.Values{"jql": {"project = ED ORDER BY updated DESC"}, "fields": {"updated"}, "maxResults": {"1"}})
		upd := a.obj()["issues"].([]any)[0].(map[string]any)["fields"].(map[string]any)["updated"].(string)
		assert.Regexp(t, `[+-]\d{4}$`, upd, "an offset without a colon")
		ts, err := time.Parse("2006-01-02T15:04:05.000-0700", upd)
		require.NoError(t, err)
		sydney := ts.In(j.opts.UserZone).Format("2006/01/02 15:04")
		count := func(jql string) float64 {
			return call(t, "POST", base+"/search/approximate-count", auth, map[string]any{"jql": jql}).obj()["count"].(float64)
		}
		assert.Equal(t, float64(1), count(`updated >= "`+sydney+`"`), "the same minute, in the user's zone")
		assert.Equal(t, float64(1), count(fmt.Sprintf("updated >= %d", ts.Truncate(time.Minute).UnixMilli())))
		assert.Zero(t, count(fmt.Sprintf("updated >= %d", ts.UnixMilli()+1)))
		utc := ts.UTC().Format("2006/01/02 15:04")
		assert.Less(t, count(`updated <= "`+utc+`"`), count(`updated <= "`+sydney+`"`), "a UTC literal is read as Sydney time: 11 hours earlier")
	})
	t.Run("anonymous sees nothing; wrong credentials 401", func(t *testing.T) {
		a := call(t, "GET", base+"/search/jql?jql=project%3DED", nil, nil)
		assert.Equal(t, 200, a.status)
		assert.Empty(t, a.obj()["issues"])
		bad := call(t, "GET", base+"/search/jql?jql=project%3DED", map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("x:y"))}, nil)
		assert.Equal(t, 401, bad.status)
	})
	t.Run("429", func(t *testing.T) {
		j.Throttle(0, 1)
		a := search(url.Values{"jql": {"project = ED"}})
		assert.Equal(t, 429, a.status)
		assert.NotEmpty(t, a.header.Get("Retry-After"))
		reset, err := time.Parse("2006-01-02T15:04Z", a.header.Get("X-RateLimit-Reset"))
		assert.NoError(t, err, "an ISO timestamp, not epoch")
		assert.False(t, reset.Before(testClock), "on the data clock, to the minute, rounded up")
	})
	t.Run("comments page by startAt and maxResults with a total", func(t *testing.T) {
		is := j.issues[0]
		for _, x := range j.issues {
			if len(x.comments) == 130 {
				is = x
			}
		}
		a := call(t, "GET", fmt.Sprintf("%s/issue/%d/comment?maxResults=500", base, is.id), auth, nil)
		require.Equal(t, 200, a.status, string(a.raw))
		assert.Equal(t, float64(100), a.obj()["maxResults"], "silently lowered to 100")
		assert.Equal(t, float64(130), a.obj()["total"])
		assert.Len(t, a.obj()["comments"], 100)
		first := a.obj()["comments"].([]any)[0].(map[string]any)
		assert.Equal(t, "doc", first["body"].(map[string]any)["type"], "ADF bodies")
		assert.IsType(t, "", first["id"])
		a = call(t, "GET", fmt.Sprintf("%s/issue/%s/comment?startAt=100&maxResults=100", base, is.ikey), auth, nil)
		assert.Len(t, a.obj()["comments"], 30)
		assert.Equal(t, 404, call(t, "GET", base+"/issue/99999999/comment", auth, nil).status)
	})
}

// Every mock is deterministic: two mocks built alike serve the same records.
func TestDeterministic(t *testing.T) {
	for _, p := range Providers {
		a, err := New(p, Common{Now: func() time.Time { return testClock }})
		require.NoError(t, err)
		b, _ := New(p, Common{Now: func() time.Time { return testClock }})
		assert.Equal(t, a.Counts(), b.Counts(), p)
		for typ, n := range a.Counts() {
			assert.GreaterOrEqual(t, n, 40, "%s %s: a few hundred records", p, typ)
		}
	}
}
