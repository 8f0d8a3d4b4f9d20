package providermock

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Intercom REST API, as API-NOTES-2 §2 describes:
//
//	POST /contacts/search        {query, pagination: {per_page ≤ 150 (default 50),
//	POST /conversations/search    starting_after}}: the cursor goes in the JSON body
//	                              (a starting_after in the query string is ignored);
//	                              pages.next is absent on the last page
//	GET  /contacts                list, cursor in the query string
//	GET  /companies/scroll        scroll: one open scroll per app, scroll_param dies
//	                              after a minute unused and once a page comes back empty
//
// Timestamps are unix seconds. On versioned APIs (Intercom-Version 2.x) searching
// created_at/updated_at matches by calendar day in the workspace's time zone: `>` T
// means from the start of the day after T's day, `<` T before the start of T's day,
// `=` the whole day, and >=, <= are refused; with Intercom-Version Preview they
// compare exact seconds. Auth is a bearer token (401 error.list); Accept must allow
// JSON (406); a wrong method is 404. Limits count per 10-second window:
// X-RateLimit-Limit/Remaining/Reset (unix seconds) on every authenticated answer,
// 429 rate_limit_exceeded when spent.

// Intercom defaults.
const (
	DefaultIntercomToken = "dG9rOmFiY2RlZl9tb2NrXzEyMzQ6MToxMjM0NTY="
	intercomScrollPage   = 50
)

// IntercomOptions configures the Intercom mock.
type IntercomOptions struct {
	Common // default: 1,666 requests per 10 seconds
	Token  string
	// DefaultVersion is the app's version, used when a request sends none; "" means 2.11.
	DefaultVersion string
	// Zone is the workspace's time zone, in which versioned searches compare days;
	// nil means America/Los_Angeles.
	Zone *time.Location
	// NextNull writes "next": null on the last page instead of leaving it out.
	NextNull bool
	// ScrollTTL is how long an unused scroll lives (data clock); 0 means a minute.
	ScrollTTL time.Duration
	// Records; 0 means 420 contacts, 180 companies and 380 conversations.
	Contacts, Companies, Conversations int
}

// Intercom is the Intercom mock. It is safe for concurrent use.
type Intercom struct {
	core
	opts          IntercomOptions
	contacts      []*icItem
	companies     []*icItem
	conversations []*icItem
	scroll        *icScroll
	seq           int
}

type icItem struct {
	id      string
	created int64
	updated int64
	data    map[string]any
	deleted bool // companies deleted by Change: gone from the scroll
}

func (c *icItem) stamp() time.Time { return time.Unix(c.created, 0) }
func (c *icItem) key() string      { return c.id }

type icScroll struct {
	param  string
	offset int
	used   time.Time
}

// NewIntercom returns an Intercom mock with seeded data.
func NewIntercom(opts IntercomOptions) *Intercom {
	if opts.Token == "" {
		opts.Token = DefaultIntercomToken
	}
	if opts.DefaultVersion == "" {
		opts.DefaultVersion = "2.11"
	}
	if opts.Zone == nil {
		z, err := time.LoadLocation("America/Los_Angeles")
		if err != nil {
			z = time.FixedZone("PST", -8*3600) // no tzdata: the zone's winter offset
		}
		opts.Zone = z
	}
	if opts.ScrollTTL == 0 {
		opts.ScrollTTL = time.Minute
	}
	def := func(n *int, d int) {
		if *n == 0 {
			*n = d
		}
	}
	def(&opts.Contacts, 420)
	def(&opts.Companies, 180)
	def(&opts.Conversations, 380)
	ic := &Intercom{core: newCore(opts.Common, 1666, 10*time.Second), opts: opts}
	ic.seed()
	return ic
}

func icID(kind, n int) string { return fmt.Sprintf("66%d%021x", kind, 0x7d60b08a68186f43+int64(n)) }

func (ic *Intercom) seed() {
	times := spread(ic.opts.Companies, 3)
	for i := 0; i < ic.opts.Companies; i++ {
		name, domain := company(i + 80)
		id := icID(1, i)
		created := times[i].Add(-40 * 24 * time.Hour).Unix()
		d := map[string]any{
			"type": "company", "id": id, "company_id": fmt.Sprintf("acct-%04d", i+1), "app_id": "ecahpwf5", "name": name, "website": "https://" + domain,
			"industry": pick(industries, i), "size": 10 + (i*31)%900, "monthly_spend": float64((i * 47) % 5000), "session_count": i * 3, "user_count": 1 + i%40,
			"remote_created_at": created, "created_at": created, "updated_at": times[i].Unix(),
			"plan": map[string]any{"type": "plan", "id": fmt.Sprint(100 + i%3), "name": pick([]string{"starter", "pro", "enterprise"}, i)},
			"tags": map[string]any{"type": "tag.list", "tags": []any{}}, "segments": map[string]any{"type": "segment.list", "segments": []any{}},
			"custom_attributes": map[string]any{},
		}
		if i%10 == 6 {
			d["website"] = nil
		}
		ic.companies = append(ic.companies, &icItem{id: id, created: created, updated: times[i].Unix(), data: d})
	}
	times = spread(ic.opts.Contacts, 5)
	for i := 0; i < ic.opts.Contacts; i++ {
		first, last := person(i + 5)
		id := icID(2, i)
		co := ic.companies[i%len(ic.companies)]
		domain := strings.TrimPrefix(fmt.Sprint(co.data["website"]), "https://")
		if co.data["website"] == nil {
			domain = "customer.example"
		}
		created := times[i].Add(-20 * 24 * time.Hour).Unix()
		role := "user"
		if i%4 == 1 {
			role = "lead"
		}
		var ext, name, signed any = fmt.Sprintf("u-%d", 1001+i), first + " " + last, created
		if role == "lead" {
			ext, signed = nil, nil
		}
		if i%9 == 7 {
			name = nil
		}
		companies := []any{}
		if i%6 != 5 {
			companies = append(companies, map[string]any{"type": "company", "id": co.id, "url": "/companies/" + co.id})
		}
		d := map[string]any{
			"type": "contact", "id": id, "workspace_id": "ecahpwf5", "external_id": ext, "role": role, "email": email(first, last, domain, i),
			"phone": nil, "name": name, "avatar": nil, "owner_id": nil, "social_profiles": map[string]any{"type": "list", "data": []any{}},
			"has_hard_bounced": false, "marked_email_as_spam": false, "unsubscribed_from_emails": i%10 == 3,
			"created_at": created, "updated_at": times[i].Unix(), "signed_up_at": signed, "last_seen_at": nil, "last_replied_at": nil,
			"location":          map[string]any{"type": "location", "country": optional(pick([]string{"Brazil", "Germany", nil_, "Japan"}, i)), "region": nil, "city": nil},
			"custom_attributes": map[string]any{}, "tags": map[string]any{"type": "list", "data": []any{}, "url": "/contacts/" + id + "/tags", "total_count": 0, "has_more": false},
			"companies": map[string]any{"type": "list", "data": companies, "url": "/contacts/" + id + "/companies", "total_count": len(companies), "has_more": false},
		}
		if i%8 == 2 {
			d["custom_attributes"] = map[string]any{"plan": "pro"}
			d["owner_id"] = 991267536
		}
		ic.contacts = append(ic.contacts, &icItem{id: id, created: created, updated: times[i].Unix(), data: d})
	}
	times = spread(ic.opts.Conversations, 7)
	for i := 0; i < ic.opts.Conversations; i++ {
		c := ic.contacts[(i*3)%len(ic.contacts)]
		id := strconv.Itoa(335 + i)
		created := times[i].Add(-6 * time.Hour).Unix()
		state := pick([]string{"open", "closed", "snoozed", "closed"}, i)
		var assignee any
		if state != "open" || i%2 == 0 {
			assignee = 814860 + i%4
		}
		d := map[string]any{
			"type": "conversation", "id": id, "title": optional(pick([]string{nil_, "Billing question", "Bug report", nil_}, i)),
			"created_at": created, "updated_at": times[i].Unix(), "waiting_since": nil, "snoozed_until": nil, "open": state != "closed", "state": state, "read": true,
			"priority": pick([]string{"not_priority", "priority", "not_priority"}, i), "admin_assignee_id": assignee, "team_assignee_id": nil,
			"source": map[string]any{"type": "conversation", "id": fmt.Sprint(1000 + i), "delivered_as": "customer_initiated", "subject": "",
				"body": "<p>" + pick(subjects, i) + "</p>", "author": map[string]any{"type": "user", "id": c.id, "name": c.data["name"], "email": c.data["email"]},
				"attachments": []any{}, "url": nil, "redacted": false},
			"contacts":          map[string]any{"type": "contact.list", "contacts": []any{map[string]any{"type": "contact", "id": c.id, "external_id": c.data["external_id"]}}},
			"tags":              map[string]any{"type": "tag.list", "tags": []any{}},
			"custom_attributes": map[string]any{}, "sla_applied": nil, "conversation_rating": nil,
		}
		ic.conversations = append(ic.conversations, &icItem{id: id, created: created, updated: times[i].Unix(), data: d})
	}
	sortByStamp(ic.companies)
	sortByStamp(ic.contacts)
	sortByStamp(ic.conversations)
}

// Provider implements Mock.
func (ic *Intercom) Provider() string { return "intercom" }

// Hosts implements Mock.
func (ic *Intercom) Hosts() []string { return []string{"api"} }

// Values implements Mock.
func (ic *Intercom) Values() map[string]any {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	return map[string]any{"api_url": ic.url("api"), "access_token": ic.opts.Token}
}

// Counts implements Mock.
func (ic *Intercom) Counts() map[string]int {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	return map[string]int{"contacts": len(ic.contacts), "companies": len(ic.companies), "conversations": len(ic.conversations)}
}

// Change implements Mock: n contacts, companies and conversations change, one of each
// is created, and one company (without contacts of its own) is deleted: the scroll no
// longer shows it.
func (ic *Intercom) Change(n int) map[string]Delta {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	now := ic.now().Unix()
	touch := func(xs []*icItem, fn func(*icItem)) int {
		c := 0
		for k := 0; k < n && k < len(xs); k++ {
			it := xs[(k*len(xs)/max(n, 1)+6)%len(xs)]
			fn(it)
			it.updated = now
			it.data["updated_at"] = now
			c++
		}
		return c
	}
	out := map[string]Delta{
		"contacts":      {Updated: touch(ic.contacts, func(it *icItem) { it.data["phone"] = "+55 11 5555 0100" })},
		"companies":     {Updated: touch(ic.companies, func(it *icItem) { it.data["user_count"] = 99 })},
		"conversations": {Updated: touch(ic.conversations, func(it *icItem) { it.data["state"], it.data["open"] = "closed", false })},
	}
	ic.seq++
	co := &icItem{id: icID(1, 100000+ic.seq), created: now, updated: now}
	co.data = map[string]any{"type": "company", "id": co.id, "company_id": "acct-new", "name": "Newco", "website": "https://newco.example",
		"created_at": now, "updated_at": now, "size": 5, "plan": nil, "tags": map[string]any{"type": "tag.list", "tags": []any{}}}
	ic.companies = append(ic.companies, co)
	ct := &icItem{id: icID(2, 100000+ic.seq), created: now, updated: now}
	ct.data = map[string]any{"type": "contact", "id": ct.id, "role": "user", "email": "new@newco.example", "name": "New User", "created_at": now, "updated_at": now,
		"companies": map[string]any{"type": "list", "data": []any{map[string]any{"type": "company", "id": co.id}}}, "location": map[string]any{}, "tags": map[string]any{"data": []any{}}}
	ic.contacts = append(ic.contacts, ct)
	cv := &icItem{id: strconv.Itoa(900000 + ic.seq), created: now, updated: now}
	cv.data = map[string]any{"type": "conversation", "id": cv.id, "title": nil, "state": "open", "open": true, "created_at": now, "updated_at": now,
		"priority": "not_priority", "source": map[string]any{"body": "<p>Hello</p>", "author": map[string]any{"type": "user", "id": ct.id, "email": "new@newco.example", "name": "New User"}},
		"contacts": map[string]any{"type": "contact.list", "contacts": []any{map[string]any{"type": "contact", "id": ct.id}}}, "tags": map[string]any{"type": "tag.list", "tags": []any{}}}
	ic.conversations = append(ic.conversations, cv)
	for k, d := range out {
		d.Created = 1
		out[k] = d
	}
	for i := len(ic.companies) - 1; i >= 0; i-- {
		co := ic.companies[i]
		if co.deleted || co.updated == now || ic.hasContacts(co.id) {
			continue
		}
		co.deleted = true
		d := out["companies"]
		d.Deleted++
		out["companies"] = d
		break
	}
	return out
}

// hasContacts reports whether a contact belongs to the company (the caller holds mu).
func (ic *Intercom) hasContacts(company string) bool {
	for _, c := range ic.contacts {
		if cs, ok := c.data["companies"].(map[string]any); ok {
			list, _ := cs["data"].([]any)
			for _, x := range list {
				if m, ok := x.(map[string]any); ok && m["id"] == company {
					return true
				}
			}
		}
	}
	return false
}

// Handler implements Mock.
func (ic *Intercom) Handler(string) http.Handler { return http.HandlerFunc(ic.serve) }

func icErr(code, msg string) map[string]any {
	return map[string]any{"type": "error.list", "request_id": "2b28c47b-8fa3-4e17-8fc1-6ba80f1cc844", "errors": []any{map[string]any{"code": code, "message": msg}}}
}

var intercomVersions = map[string]bool{"1.0": true, "1.1": true, "1.2": true, "1.3": true, "1.4": true, "2.0": true, "2.1": true, "2.2": true, "2.3": true,
	"2.4": true, "2.5": true, "2.6": true, "2.7": true, "2.8": true, "2.9": true, "2.10": true, "2.11": true, "2.12": true, "2.13": true, "2.14": true,
	"Preview": true, "Unstable": true}

func (ic *Intercom) serve(w http.ResponseWriter, r *http.Request) {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	ic.stats.Requests++
	if a := r.Header.Get("Accept"); !strings.Contains(a, "application/json") && !strings.Contains(a, "*/*") {
		ic.reply(w, http.StatusNotAcceptable, icErr("not_acceptable", "The Accept header should send application/json"))
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+ic.opts.Token {
		ic.reply(w, http.StatusUnauthorized, icErr("unauthorized", "Access Token Invalid"))
		return
	}
	version := r.Header.Get("Intercom-Version")
	if version == "" {
		version = ic.opts.DefaultVersion
	}
	if !intercomVersions[version] {
		ic.reply(w, http.StatusBadRequest, icErr("intercom_version_invalid", "The requested version could not be found"))
		return
	}
	ok, wait := ic.admit()
	rem, reset := ic.limiter.remaining(time.Now())
	limit := ic.limiter.limit
	if limit <= 0 {
		limit, rem = 1666, 1666
	}
	if !ok {
		rem, reset = 0, time.Now().Add(wait)
	}
	// The window's end on the data clock, in whole seconds, rounded up.
	resetAt := ic.resetAt(reset).Add(time.Second - time.Nanosecond).Unix()
	w.Header().Set("X-RateLimit-Limit", strconv.Itoa(limit))
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(max(rem, 0)))
	w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(resetAt, 10))
	if !ok {
		ic.asked(time.Until(reset))
		ic.reply(w, http.StatusTooManyRequests, icErr("rate_limit_exceeded", fmt.Sprintf("Exceeded rate limit of %d in 10_seconds", limit)))
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/contacts/search":
		ic.search(w, r, version, "contacts")
	case r.Method == http.MethodPost && r.URL.Path == "/conversations/search":
		ic.search(w, r, version, "conversations")
	case r.Method == http.MethodGet && r.URL.Path == "/contacts":
		ic.listContacts(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/companies/scroll":
		ic.serveScroll(w, r)
	default:
		// A method an endpoint lacks is a 404 too, not a 405.
		ic.reply(w, http.StatusNotFound, icErr("not_found", "Resource Not Found"))
	}
}

type icQuery struct {
	Field    string          `json:"field"`
	Operator string          `json:"operator"`
	Value    json.RawMessage `json:"value"`
}

type icSearch struct {
	Query      json.RawMessage `json:"query"`
	Pagination *struct {
		PerPage       *int    `json:"per_page"`
		StartingAfter *string `json:"starting_after"`
	} `json:"pagination"`
}

var icTimeFields = map[string]bool{"created_at": true, "updated_at": true, "signed_up_at": true, "last_seen_at": true}

// evaluate applies a query (a filter or an AND/OR group, at most two levels) to an
// item; a non-empty message is a 400.
func (ic *Intercom) evaluate(raw json.RawMessage, it *icItem, version, coll string, depth int) (bool, string) {
	var q icQuery
	if err := json.Unmarshal(raw, &q); err != nil {
		return false, "query is not a JSON object"
	}
	if q.Operator == "AND" || q.Operator == "OR" {
		if depth >= 2 {
			return false, "queries can be nested at most two levels"
		}
		var subs []json.RawMessage
		if err := json.Unmarshal(q.Value, &subs); err != nil || len(subs) == 0 || len(subs) > 15 {
			return false, "a query group takes 1 to 15 queries"
		}
		all := q.Operator == "AND"
		for _, s := range subs {
			m, msg := ic.evaluate(s, it, version, coll, depth+1)
			if msg != "" {
				return false, msg
			}
			if q.Operator == "AND" {
				all = all && m
			} else {
				all = all || m
			}
		}
		return all, ""
	}
	if icTimeFields[q.Field] {
		var n json.Number
		var s string
		if err := json.Unmarshal(q.Value, &n); err != nil {
			if err := json.Unmarshal(q.Value, &s); err != nil {
				return false, fmt.Sprintf("%s takes a unix timestamp", q.Field)
			}
			n = json.Number(s) // the spec's own examples send the number as a string
		}
		t, err := n.Int64()
		if err != nil {
			return false, fmt.Sprintf("%s takes a unix timestamp", q.Field)
		}
		v, _ := toInt64(it.data[q.Field])
		if it.data[q.Field] == nil {
			return false, ""
		}
		exact := version == "Preview" || version == "Unstable" || coll == "conversations"
		if exact {
			switch q.Operator {
			case ">":
				return v > t || (coll == "conversations" && v == t), ""
			case "<":
				return v < t || (coll == "conversations" && v == t), ""
			case ">=":
				return v >= t, ""
			case "<=":
				return v <= t, ""
			case "=":
				return v == t, ""
			}
			return false, fmt.Sprintf("operator %s is not supported for %s", q.Operator, q.Field)
		}
		// Calendar days in the workspace's zone.
		day := func(u int64) time.Time {
			x := time.Unix(u, 0).In(ic.opts.Zone)
			return time.Date(x.Year(), x.Month(), x.Day(), 0, 0, 0, 0, ic.opts.Zone)
		}
		d := day(t)
		switch q.Operator {
		case ">":
			return v >= d.AddDate(0, 0, 1).Unix(), ""
		case "<":
			return v < d.Unix(), ""
		case "=":
			return v >= d.Unix() && v < d.AddDate(0, 0, 1).Unix(), ""
		}
		return false, fmt.Sprintf("operator %s is not supported for date field %s", q.Operator, q.Field)
	}
	var want any
	if err := json.Unmarshal(q.Value, &want); err != nil {
		return false, "invalid value"
	}
	got := it.data[q.Field]
	switch q.Operator {
	case "=":
		return fmt.Sprint(got) == fmt.Sprint(want), ""
	case "!=":
		return fmt.Sprint(got) != fmt.Sprint(want), ""
	case "~":
		return strings.Contains(fmt.Sprint(got), fmt.Sprint(want)), ""
	}
	return false, fmt.Sprintf("operator %s is not supported for %s", q.Operator, q.Field)
}

func (ic *Intercom) search(w http.ResponseWriter, r *http.Request, version, coll string) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var s icSearch
	if err == nil {
		err = json.Unmarshal(raw, &s)
	}
	if err != nil || len(s.Query) == 0 {
		ic.reply(w, http.StatusBadRequest, icErr("parameter_invalid", "Body must be a JSON object with a query"))
		return
	}
	perPage := 50
	var after string
	if s.Pagination != nil {
		if s.Pagination.PerPage != nil {
			perPage = *s.Pagination.PerPage
		}
		if s.Pagination.StartingAfter != nil {
			after = *s.Pagination.StartingAfter
		}
	}
	if perPage < 1 || perPage > 150 {
		ic.reply(w, http.StatusBadRequest, icErr("parameter_invalid", "per_page must be between 1 and 150"))
		return
	}
	src := ic.contacts
	if coll == "conversations" {
		src = ic.conversations
	}
	var matches []*icItem
	for _, it := range src {
		m, msg := ic.evaluate(s.Query, it, version, coll, 0)
		if msg != "" {
			ic.reply(w, http.StatusBadRequest, icErr("parameter_invalid", msg))
			return
		}
		if m {
			matches = append(matches, it)
		}
	}
	// The cursor is tied to its query: another query's cursor is refused.
	qh := fmt.Sprintf("%x", sha1.Sum(append([]byte(version), s.Query...)))[:8]
	offset := 0
	if after != "" {
		b, err := base64.StdEncoding.DecodeString(after)
		var pos []any
		if err == nil {
			err = json.Unmarshal(b, &pos)
		}
		if err != nil || len(pos) != 2 || pos[1] != qh {
			ic.reply(w, http.StatusBadRequest, icErr("parameter_invalid", "starting_after is invalid"))
			return
		}
		f, _ := pos[0].(float64)
		offset = int(f)
	}
	offset = min(offset, len(matches))
	end := min(offset+perPage, len(matches))
	page := make([]map[string]any, 0, end-offset)
	for _, it := range matches[offset:end] {
		page = append(page, copyMap(it.data))
	}
	pages := map[string]any{"type": "pages", "page": offset/perPage + 1, "per_page": perPage, "total_pages": max(1, (len(matches)+perPage-1)/perPage)}
	if end < len(matches) {
		b, _ := json.Marshal([]any{end, qh})
		pages["next"] = map[string]any{"page": offset/perPage + 2, "starting_after": base64.StdEncoding.EncodeToString(b)}
	} else if ic.opts.NextNull {
		pages["next"] = nil
	}
	body := map[string]any{"type": "list", "total_count": len(matches), "pages": pages, "data": page}
	if coll == "conversations" {
		body = map[string]any{"type": "conversation.list", "total_count": len(matches), "pages": pages, "conversations": page}
	}
	ic.stats.Records += len(page)
	ic.reply(w, http.StatusOK, body)
}

func (ic *Intercom) listContacts(w http.ResponseWriter, r *http.Request) {
	perPage, ok := intParam(r, "per_page", 50)
	if !ok || perPage < 1 || perPage > 150 {
		ic.reply(w, http.StatusBadRequest, icErr("parameter_invalid", "per_page must be between 1 and 150"))
		return
	}
	start := 0
	if after := r.URL.Query().Get("starting_after"); after != "" {
		start = -1
		for i, c := range ic.contacts {
			if base64.StdEncoding.EncodeToString([]byte(c.id)) == after {
				start = i + 1
			}
		}
		if start < 0 {
			ic.reply(w, http.StatusBadRequest, icErr("parameter_invalid", "starting_after is invalid"))
			return
		}
	}
	end := min(start+perPage, len(ic.contacts))
	page := make([]map[string]any, 0, end-start)
	for _, c := range ic.contacts[start:end] {
		page = append(page, copyMap(c.data))
	}
	pages := map[string]any{"type": "pages", "page": start/perPage + 1, "per_page": perPage, "total_pages": max(1, (len(ic.contacts)+perPage-1)/perPage)}
	if end < len(ic.contacts) {
		pages["next"] = map[string]any{"page": start/perPage + 2, "starting_after": base64.StdEncoding.EncodeToString([]byte(ic.contacts[end-1].id))}
	}
	ic.stats.Records += len(page)
	ic.reply(w, http.StatusOK, map[string]any{"type": "list", "total_count": len(ic.contacts), "pages": pages, "data": page})
}

func (ic *Intercom) serveScroll(w http.ResponseWriter, r *http.Request) {
	now := ic.now()
	if ic.scroll != nil && now.Sub(ic.scroll.used) > ic.opts.ScrollTTL {
		ic.scroll = nil // unused for a minute: expired
	}
	param := r.URL.Query().Get("scroll_param")
	if param == "" {
		if ic.scroll != nil {
			ic.reply(w, http.StatusBadRequest, icErr("scroll_exists", "scroll already exists for this workspace"))
			return
		}
		ic.seq++
		ic.scroll = &icScroll{param: fmt.Sprintf("25b649f7-4d33-4ef6-88f5-%012d", ic.seq), used: now}
	} else if ic.scroll == nil || ic.scroll.param != param {
		ic.reply(w, http.StatusNotFound, icErr("not_found", "scroll parameter not found"))
		return
	}
	sc := ic.scroll
	sc.used = now
	var live []*icItem
	for _, c := range ic.companies {
		if !c.deleted {
			live = append(live, c)
		}
	}
	end := min(sc.offset+intercomScrollPage, len(live))
	page := make([]map[string]any, 0, end-sc.offset)
	for _, c := range live[min(sc.offset, end):end] {
		page = append(page, copyMap(c.data))
	}
	sc.offset = end
	if len(page) == 0 {
		ic.scroll = nil // the end: the scroll_param dies
	}
	ic.stats.Records += len(page)
	ic.reply(w, http.StatusOK, map[string]any{"type": "list", "data": page, "pages": nil, "total_count": nil, "scroll_param": sc.param})
}
