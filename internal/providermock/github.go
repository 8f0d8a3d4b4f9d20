package providermock

import (
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// GitHub REST issues, as API-NOTES-2 §1 describes:
//
//	GET /repos/{owner}/{repo}/issues            issues and pull requests (a PR has a
//	GET /repositories/{id}/issues               pull_request key): state (default
//	                                            open), sort, direction (default desc),
//	                                            since (updated at or after, inclusive),
//	                                            per_page (≤ 100), page
//	GET /repos/{owner}/{repo}/issues/comments   the repository's issue comments, same
//	GET /repositories/{id}/issues/comments      paging and since
//
// Pages are announced in a Link header (next, last, first, prev) whose URLs use the
// /repositories/{id} form; there is no Link header when one page holds everything,
// and the last page has no next and no last. A page past the end is 200 []. Every
// answer carries x-ratelimit-limit/remaining/used/reset (epoch seconds)/resource; the
// primary limit answers 403 (or 429) with remaining 0, a secondary limit 403 with
// retry-after. If-None-Match with the last ETag gets a 304 that does not count.
// Requests need a User-Agent; a bad token is 401 Bad credentials; a private repo
// without a token is 404.

// GitHub defaults.
const (
	DefaultGitHubToken = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
	defaultGitHubOwner = "octocat"
	defaultGitHubRepo  = "Hello-World"
	defaultGitHubID    = 1296269
)

// GitHubOptions configures the GitHub mock.
type GitHubOptions struct {
	Common // primary rate limit: default 5000 per hour
	Token  string
	Owner  string
	Repo   string
	// Private makes the repository invisible (404) without a valid token.
	Private bool
	// PrimaryStatus is the status of a primary-limit answer, 403 (default) or 429.
	PrimaryStatus int
	// Records; 0 means 480 issues (every sixth a pull request) and 520 comments.
	Issues, Comments int
	// BeforeRequest, when set, is called with the API request's number (from 1)
	// before it is served, outside the mock's lock: tests change data mid-sync with it.
	BeforeRequest func(n int)
}

// GitHub is the GitHub mock. It is safe for concurrent use.
type GitHub struct {
	core
	opts     GitHubOptions
	issues   []*ghItem
	comments []*ghItem
	number   int
	seq      int64
	calls    int
}

type ghItem struct {
	id      int64
	number  int // issues: number; comments: the issue's number
	created time.Time
	updated time.Time
	data    map[string]any
}

func (g *ghItem) stamp() time.Time { return g.updated }
func (g *ghItem) key() string      { return fmt.Sprintf("%012d", g.id) }

// NewGitHub returns a GitHub mock with seeded data.
func NewGitHub(opts GitHubOptions) *GitHub {
	if opts.Token == "" {
		opts.Token = DefaultGitHubToken
	}
	if opts.Owner == "" {
		opts.Owner = defaultGitHubOwner
	}
	if opts.Repo == "" {
		opts.Repo = defaultGitHubRepo
	}
	if opts.PrimaryStatus == 0 {
		opts.PrimaryStatus = http.StatusForbidden
	}
	if opts.Issues == 0 {
		opts.Issues = 480
	}
	if opts.Comments == 0 {
		opts.Comments = 520
	}
	g := &GitHub{core: newCore(opts.Common, 5000, time.Hour), opts: opts}
	g.seed()
	return g
}

func ghTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

var ghUsers = []string{"octocat", "hubot", "monalisa", "mojombo", "defunkt", "pjhyett"}

func ghUser(i int) map[string]any {
	return map[string]any{"login": pick(ghUsers, i), "id": 1 + i%len(ghUsers), "node_id": fmt.Sprintf("MDQ6VXNlcj%d", 1+i%len(ghUsers)), "type": "User", "site_admin": false}
}

func (g *GitHub) seed() {
	times := spread(g.opts.Issues, 13)
	for i := 0; i < g.opts.Issues; i++ {
		g.number++
		g.issues = append(g.issues, g.newIssue(g.number, i, times[i].Add(-time.Duration(i%5)*time.Hour), times[i], i%6 == 5))
	}
	times = spread(g.opts.Comments, 17)
	for i := 0; i < g.opts.Comments; i++ {
		g.comments = append(g.comments, g.newComment(i, 1+(i*7)%g.opts.Issues, times[i]))
	}
	sortByStamp(g.issues)
	sortByStamp(g.comments)
}

func (g *GitHub) repoURL() string {
	return "https://api.github.com/repos/" + g.opts.Owner + "/" + g.opts.Repo
}

func (g *GitHub) newIssue(number, i int, created, updated time.Time, pr bool) *ghItem {
	g.seq++
	id := 1000000000 + g.seq
	state := pick([]string{"open", "closed", "open"}, i)
	var closedAt, stateReason any
	if state == "closed" {
		closedAt, stateReason = ghTime(updated), "completed"
	}
	labels := []any{}
	if i%3 == 0 {
		labels = append(labels, map[string]any{"id": 208045946, "node_id": "MDU6TGFiZWwyMDgwNDU5NDY=", "name": "bug", "color": "f29513", "default": true})
	}
	if i%5 == 1 {
		labels = append(labels, map[string]any{"id": 208045947, "node_id": "MDU6TGFiZWwyMDgwNDU5NDc=", "name": "enhancement", "color": "a2eeef", "default": false})
	}
	var assignee any
	assignees := []any{}
	if i%4 == 2 {
		assignee = ghUser(i + 1)
		assignees = append(assignees, assignee)
	}
	html := fmt.Sprintf("https://github.com/%s/%s/issues/%d", g.opts.Owner, g.opts.Repo, number)
	d := map[string]any{
		"url": fmt.Sprintf("%s/issues/%d", g.repoURL(), number), "repository_url": g.repoURL(), "id": id, "node_id": fmt.Sprintf("MDU6SXNzdWU%d", id),
		"number": number, "title": pick(subjects, i), "state": state, "state_reason": stateReason, "locked": false, "user": ghUser(i),
		"labels": labels, "assignee": assignee, "assignees": assignees, "milestone": nil, "comments": i % 4, "author_association": pick([]string{"OWNER", "MEMBER", "CONTRIBUTOR", "NONE"}, i),
		"created_at": ghTime(created), "updated_at": ghTime(updated), "closed_at": closedAt, "html_url": html, "body": optional(pick([]string{"It crashes.", nil_, "Steps to reproduce: ..."}, i)),
	}
	if pr {
		var merged any
		if state == "closed" {
			merged = ghTime(updated)
		}
		d["draft"] = i%7 == 0
		d["html_url"] = fmt.Sprintf("https://github.com/%s/%s/pull/%d", g.opts.Owner, g.opts.Repo, number)
		d["pull_request"] = map[string]any{"url": fmt.Sprintf("%s/pulls/%d", g.repoURL(), number), "html_url": d["html_url"],
			"diff_url": d["html_url"].(string) + ".diff", "patch_url": d["html_url"].(string) + ".patch", "merged_at": merged}
	}
	return &ghItem{id: id, number: number, created: created, updated: updated, data: d}
}

func (g *GitHub) newComment(i, number int, at time.Time) *ghItem {
	g.seq++
	id := 1500000000 + g.seq
	d := map[string]any{
		"url": fmt.Sprintf("%s/issues/comments/%d", g.repoURL(), id), "html_url": fmt.Sprintf("https://github.com/%s/%s/issues/%d#issuecomment-%d", g.opts.Owner, g.opts.Repo, number, id),
		"issue_url": fmt.Sprintf("%s/issues/%d", g.repoURL(), number), "id": id, "node_id": fmt.Sprintf("MDEyOklzc3VlQ29tbWVudCR%d", id), "user": ghUser(i + 2),
		"created_at": ghTime(at), "updated_at": ghTime(at), "author_association": pick([]string{"MEMBER", "NONE", "CONTRIBUTOR"}, i),
		"body": pick([]string{"Me too.", "Fixed in the latest release.", "Can you share the logs?", "+1"}, i),
	}
	return &ghItem{id: id, number: number, created: at, updated: at, data: d}
}

// Provider implements Mock.
func (g *GitHub) Provider() string { return "github" }

// Hosts implements Mock.
func (g *GitHub) Hosts() []string { return []string{"api"} }

// Values implements Mock.
func (g *GitHub) Values() map[string]any {
	g.mu.Lock()
	defer g.mu.Unlock()
	return map[string]any{"api_url": g.url("api"), "owner": g.opts.Owner, "repo": g.opts.Repo, "token": g.opts.Token}
}

// Counts implements Mock.
func (g *GitHub) Counts() map[string]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[string]int{"comments": len(g.comments)}
	for _, it := range g.issues {
		if _, pr := it.data["pull_request"]; pr {
			out["pull_requests"]++
		} else {
			out["issues"]++
		}
	}
	return out
}

// Change implements Mock: n issues and n pull requests are updated and one of each
// created; n comments are edited and one is added.
func (g *GitHub) Change(n int) map[string]Delta {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now().UTC().Truncate(time.Second)
	out := map[string]Delta{}
	for _, typ := range []string{"issues", "pull_requests"} {
		var sel []*ghItem
		for _, it := range g.issues {
			if _, pr := it.data["pull_request"]; pr == (typ == "pull_requests") {
				sel = append(sel, it)
			}
		}
		d := Delta{}
		for k := 0; k < n && k < len(sel); k++ {
			it := sel[(k*len(sel)/max(n, 1)+4)%len(sel)]
			it.data["title"] = it.data["title"].(string) + " (edited)"
			it.updated = now
			it.data["updated_at"] = ghTime(now)
			d.Updated++
		}
		g.number++
		g.issues = append(g.issues, g.newIssue(g.number, g.number, now, now, typ == "pull_requests"))
		d.Created++
		out[typ] = d
	}
	d := Delta{}
	for k := 0; k < n && k < len(g.comments); k++ {
		c := g.comments[(k*len(g.comments)/max(n, 1)+4)%len(g.comments)]
		c.data["body"] = c.data["body"].(string) + " (edited)"
		c.updated = now
		c.data["updated_at"] = ghTime(now)
		d.Updated++
	}
	g.comments = append(g.comments, g.newComment(len(g.comments), 1, now))
	d.Created++
	out["comments"] = d
	sortByStamp(g.issues)
	sortByStamp(g.comments)
	return out
}

// Handler implements Mock.
func (g *GitHub) Handler(string) http.Handler { return http.HandlerFunc(g.serve) }

func ghErr(msg, doc string, status int) map[string]any {
	return map[string]any{"message": msg, "documentation_url": doc, "status": strconv.Itoa(status)}
}

func (g *GitHub) serve(w http.ResponseWriter, r *http.Request) {
	if hook := g.opts.BeforeRequest; hook != nil {
		g.mu.Lock()
		g.calls++
		n := g.calls
		g.mu.Unlock()
		hook(n)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stats.Requests++
	if r.Header.Get("User-Agent") == "" {
		g.reply(w, http.StatusForbidden, ghErr("Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required).", "https://docs.github.com/rest", 403))
		return
	}
	if v := r.Header.Get("X-GitHub-Api-Version"); v != "" && v != "2022-11-28" && v != "2026-03-10" {
		g.reply(w, http.StatusBadRequest, ghErr(fmt.Sprintf("API version %s is not supported.", v), "https://docs.github.com/rest/overview/api-versions", 400))
		return
	}
	authz := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(authz, "token ")
	}
	authed := ok && tok == g.opts.Token
	if authz != "" && !authed {
		g.reply(w, http.StatusUnauthorized, ghErr("Bad credentials", "https://docs.github.com/rest", 401))
		return
	}
	coll, ok := g.route(r.URL.Path)
	if !ok || (!authed && g.opts.Private) {
		g.reply(w, http.StatusNotFound, ghErr("Not Found", "https://docs.github.com/rest/issues/issues#list-repository-issues", 404))
		return
	}
	body, link, status, msg := g.list(r, coll)
	if status != 0 {
		g.reply(w, status, map[string]any{"message": msg, "documentation_url": "https://docs.github.com/rest/issues/issues#list-repository-issues", "status": strconv.Itoa(status)})
		return
	}
	raw, _ := json.Marshal(body)
	etag := fmt.Sprintf(`W/"%x"`, sha1.Sum(raw))
	if inm := r.Header.Get("If-None-Match"); inm != "" && inm == etag {
		// A 304 does not count against the primary limit.
		g.rateHeaders(w)
		w.Header().Set("ETag", etag)
		g.replyRaw(w, http.StatusNotModified, "", nil)
		return
	}
	if ok, wait := g.admit(); !ok {
		if g.throttledSecondary() {
			s := retryAfterSeconds(wait)
			w.Header().Set("Retry-After", strconv.Itoa(s))
			g.asked(time.Duration(s) * time.Second)
			g.rateHeaders(w)
			g.reply(w, http.StatusForbidden, ghErr("You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.", "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits", 403))
			return
		}
		_, reset := g.limiter.remaining(time.Now())
		g.asked(time.Until(reset))
		g.rateHeaders(w)
		w.Header().Set("x-ratelimit-remaining", "0")
		g.reply(w, g.opts.PrimaryStatus, ghErr("API rate limit exceeded for user ID 1.", "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api", g.opts.PrimaryStatus))
		return
	}
	g.rateHeaders(w)
	w.Header().Set("ETag", etag)
	if link != "" {
		w.Header().Set("Link", link)
	}
	g.stats.Records += len(body)
	g.replyRaw(w, http.StatusOK, "application/json; charset=utf-8", raw)
}

// throttledSecondary: a refusal Throttle forced is answered as a secondary limit
// (with retry-after); the primary window's refusals as the primary limit.
func (g *GitHub) throttledSecondary() bool {
	rem, _ := g.limiter.remaining(time.Now())
	return rem > 0
}

func (g *GitHub) rateHeaders(w http.ResponseWriter) {
	rem, reset := g.limiter.remaining(time.Now())
	limit := g.limiter.limit
	if limit <= 0 {
		limit, rem = 5000, 5000
	}
	h := w.Header()
	h.Set("x-ratelimit-limit", strconv.Itoa(limit))
	h.Set("x-ratelimit-remaining", strconv.Itoa(max(rem, 0)))
	h.Set("x-ratelimit-used", strconv.Itoa(limit-max(rem, 0)))
	// Epoch seconds on the data clock, rounded up so that waiting until then is enough.
	h.Set("x-ratelimit-reset", strconv.FormatInt(g.resetAt(reset).Add(time.Second-time.Nanosecond).Unix(), 10))
	h.Set("x-ratelimit-resource", "core")
}

// route maps a path to "issues" or "comments"; a trailing slash is a 404.
func (g *GitHub) route(path string) (string, bool) {
	var rest string
	if p, ok := strings.CutPrefix(path, "/repos/"+g.opts.Owner+"/"+g.opts.Repo+"/"); ok {
		rest = p
	} else if p, ok := strings.CutPrefix(path, fmt.Sprintf("/repositories/%d/", defaultGitHubID)); ok {
		rest = p
	} else {
		return "", false
	}
	switch rest {
	case "issues":
		return "issues", true
	case "issues/comments":
		return "comments", true
	}
	return "", false
}

func (g *GitHub) list(r *http.Request, coll string) (page []map[string]any, link string, status int, msg string) {
	q := r.URL.Query()
	perPage, ok := intParam(r, "per_page", 30)
	pageNo, ok2 := intParam(r, "page", 1)
	if !ok || !ok2 || perPage < 1 || pageNo < 1 {
		return nil, "", http.StatusUnprocessableEntity, "Validation Failed"
	}
	perPage = min(perPage, 100)
	var since time.Time
	if s := q.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, "", http.StatusUnprocessableEntity, "Validation Failed"
		}
		since = t
	}
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	sortBy, direction := q.Get("sort"), q.Get("direction")
	if sortBy == "" {
		sortBy = "created"
	}
	if direction == "" {
		direction = "desc"
	}
	if (sortBy != "created" && sortBy != "updated" && sortBy != "comments") || (direction != "asc" && direction != "desc") {
		return nil, "", http.StatusUnprocessableEntity, "Validation Failed"
	}
	src := g.issues
	if coll == "comments" {
		src = g.comments
	}
	var sel []*ghItem
	for _, it := range src {
		if !since.IsZero() && it.updated.Before(since) {
			continue // since is inclusive: updated at or after
		}
		if coll == "issues" && state != "all" && it.data["state"] != state {
			continue
		}
		sel = append(sel, it)
	}
	sort.SliceStable(sel, func(i, j int) bool {
		a, b := sel[i], sel[j]
		var c int
		switch sortBy {
		case "updated":
			c = a.updated.Compare(b.updated)
		case "comments":
			c = cmpInt(a.data["comments"], b.data["comments"])
		default:
			c = a.created.Compare(b.created)
		}
		if c == 0 {
			c = cmpInt(a.id, b.id)
		}
		if direction == "desc" {
			return c > 0
		}
		return c < 0
	})
	last := max(1, (len(sel)+perPage-1)/perPage)
	start := min((pageNo-1)*perPage, len(sel))
	end := min(start+perPage, len(sel))
	page = make([]map[string]any, 0, end-start)
	for _, it := range sel[start:end] {
		page = append(page, copyMap(it.data))
	}
	if last > 1 {
		base := fmt.Sprintf("%s/repositories/%d/%s", g.url("api"), defaultGitHubID, map[string]string{"issues": "issues", "comments": "issues/comments"}[coll])
		at := func(n int) string {
			lq := url.Values{}
			for k, v := range q {
				lq[k] = v
			}
			lq.Set("page", strconv.Itoa(n))
			return base + "?" + lq.Encode()
		}
		var rels []string
		if pageNo > 1 {
			rels = append(rels, fmt.Sprintf(`<%s>; rel="prev"`, at(pageNo-1)))
		}
		if pageNo < last {
			rels = append(rels, fmt.Sprintf(`<%s>; rel="next"`, at(pageNo+1)), fmt.Sprintf(`<%s>; rel="last"`, at(last)))
		}
		if pageNo > 1 {
			rels = append(rels, fmt.Sprintf(`<%s>; rel="first"`, at(1)))
		}
		link = strings.Join(rels, ", ")
	}
	return page, link, 0, ""
}

func cmpInt(a, b any) int {
	x, _ := toInt64(a)
	y, _ := toInt64(b)
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	}
	return 0, false
}
