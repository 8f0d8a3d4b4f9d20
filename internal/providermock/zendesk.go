package providermock

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Zendesk Support incremental exports, as API-NOTES-1 §3 describes. Every path is
// served with and without .json:
//
//	GET /api/v2/incremental/tickets/cursor   cursor export: start_time (unix seconds,
//	GET /api/v2/incremental/users/cursor     at least a minute old) on the first
//	                                         request, then cursor=after_cursor;
//	                                         end_of_stream on the last page, which
//	                                         still carries an after_cursor
//	GET /api/v2/incremental/tickets          time-based export: next_page is
//	GET /api/v2/incremental/users            start_time=end_time and is a URL even on
//	GET /api/v2/incremental/organizations    the last page; items at end_time come
//	                                         again on the next page
//
//	GET /api/v2/tickets/{id}/comments        a ticket's comments, oldest first: cursor
//	                                         pagination with page[size] (at most 100)
//	                                         and page[after], answering meta.has_more,
//	                                         meta.after_cursor and links.next; without
//	                                         page[size], offset pages (per_page, page,
//	                                         next_page); include=users side-loads the
//	                                         authors; a deleted ticket is a 404
//
// per_page is at most 1000 (the default); include=users,organizations side-loads.
// Tickets are ordered and filtered by generated_timestamp (which also moves on
// system updates), users and organizations by updated_at; anything changed in the
// last minute is held back. Deleted tickets stay in the stream with status
// "deleted" unless exclude_deleted=true. Ids are integers. Auth is HTTP Basic with
// "{email}/token" and the API token, or an OAuth bearer token; a bad one gets 401
// {"error":"Couldn't authenticate you"}. The exports allow 10 requests a minute, the
// other endpoints the plan's limit (700 a minute): 429 with Retry-After.

// Zendesk defaults.
const (
	DefaultZendeskSubdomain = "acme"
	DefaultZendeskEmail     = "admin@acme.example"
	DefaultZendeskAPIToken  = "6wiIBWbGkBMo1mRDMuVwkw1EPsNkeUj95PIz2akv"
)

// ZendeskOptions configures the Zendesk mock.
type ZendeskOptions struct {
	Common                     // default rate limit: 10 requests per minute
	Subdomain, Email, APIToken string
	// OAuthToken, when set, is accepted as a bearer token too.
	OAuthToken string
	// NotAdmin answers 403: the exports are for admins only.
	NotAdmin bool
	// HoldBack hides changes younger than this; 0 means one minute.
	HoldBack time.Duration
	// PlanRateLimit is the requests a minute of the endpoints other than the exports
	// (the plan's limit): 0 means 700 (Enterprise), negative unlimited (and so does a
	// negative Common.RateLimit).
	PlanRateLimit int
	// Records; 0 means 150 organizations, 420 users and 650 tickets. Ticket i has a
	// first comment (its description) and i%3 replies; the eleventh has 130 comments.
	Organizations, Users, Tickets int
}

// Zendesk is the Zendesk mock. It is safe for concurrent use.
type Zendesk struct {
	core
	opts    ZendeskOptions
	plan    window // the limit of the endpoints other than the exports
	orgs    []*zdRecord
	users   []*zdRecord
	tickets []*zdRecord
	nextID  int64
}

// zdRecord is one exported item; ts is what the export orders and filters it by.
type zdRecord struct {
	id       int64
	ts       int64
	fields   map[string]any
	comments []map[string]any // tickets: oldest first
	// deletedByChange: a ticket Change deleted, after a sync could see it.
	deletedByChange bool
}

func (r *zdRecord) stamp() time.Time { return time.Unix(r.ts, 0) }
func (r *zdRecord) key() string      { return fmt.Sprintf("%020d", r.id) }

// NewZendesk returns a Zendesk mock with seeded data.
func NewZendesk(opts ZendeskOptions) *Zendesk {
	if opts.Subdomain == "" {
		opts.Subdomain = DefaultZendeskSubdomain
	}
	if opts.Email == "" {
		opts.Email = DefaultZendeskEmail
	}
	if opts.APIToken == "" {
		opts.APIToken = DefaultZendeskAPIToken
	}
	if opts.HoldBack == 0 {
		opts.HoldBack = time.Minute
	}
	def := func(n *int, d int) {
		if *n == 0 {
			*n = d
		}
	}
	def(&opts.Organizations, 150)
	def(&opts.Users, 420)
	def(&opts.Tickets, 650)
	if opts.PlanRateLimit == 0 {
		opts.PlanRateLimit = 700
		if opts.RateLimit < 0 {
			opts.PlanRateLimit = -1
		}
	}
	z := &Zendesk{core: newCore(opts.Common, 10, time.Minute), opts: opts, plan: window{limit: opts.PlanRateLimit, per: time.Minute}}
	z.seed()
	return z
}

func zdTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (z *Zendesk) seed() {
	times := spread(z.opts.Organizations, 2)
	for i := 0; i < z.opts.Organizations; i++ {
		name, domain := company(i + 40)
		id := int64(360000001 + i)
		r := &zdRecord{id: id, ts: times[i].Unix(), fields: map[string]any{
			"url": fmt.Sprintf("https://%s.zendesk.com/api/v2/organizations/%d.json", z.opts.Subdomain, id), "id": id, "name": name,
			"shared_tickets": false, "shared_comments": false, "external_id": nil, "created_at": zdTime(times[i].Add(-90 * 24 * time.Hour)), "updated_at": zdTime(times[i]),
			"domain_names": []any{domain}, "details": "", "notes": "", "group_id": nil, "tags": []any{pick([]string{"enterprise", "smb", "trial"}, i)},
			"organization_fields": map[string]any{}, "deleted_at": nil,
		}}
		if i%11 == 4 {
			r.fields["domain_names"] = []any{}
		}
		z.orgs = append(z.orgs, r)
	}
	times = spread(z.opts.Users, 6)
	for i := 0; i < z.opts.Users; i++ {
		first, last := person(i + 11)
		id := int64(20978392 + i)
		role := "end-user"
		if i%10 == 0 {
			role = "agent"
		}
		if i%50 == 0 {
			role = "admin"
		}
		var org any
		domain := "customer.example"
		if role == "end-user" && i%7 != 3 {
			o := z.orgs[i%len(z.orgs)]
			org = o.id
			if d := o.fields["domain_names"].([]any); len(d) > 0 {
				domain = d[0].(string)
			}
		}
		if role != "end-user" {
			domain = z.opts.Subdomain + ".example"
		}
		r := &zdRecord{id: id, ts: times[i].Unix(), fields: map[string]any{
			"id": id, "url": fmt.Sprintf("https://%s.zendesk.com/api/v2/users/%d.json", z.opts.Subdomain, id), "name": first + " " + last,
			"email": email(first, last, domain, i), "created_at": zdTime(times[i].Add(-30 * 24 * time.Hour)), "updated_at": zdTime(times[i]),
			"time_zone": "Pacific Time (US & Canada)", "iana_time_zone": "America/Los_Angeles", "phone": nil, "shared_phone_number": nil, "photo": nil,
			"locale_id": 1, "locale": "en-US", "organization_id": org, "role": role, "verified": true, "external_id": nil,
			"tags": []any{}, "alias": nil, "active": i%23 != 9, "shared": false, "shared_agent": false, "last_login_at": nil,
			"two_factor_auth_enabled": nil, "signature": nil, "details": "", "notes": "", "role_type": nil, "custom_role_id": nil,
			"moderator": role != "end-user", "ticket_restriction": "requested", "only_private_comments": false, "restricted_agent": role == "agent",
			"suspended": false, "default_group_id": nil, "report_csv": false, "user_fields": map[string]any{},
		}}
		if role != "end-user" {
			r.fields["last_login_at"] = zdTime(times[i].Add(6 * time.Hour))
			r.fields["ticket_restriction"] = nil
			r.fields["default_group_id"] = 98738
		}
		if i%13 == 5 {
			r.fields["phone"] = fmt.Sprintf("+44 20 7946 %04d", i)
		}
		z.users = append(z.users, r)
	}
	var endUsers, agents []*zdRecord
	for _, u := range z.users {
		if u.fields["role"] == "end-user" {
			endUsers = append(endUsers, u)
		} else {
			agents = append(agents, u)
		}
	}
	times = spread(z.opts.Tickets, 9)
	for i := 0; i < z.opts.Tickets; i++ {
		id := int64(35436 + i)
		req := endUsers[(i*7)%len(endUsers)]
		var assignee, group any
		status := pick([]string{"new", "open", "pending", "solved", "closed", "open", "hold"}, i)
		if status != "new" {
			assignee, group = agents[i%len(agents)].id, 98738
		}
		gen := times[i].Unix()
		if i%8 == 3 {
			gen += 3600 // a system update moved generated_timestamp past updated_at
		}
		r := &zdRecord{id: id, ts: gen, fields: map[string]any{
			"id": id, "url": fmt.Sprintf("https://%s.zendesk.com/api/v2/tickets/%d.json", z.opts.Subdomain, id), "external_id": nil,
			"type": optional(pick([]string{"incident", "question", nil_, "problem", "task"}, i)), "subject": pick(subjects, i), "raw_subject": pick(subjects, i),
			"description": "Hello, " + strings.ToLower(pick(subjects, i)) + ". Thanks.", "priority": optional(pick([]string{"low", "normal", "high", "urgent", nil_}, i)),
			"status": status, "recipient": "support@" + z.opts.Subdomain + ".example", "requester_id": req.id, "submitter_id": req.id,
			"assignee_id": assignee, "organization_id": req.fields["organization_id"], "group_id": group, "collaborator_ids": []any{}, "follower_ids": []any{},
			"tags": []any{pick([]string{"billing", "login", "bug", "feature"}, i)}, "custom_fields": []any{map[string]any{"id": 27642, "value": nil}},
			"via": map[string]any{"channel": pick([]string{"web", "email", "api", "chat"}, i)}, "created_at": zdTime(times[i].Add(-2 * time.Hour)),
			"updated_at": zdTime(times[i]), "due_at": nil, "generated_timestamp": gen,
		}}
		if i%29 == 17 {
			r.fields["status"] = "deleted"
		}
		// The description is the first comment, by the requester; replies alternate
		// between an agent and the requester, the last one at the ticket's update.
		replies := i % 3
		if i == 10 {
			replies = 129
		}
		created := times[i].Add(-2 * time.Hour)
		z.comment(r, req.id, r.fields["description"].(string), created, true)
		for k := 0; k < replies; k++ {
			author := req.id
			if k%2 == 0 {
				author = agents[(i+k)%len(agents)].id
			}
			at := times[i].Add(-time.Duration(replies-1-k) * time.Second)
			z.comment(r, author, pick([]string{"Thanks, looking into it.", "Any news?", "Fixed on our side.", "Still broken here."}, i+k), at, k%5 != 3)
		}
		z.tickets = append(z.tickets, r)
	}
	sortByStamp(z.orgs)
	sortByStamp(z.users)
	sortByStamp(z.tickets)
	z.nextID = 90000000
}

// comment adds a comment to a ticket.
func (z *Zendesk) comment(t *zdRecord, author int64, body string, at time.Time, public bool) {
	id := t.id*1000 + int64(len(t.comments)) + 1
	t.comments = append(t.comments, map[string]any{
		"id": id, "type": "Comment", "author_id": author, "body": body, "html_body": "<div class=\"zd-comment\"><p>" + body + "</p></div>",
		"plain_body": body, "public": public, "attachments": []any{}, "audit_id": id + 500000000,
		"via":        map[string]any{"channel": "web", "source": map[string]any{"from": map[string]any{}, "to": map[string]any{}, "rel": nil}},
		"created_at": zdTime(at), "metadata": map[string]any{"system": map[string]any{}, "custom": map[string]any{}},
	})
}

// Provider implements Mock.
func (z *Zendesk) Provider() string { return "zendesk" }

// Hosts implements Mock.
func (z *Zendesk) Hosts() []string { return []string{"api"} }

// Values implements Mock: a page size of 100 so that a few hundred records span
// several pages.
func (z *Zendesk) Values() map[string]any {
	z.mu.Lock()
	defer z.mu.Unlock()
	return map[string]any{"subdomain": z.opts.Subdomain, "api_url": z.url("api"), "email": z.opts.Email, "api_token": z.opts.APIToken, "page_size": 100}
}

// Counts implements Mock. The connector's contacts are the end users and its agents
// everyone else; comments are those of tickets that are not deleted, plus those of
// tickets Change deleted (a sync stored them before).
func (z *Zendesk) Counts() map[string]int {
	z.mu.Lock()
	defer z.mu.Unlock()
	out := map[string]int{"organizations": len(z.orgs), "tickets": len(z.tickets)}
	for _, t := range z.tickets {
		if t.fields["status"] != "deleted" || t.deletedByChange {
			out["comments"] += len(t.comments)
		}
	}
	for _, u := range z.users {
		if u.fields["role"] == "end-user" {
			out["contacts"]++
		} else {
			out["agents"]++
		}
	}
	return out
}

// Change implements Mock: n organizations, end users, agents and tickets change, one
// organization, end user and ticket are created, a changed ticket gets a reply, and
// one ticket is deleted (status "deleted" in the export; its comments go with it).
func (z *Zendesk) Change(n int) map[string]Delta {
	z.mu.Lock()
	defer z.mu.Unlock()
	now := z.now().UTC().Truncate(time.Second)
	touch := func(r *zdRecord) {
		r.ts = now.Unix()
		r.fields["updated_at"] = zdTime(now)
		if _, ok := r.fields["generated_timestamp"]; ok {
			r.fields["generated_timestamp"] = now.Unix()
		}
	}
	every := func(xs []*zdRecord, keep func(*zdRecord) bool, fn func(*zdRecord)) int {
		var sel []*zdRecord
		for _, x := range xs {
			if keep(x) {
				sel = append(sel, x)
			}
		}
		c := 0
		for k := 0; k < n && k < len(sel); k++ {
			r := sel[(k*len(sel)/max(n, 1)+2)%len(sel)]
			fn(r)
			touch(r)
			c++
		}
		return c
	}
	all := func(*zdRecord) bool { return true }
	out := map[string]Delta{}
	out["organizations"] = Delta{Updated: every(z.orgs, all, func(r *zdRecord) { r.fields["notes"] = "renewal due" })}
	out["contacts"] = Delta{Updated: every(z.users, func(r *zdRecord) bool { return r.fields["role"] == "end-user" }, func(r *zdRecord) { r.fields["phone"] = "+1 206 555 0199" })}
	out["agents"] = Delta{Updated: every(z.users, func(r *zdRecord) bool { return r.fields["role"] != "end-user" }, func(r *zdRecord) { r.fields["active"] = false })}
	var replied *zdRecord
	out["tickets"] = Delta{Updated: every(z.tickets, func(r *zdRecord) bool { return r.fields["status"] != "deleted" }, func(r *zdRecord) {
		r.fields["status"] = "solved"
		if replied == nil {
			replied = r
		}
	})}
	if replied != nil {
		z.comment(replied, replied.fields["requester_id"].(int64), "Thanks, that solved it.", now, true)
		out["comments"] = Delta{Created: 1}
	}
	// The oldest live ticket with comments that did not just change is deleted.
	for _, t := range z.tickets {
		if t.fields["status"] == "deleted" || t.ts == now.Unix() || len(t.comments) == 0 {
			continue
		}
		t.fields["status"] = "deleted"
		t.deletedByChange = true
		touch(t)
		d := out["tickets"]
		d.Updated++
		d.Deleted++
		out["tickets"] = d
		c := out["comments"]
		c.Deleted += len(t.comments)
		out["comments"] = c
		break
	}

	z.nextID++
	org := &zdRecord{id: z.nextID, ts: now.Unix(), fields: map[string]any{"id": z.nextID, "name": "Newco", "domain_names": []any{"newco.example"},
		"created_at": zdTime(now), "updated_at": zdTime(now), "tags": []any{}, "external_id": nil, "notes": "", "details": ""}}
	z.orgs = append(z.orgs, org)
	z.nextID++
	user := &zdRecord{id: z.nextID, ts: now.Unix(), fields: map[string]any{"id": z.nextID, "name": "New Requester", "email": "new.requester@newco.example",
		"role": "end-user", "organization_id": org.id, "created_at": zdTime(now), "updated_at": zdTime(now), "tags": []any{}, "active": true, "phone": nil}}
	z.users = append(z.users, user)
	z.nextID++
	fresh := &zdRecord{id: z.nextID, ts: now.Unix(), fields: map[string]any{"id": z.nextID, "subject": "Brand new", "description": "Hi",
		"status": "new", "priority": nil, "type": nil, "requester_id": user.id, "submitter_id": user.id, "assignee_id": nil, "organization_id": org.id,
		"group_id": nil, "tags": []any{}, "via": map[string]any{"channel": "email"}, "created_at": zdTime(now), "updated_at": zdTime(now), "due_at": nil,
		"generated_timestamp": now.Unix()}}
	z.comment(fresh, user.id, "Hi", now, true)
	z.tickets = append(z.tickets, fresh)
	for _, k := range []string{"organizations", "contacts", "tickets", "comments"} {
		d := out[k]
		d.Created++
		out[k] = d
	}
	sortByStamp(z.orgs)
	sortByStamp(z.users)
	sortByStamp(z.tickets)
	return out
}

// Handler implements Mock.
func (z *Zendesk) Handler(string) http.Handler {
	return http.HandlerFunc(z.serve)
}

func (z *Zendesk) serve(w http.ResponseWriter, r *http.Request) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.stats.Requests++
	path := strings.TrimSuffix(r.URL.Path, ".json")
	rest, export := strings.CutPrefix(path, "/api/v2/incremental/")
	var ticketID int64
	if !export {
		var err error
		id, ok := strings.CutPrefix(path, "/api/v2/tickets/")
		id, ok2 := strings.CutSuffix(id, "/comments")
		if ticketID, err = strconv.ParseInt(id, 10, 64); !ok || !ok2 || err != nil {
			ticketID = 0
		}
	}
	if (!export && ticketID == 0) || r.Method != http.MethodGet {
		z.reply(w, http.StatusNotFound, map[string]any{"error": "InvalidEndpoint", "description": "Not found"})
		return
	}
	if !z.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Web Password"`)
		z.reply(w, http.StatusUnauthorized, map[string]any{"error": "Couldn't authenticate you"})
		return
	}
	if z.opts.NotAdmin && export {
		z.reply(w, http.StatusForbidden, map[string]any{"error": "Forbidden", "description": "You do not have access to this page. Please contact the account owner of this help desk for further help."})
		return
	}
	// The exports have a limit of their own; everything else counts against the plan's.
	lim := &z.limiter
	if !export {
		lim = &z.plan
	}
	if ok, wait := z.admitWith(lim); !ok {
		s := retryAfterSeconds(wait)
		w.Header().Set("Retry-After", strconv.Itoa(s))
		z.asked(time.Duration(s) * time.Second)
		z.reply(w, http.StatusTooManyRequests, map[string]any{"error": "APIRateLimitExceeded", "description": "Number of allowed API requests per minute exceeded"})
		return
	}
	w.Header().Set("X-Rate-Limit", "700")
	w.Header().Set("X-Rate-Limit-Remaining", "699")
	if !export {
		z.serveComments(w, r, ticketID)
		return
	}
	resource, cursor := strings.CutSuffix(rest, "/cursor")
	var items []*zdRecord
	switch resource {
	case "tickets":
		items = z.tickets
	case "users":
		items = z.users
	case "organizations":
		if cursor {
			// Organizations only have the time-based export.
			z.reply(w, http.StatusNotFound, map[string]any{"error": "InvalidEndpoint", "description": "Not found"})
			return
		}
		items = z.orgs
	default:
		z.reply(w, http.StatusNotFound, map[string]any{"error": "InvalidEndpoint", "description": "Not found"})
		return
	}
	q := r.URL.Query()
	perPage, ok := intParam(r, "per_page", 1000)
	if !ok || perPage < 1 {
		z.reply(w, http.StatusBadRequest, map[string]any{"error": "InvalidPaginationParameter", "description": "per_page must be a positive integer"})
		return
	}
	perPage = min(perPage, 1000)
	if q.Get("exclude_deleted") == "true" && resource == "tickets" {
		var kept []*zdRecord
		for _, t := range items {
			if t.fields["status"] != "deleted" {
				kept = append(kept, t)
			}
		}
		items = kept
	}
	// The last minute is held back: it appears on a later poll.
	horizon := z.now().Add(-z.opts.HoldBack).Unix()
	if cursor {
		z.cursorExport(w, r, resource, items, perPage, horizon)
	} else {
		z.timeExport(w, r, resource, items, perPage, horizon)
	}
}

// serveComments answers a ticket's comments (the caller holds mu).
func (z *Zendesk) serveComments(w http.ResponseWriter, r *http.Request, id int64) {
	var t *zdRecord
	for _, x := range z.tickets {
		if x.id == id && x.fields["status"] != "deleted" {
			t = x
		}
	}
	if t == nil {
		z.reply(w, http.StatusNotFound, map[string]any{"error": "RecordNotFound", "description": "Not found"})
		return
	}
	q := r.URL.Query()
	var page []map[string]any
	body := map[string]any{}
	if q.Has("page[size]") {
		size, err := strconv.Atoi(q.Get("page[size]"))
		if err != nil || size < 1 || size > 100 {
			z.reply(w, http.StatusBadRequest, map[string]any{"error": "InvalidPaginationParameter", "description": "page[size] must be between 1 and 100"})
			return
		}
		start := 0
		if after := q.Get("page[after]"); after != "" {
			raw, err := base64.RawURLEncoding.DecodeString(after)
			n, err2 := strconv.Atoi(strings.TrimPrefix(string(raw), "c:"))
			if err != nil || err2 != nil || !strings.HasPrefix(string(raw), "c:") {
				z.reply(w, http.StatusBadRequest, map[string]any{"error": "InvalidPaginationParameter", "description": "page[after] is not a valid cursor"})
				return
			}
			start = min(n, len(t.comments))
		}
		end := min(start+size, len(t.comments))
		page = t.comments[start:end]
		more := end < len(t.comments)
		var after, next any
		if len(page) > 0 {
			cur := base64.RawURLEncoding.EncodeToString([]byte("c:" + strconv.Itoa(end)))
			after = cur
			if more {
				nq := url.Values{"page[size]": {strconv.Itoa(size)}, "page[after]": {cur}}
				if q.Has("include") {
					nq.Set("include", q.Get("include"))
				}
				next = z.url("api") + fmt.Sprintf("/api/v2/tickets/%d/comments.json?", id) + nq.Encode()
			}
		}
		body["meta"] = map[string]any{"has_more": more, "after_cursor": after, "before_cursor": nil}
		body["links"] = map[string]any{"next": next, "prev": nil}
	} else {
		perPage, ok := intParam(r, "per_page", 100)
		pageNo, ok2 := intParam(r, "page", 1)
		if !ok || !ok2 || perPage < 1 || pageNo < 1 {
			z.reply(w, http.StatusBadRequest, map[string]any{"error": "InvalidPaginationParameter", "description": "per_page and page must be positive integers"})
			return
		}
		perPage = min(perPage, 100)
		start := min((pageNo-1)*perPage, len(t.comments))
		end := min(start+perPage, len(t.comments))
		page = t.comments[start:end]
		var next any
		if end < len(t.comments) {
			next = z.url("api") + fmt.Sprintf("/api/v2/tickets/%d/comments.json?page=%d&per_page=%d", id, pageNo+1, perPage)
		}
		body["next_page"], body["previous_page"], body["count"] = next, nil, len(t.comments)
	}
	out := make([]map[string]any, 0, len(page))
	authors := map[int64]bool{}
	for _, c := range page {
		out = append(out, copyMap(c))
		authors[c["author_id"].(int64)] = true
	}
	body["comments"] = out
	if slices.Contains(strings.Split(q.Get("include"), ","), "users") {
		var users []*zdRecord
		for _, u := range z.users {
			if authors[u.id] {
				users = append(users, u)
			}
		}
		body["users"] = z.render(users)
	}
	z.stats.Records += len(out)
	z.reply(w, http.StatusOK, body)
}

func (z *Zendesk) authorized(r *http.Request) bool {
	if u, p, ok := r.BasicAuth(); ok {
		return u == z.opts.Email+"/token" && p == z.opts.APIToken
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && z.opts.OAuthToken != "" && tok == z.opts.OAuthToken
}

// startTime reads start_time: unix seconds, at least a minute old.
func (z *Zendesk) startTime(w http.ResponseWriter, r *http.Request, horizon int64) (int64, bool) {
	s := r.URL.Query().Get("start_time")
	if s == "" {
		z.reply(w, http.StatusBadRequest, map[string]any{"error": "InvalidPaginationParameter", "description": "start_time or cursor is required"})
		return 0, false
	}
	st, err := strconv.ParseInt(s, 10, 64)
	if err != nil || st < 0 {
		z.reply(w, http.StatusBadRequest, map[string]any{"error": "InvalidValue", "description": "start_time must be a unix timestamp in seconds"})
		return 0, false
	}
	if st > horizon {
		z.reply(w, http.StatusUnprocessableEntity, map[string]any{"error": "InvalidValue", "description": "Too recent start_time. Use a start_time older than 1 minute"})
		return 0, false
	}
	return st, true
}

func zdCursor(ts, id int64) string {
	return base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("%d.0||%d|", ts, id)))
}

func zdParseCursor(c string) (int64, int64, bool) {
	raw, err := base64.StdEncoding.DecodeString(c)
	if err != nil {
		return 0, 0, false
	}
	var ts, id int64
	if _, err := fmt.Sscanf(strings.ReplaceAll(string(raw), "|", " "), "%d.0  %d", &ts, &id); err != nil {
		return 0, 0, false
	}
	return ts, id, true
}

func (z *Zendesk) cursorExport(w http.ResponseWriter, r *http.Request, resource string, items []*zdRecord, perPage int, horizon int64) {
	q := r.URL.Query()
	var afterTS, afterID int64
	switch c := q.Get("cursor"); {
	case c != "" && q.Get("start_time") != "":
		z.reply(w, http.StatusBadRequest, map[string]any{"error": "InvalidPaginationParameter", "description": "cursor and start_time cannot be used together"})
		return
	case c != "":
		var ok bool
		if afterTS, afterID, ok = zdParseCursor(c); !ok {
			z.reply(w, http.StatusBadRequest, map[string]any{"error": "InvalidPaginationParameter", "description": "Invalid cursor"})
			return
		}
	default:
		st, ok := z.startTime(w, r, horizon)
		if !ok {
			return
		}
		afterTS, afterID = st, -1 // inclusive of start_time
	}
	var page []*zdRecord
	more := false
	for _, it := range items {
		if it.ts > horizon {
			break
		}
		if it.ts < afterTS || (it.ts == afterTS && it.id <= afterID) {
			continue
		}
		if len(page) == perPage {
			more = true
			break
		}
		page = append(page, it)
	}
	next := q.Get("cursor")
	if len(page) > 0 {
		last := page[len(page)-1]
		next = zdCursor(last.ts, last.id)
	} else if next == "" {
		next = zdCursor(afterTS, afterID)
	}
	nq := url.Values{"cursor": {next}}
	if q.Has("per_page") {
		nq.Set("per_page", q.Get("per_page"))
	}
	body := map[string]any{
		resource:       z.render(page),
		"after_url":    z.url("api") + "/api/v2/incremental/" + resource + "/cursor.json?" + nq.Encode(),
		"after_cursor": next, "before_url": nil, "before_cursor": nil, "end_of_stream": !more,
	}
	z.sideload(body, r, page)
	z.stats.Records += len(page)
	z.reply(w, http.StatusOK, body)
}

func (z *Zendesk) timeExport(w http.ResponseWriter, r *http.Request, resource string, items []*zdRecord, perPage int, horizon int64) {
	st, ok := z.startTime(w, r, horizon)
	if !ok {
		return
	}
	var page []*zdRecord
	remaining := 0
	for _, it := range items {
		if it.ts < st || it.ts > horizon {
			continue
		}
		remaining++
		// A page takes per_page items, then every further item sharing the last one's
		// time: a page can hold more than per_page.
		if len(page) < perPage || it.ts == page[len(page)-1].ts {
			page = append(page, it)
		}
	}
	end := st
	if len(page) > 0 {
		end = page[len(page)-1].ts
	}
	eos := remaining < perPage
	if !eos && end == st {
		end = st + 1 // everything at st was on this page
	}
	nq := url.Values{"start_time": {strconv.FormatInt(end, 10)}}
	if r.URL.Query().Has("per_page") {
		nq.Set("per_page", r.URL.Query().Get("per_page"))
	}
	body := map[string]any{
		resource: z.render(page), "count": len(page), "end_of_stream": eos, "end_time": end,
		// Still a URL on the last page: only end_of_stream says the export is done.
		"next_page": z.url("api") + "/api/v2/incremental/" + resource + ".json?" + nq.Encode(),
	}
	z.sideload(body, r, page)
	z.stats.Records += len(page)
	z.reply(w, http.StatusOK, body)
}

// sideload adds the users and organizations the page's tickets refer to, as
// include=users,organizations asks.
func (z *Zendesk) sideload(body map[string]any, r *http.Request, page []*zdRecord) {
	inc := strings.Split(r.URL.Query().Get("include"), ",")
	want := func(s string) bool {
		for _, x := range inc {
			if strings.TrimSpace(x) == s {
				return true
			}
		}
		return false
	}
	ids := func(keys ...string) map[int64]bool {
		m := map[int64]bool{}
		for _, t := range page {
			for _, k := range keys {
				if id, ok := t.fields[k].(int64); ok {
					m[id] = true
				}
			}
		}
		return m
	}
	pickAll := func(xs []*zdRecord, want map[int64]bool) []map[string]any {
		var out []*zdRecord
		for _, x := range xs {
			if want[x.id] {
				out = append(out, x)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
		return z.render(out)
	}
	if want("users") {
		body["users"] = pickAll(z.users, ids("requester_id", "submitter_id", "assignee_id"))
	}
	if want("organizations") {
		body["organizations"] = pickAll(z.orgs, ids("organization_id"))
	}
}

func (z *Zendesk) render(xs []*zdRecord) []map[string]any {
	out := make([]map[string]any, 0, len(xs))
	for _, x := range xs {
		m := make(map[string]any, len(x.fields))
		for k, v := range x.fields {
			m[k] = v
		}
		out = append(out, m)
	}
	return out
}
