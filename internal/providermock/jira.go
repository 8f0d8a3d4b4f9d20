package providermock

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Jira Cloud REST API v3 issue search, as API-NOTES-2 §3 describes:
//
//	GET|POST /rest/api/3/search/jql                jql (must be bounded), nextPageToken,
//	                                               maxResults (default 50), fields
//	                                               (default id only), expand, ...
//	POST     /rest/api/3/search/approximate-count  {"count": N}
//	GET      /rest/api/3/myself                    the user, with timeZone
//	GET      /rest/api/3/issue/{idOrKey}/comment   an issue's comments: startAt,
//	                                               maxResults (default 50, at most 100,
//	                                               silently lowered), orderBy created;
//	                                               {startAt, maxResults, total, comments}
//	*        /rest/api/{2,3,latest}/search         410 Gone: removed
//
// The next page repeats the request with nextPageToken; the last page has isLast
// true and no nextPageToken key at all. There is no total. A page can be shorter
// than asked (at most 100 issues when fields other than id and key are asked for),
// so a short page never means the end. JQL date literals ("yyyy/MM/dd HH:mm",
// "yyyy-MM-dd HH:mm", dates, relative "-15m") have minute precision and are read in
// the searching user's time zone; an unquoted number is epoch milliseconds. Response
// timestamps are in the system's default zone as 2024-01-15T10:30:41.015+1100.
// Auth is HTTP Basic with e-mail and API token; no credentials at all is anonymous
// (200 with no issues), wrong ones 401. A 429 carries Retry-After and an ISO-8601
// X-RateLimit-Reset to the minute (yyyy-MM-ddTHH:mmZ). Comment bodies are Atlassian
// Document Format; adding, editing or deleting a comment moves its issue's updated.
// The comments of an issue that does not exist (or was deleted) are a 404.

// Jira defaults.
const (
	DefaultJiraEmail    = "mia@example.com"
	DefaultJiraAPIToken = "ATATT3xFfGF0mockApiToken0123456789"
	jiraFieldsCap       = 100
)

// JiraOptions configures the Jira mock.
type JiraOptions struct {
	Common          // default: 20 requests per second (Jira publishes no fixed number)
	Email, APIToken string
	Project         string // project key; "" means ED
	// UserZone is the searching user's zone, in which JQL literals are read; nil means
	// Australia/Sydney. SystemZone is the zone of response timestamps; nil means
	// Europe/Berlin.
	UserZone, SystemZone *time.Location
	// Issues seeded; 0 means 520. Their comments: i%4 for the i-th issue, and 130 on
	// the sixth, which spans two pages.
	Issues int
}

// Jira is the Jira mock. It is safe for concurrent use.
type Jira struct {
	core
	opts      JiraOptions
	issues    []*jiraIssue
	seq       int
	commentID int
	pages     int
}

type jiraIssue struct {
	id       int
	ikey     string // ED-12
	n        int    // 12
	created  time.Time
	updated  time.Time
	fields   map[string]any
	comments []*jiraComment // oldest first
}

type jiraComment struct {
	id      int
	author  map[string]any
	text    string
	created time.Time
	updated time.Time
	deleted bool // by Change: no longer listed
}

func (j *jiraIssue) stamp() time.Time { return j.updated }
func (j *jiraIssue) key() string      { return fmt.Sprintf("%08d", j.n) }

// NewJira returns a Jira mock with seeded data.
func NewJira(opts JiraOptions) *Jira {
	if opts.Email == "" {
		opts.Email = DefaultJiraEmail
	}
	if opts.APIToken == "" {
		opts.APIToken = DefaultJiraAPIToken
	}
	if opts.Project == "" {
		opts.Project = "ED"
	}
	load := func(name string, offset int) *time.Location {
		z, err := time.LoadLocation(name)
		if err != nil {
			return time.FixedZone(name, offset) // no tzdata: a fixed offset
		}
		return z
	}
	if opts.UserZone == nil {
		opts.UserZone = load("Australia/Sydney", 11*3600)
	}
	if opts.SystemZone == nil {
		opts.SystemZone = load("Europe/Berlin", 3600)
	}
	if opts.Issues == 0 {
		opts.Issues = 520
	}
	j := &Jira{core: newCore(opts.Common, 20, time.Second), opts: opts}
	j.seed()
	return j
}

var jiraStatuses = []map[string]any{
	{"id": "10000", "name": "To Do", "statusCategory": map[string]any{"id": 2, "key": "new", "name": "To Do"}},
	{"id": "3", "name": "In Progress", "statusCategory": map[string]any{"id": 4, "key": "indeterminate", "name": "In Progress"}},
	{"id": "10001", "name": "Done", "statusCategory": map[string]any{"id": 3, "key": "done", "name": "Done"}},
}

func jiraUser(i int) map[string]any {
	first, last := person(i + 17)
	u := map[string]any{"accountId": fmt.Sprintf("5b10a2844c20165700ede2%02x", i%40), "accountType": "atlassian", "displayName": first + " " + last,
		"active": true, "timeZone": "Australia/Sydney"}
	if i%5 != 3 {
		// Hidden by the user's privacy settings otherwise.
		u["emailAddress"] = strings.ToLower(first+"."+last) + "@example.com"
	}
	return u
}

func adf(text string) map[string]any {
	return map[string]any{"type": "doc", "version": 1, "content": []any{map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": text}}}}}
}

func (j *Jira) seed() {
	j.commentID = 10000
	times := spread(j.opts.Issues, 19)
	for i := 0; i < j.opts.Issues; i++ {
		// Sub-second precision, several issues in one minute.
		up := times[i].Add(time.Duration(i%1000) * time.Millisecond)
		is := j.newIssue(i, up.Add(-time.Duration(1+i%20)*24*time.Hour), up)
		n := i % 4
		if i == 5 {
			n = 130
		}
		for k := 0; k < n; k++ {
			// Between the issue's creation and its last update, the last one at it.
			at := is.updated.Add(-time.Duration(n-1-k) * time.Minute)
			j.addComment(is, i+k, "Comment "+fmt.Sprint(k+1)+" on "+is.ikey+": "+strings.ToLower(pick(subjects, i+k))+".", at)
		}
		j.issues = append(j.issues, is)
	}
	sortByStamp(j.issues)
}

// addComment adds a comment by the i-th user at t.
func (j *Jira) addComment(is *jiraIssue, i int, text string, t time.Time) *jiraComment {
	j.commentID++
	c := &jiraComment{id: j.commentID, author: jiraUser(i + 3), text: text, created: t, updated: t}
	is.comments = append(is.comments, c)
	return c
}

func (j *Jira) newIssue(i int, created, updated time.Time) *jiraIssue {
	j.seq++
	id := 10001 + j.seq
	key := fmt.Sprintf("%s-%d", j.opts.Project, j.seq)
	status := jiraStatuses[i%len(jiraStatuses)]
	var assignee, resolved, due, desc any
	if i%3 != 0 {
		assignee = jiraUser(i + 7)
	}
	if status["name"] == "Done" {
		resolved = updated
	}
	if i%4 == 1 {
		due = created.AddDate(0, 0, 14).Format("2006-01-02")
	}
	if i%6 != 4 {
		desc = adf("Steps: " + strings.ToLower(pick(subjects, i)) + ".")
	}
	labels := []any{}
	if i%3 == 1 {
		labels = append(labels, pick([]string{"customer", "regression", "ui"}, i))
	}
	return &jiraIssue{id: id, ikey: key, n: j.seq, created: created, updated: updated, fields: map[string]any{
		"summary": pick(subjects, i), "status": status, "description": desc,
		"priority":  map[string]any{"id": strconv.Itoa(1 + i%5), "name": pick([]string{"Highest", "High", "Medium", "Low", "Lowest"}, i)},
		"issuetype": map[string]any{"id": strconv.Itoa(10001 + i%3), "name": pick([]string{"Bug", "Task", "Story"}, i), "subtask": false},
		"project":   map[string]any{"id": "10000", "key": j.opts.Project, "name": "Engineering Desk"},
		"reporter":  jiraUser(i), "assignee": assignee, "labels": labels, "resolutiondate": resolved, "duedate": due,
	}}
}

// Provider implements Mock.
func (j *Jira) Provider() string { return "jira" }

// Hosts implements Mock.
func (j *Jira) Hosts() []string { return []string{"api"} }

// Values implements Mock.
func (j *Jira) Values() map[string]any {
	j.mu.Lock()
	defer j.mu.Unlock()
	return map[string]any{"site_url": j.url("api"), "email": j.opts.Email, "api_token": j.opts.APIToken}
}

// Counts implements Mock: comments Change deleted included.
func (j *Jira) Counts() map[string]int {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := map[string]int{"issues": len(j.issues)}
	for _, is := range j.issues {
		out["comments"] += len(is.comments)
	}
	return out
}

// Change implements Mock: n issues change status and one is created; on three issues
// with comments, a comment is added, one edited and one deleted (each moves its
// issue's updated).
func (j *Jira) Change(n int) map[string]Delta {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.now().UTC().Truncate(time.Millisecond)
	touched := map[*jiraIssue]bool{}
	for k := 0; k < n && k < len(j.issues); k++ {
		is := j.issues[(k*len(j.issues)/max(n, 1)+7)%len(j.issues)]
		is.fields["status"] = jiraStatuses[2]
		is.fields["resolutiondate"] = now
		is.updated = now
		touched[is] = true
	}
	var withComments []*jiraIssue
	for _, is := range j.issues {
		live := 0
		for _, c := range is.comments {
			if !c.deleted {
				live++
			}
		}
		if live >= 2 && !touched[is] {
			withComments = append(withComments, is)
		}
	}
	dc := Delta{}
	for k, is := range withComments[:min(3, len(withComments))] {
		switch k {
		case 0:
			j.addComment(is, k, "A new comment on "+is.ikey+".", now)
			dc.Created++
		case 1:
			for _, c := range is.comments {
				if !c.deleted {
					c.text += " (edited)"
					c.updated = now
					break
				}
			}
			dc.Updated++
		case 2:
			for _, c := range is.comments {
				if !c.deleted {
					c.deleted = true
					break
				}
			}
			dc.Deleted++
		}
		is.updated = now
		touched[is] = true
	}
	j.issues = append(j.issues, j.newIssue(j.seq, now, now))
	sortByStamp(j.issues)
	return map[string]Delta{"issues": {Created: 1, Updated: len(touched)}, "comments": dc}
}

// Handler implements Mock.
func (j *Jira) Handler(string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/rest/api/3/search/jql", j.serveSearch)
	mux.HandleFunc("POST /rest/api/3/search/approximate-count", j.serveCount)
	mux.HandleFunc("GET /rest/api/3/myself", j.serveMyself)
	mux.HandleFunc("GET /rest/api/3/issue/{issue}/comment", j.serveComments)
	for _, v := range []string{"2", "3", "latest"} {
		mux.HandleFunc("/rest/api/"+v+"/search", j.serveGone)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		j.mu.Lock()
		defer j.mu.Unlock()
		j.stats.Requests++
		j.reply(w, http.StatusNotFound, jiraErr("No resource found for "+r.URL.Path))
	})
	return mux
}

func jiraErr(msgs ...string) map[string]any {
	return map[string]any{"errorMessages": msgs, "errors": map[string]any{}}
}

// gate authenticates and rate-limits; anonymous is allowed (ok, anonymous true).
func (j *Jira) gate(w http.ResponseWriter, r *http.Request) (ok, anonymous bool) {
	j.stats.Requests++
	if r.Header.Get("Authorization") == "" {
		return true, true
	}
	u, p, basic := r.BasicAuth()
	if !basic || u != j.opts.Email || p != j.opts.APIToken {
		j.replyRaw(w, http.StatusUnauthorized, "text/plain;charset=UTF-8", []byte("Client must be authenticated to access this resource."))
		return false, false
	}
	if ok, wait := j.admit(); !ok {
		s := retryAfterSeconds(wait)
		w.Header().Set("Retry-After", strconv.Itoa(s))
		// On the data clock, to the minute, rounded up: the budget is back by then.
		reset := j.now().Add(time.Duration(s) * time.Second).UTC()
		if r := reset.Truncate(time.Minute); r.Before(reset) {
			reset = r.Add(time.Minute)
		}
		w.Header().Set("X-RateLimit-Reset", reset.Format("2006-01-02T15:04Z"))
		w.Header().Set("X-RateLimit-Limit", strconv.Itoa(max(j.limiter.limit, 0)))
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("RateLimit-Reason", "jira-burst-based")
		j.asked(time.Duration(s) * time.Second)
		j.reply(w, http.StatusTooManyRequests, jiraErr("Rate limit exceeded."))
		return false, false
	}
	return true, false
}

func (j *Jira) serveGone(w http.ResponseWriter, r *http.Request) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.stats.Requests++
	j.reply(w, http.StatusGone, jiraErr("The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"))
}

func (j *Jira) serveMyself(w http.ResponseWriter, r *http.Request) {
	j.mu.Lock()
	defer j.mu.Unlock()
	ok, anon := j.gate(w, r)
	if !ok {
		return
	}
	if anon {
		j.replyRaw(w, http.StatusUnauthorized, "text/plain;charset=UTF-8", []byte("Client must be authenticated to access this resource."))
		return
	}
	j.reply(w, http.StatusOK, map[string]any{"accountId": "5b10a2844c20165700ede21g", "emailAddress": j.opts.Email, "displayName": "Mia Krystof",
		"active": true, "timeZone": j.opts.UserZone.String(), "accountType": "atlassian"})
}

type jiraSearch struct {
	JQL           string `json:"jql"`
	NextPageToken string `json:"nextPageToken"`
	MaxResults    *int   `json:"maxResults"`
	Fields        any    `json:"fields"`
}

// request reads the search from the query string (GET) or the JSON body (POST).
func (j *Jira) request(r *http.Request) (jiraSearch, string) {
	var s jiraSearch
	if r.Method == http.MethodPost {
		raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil {
			err = json.Unmarshal(raw, &s)
		}
		if err != nil {
			return s, "Invalid request payload. Refer to the REST API documentation and try again."
		}
		return s, ""
	}
	q := r.URL.Query()
	s.JQL, s.NextPageToken = q.Get("jql"), q.Get("nextPageToken")
	if m := q.Get("maxResults"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil {
			return s, "The maxResults parameter must be a number."
		}
		s.MaxResults = &n
	}
	if f := q.Get("fields"); f != "" {
		s.Fields = f
	}
	return s, ""
}

var (
	jqlOrderRe  = regexp.MustCompile(`(?i)\s+ORDER\s+BY\s+(.+)$`)
	jqlClauseRe = regexp.MustCompile(`(?i)^\s*\(?\s*([a-z]+)\s*(>=|<=|>|<|=)\s*("[^"]*"|-?[0-9]+[mhdw]?|[A-Za-z][A-Za-z0-9_-]*)\s*\)?\s*$`)
	jqlAndRe    = regexp.MustCompile(`(?i)\s+AND\s+`)
	jqlRelRe    = regexp.MustCompile(`^(-?[0-9]+)([mhdw]?)$`)
)

type jqlClause struct {
	field, op string
	at        time.Time // dates
	text      string    // project
	precision time.Duration
}

// parseJQL reads `clause [AND clause]... [ORDER BY field [ASC|DESC], ...]` where a
// clause compares project, updated or created.
func (j *Jira) parseJQL(jql string) ([]jqlClause, [][2]string, string) {
	var order [][2]string
	where := jql
	if m := jqlOrderRe.FindStringSubmatchIndex(jql); m != nil {
		where = jql[:m[0]]
		for _, o := range strings.Split(jql[m[2]:m[3]], ",") {
			parts := strings.Fields(o)
			if len(parts) == 0 || len(parts) > 2 {
				return nil, nil, "Error in the JQL Query: the ORDER BY clause is malformed."
			}
			dir := "ASC"
			if len(parts) == 2 {
				dir = strings.ToUpper(parts[1])
			}
			order = append(order, [2]string{strings.ToLower(parts[0]), dir})
		}
		if len(order) > 7 {
			return nil, nil, "Error in the JQL Query: ORDER BY may list at most 7 fields."
		}
	} else if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(jql)), "ORDER BY") {
		where = ""
	}
	var clauses []jqlClause
	if strings.TrimSpace(where) == "" {
		return nil, order, ""
	}
	for _, c := range jqlAndRe.Split(where, -1) {
		m := jqlClauseRe.FindStringSubmatch(c)
		if m == nil {
			return nil, nil, fmt.Sprintf("Error in the JQL Query: Expecting operator but got '%s'.", strings.TrimSpace(c))
		}
		cl := jqlClause{field: strings.ToLower(m[1]), op: m[2]}
		switch cl.field {
		case "project":
			cl.text = strings.Trim(m[3], `"`)
			if cl.op != "=" {
				return nil, nil, "Error in the JQL Query: project takes =."
			}
		case "updated", "created":
			at, prec, ok := j.jqlTime(m[3])
			if !ok {
				return nil, nil, fmt.Sprintf("Date value '%s' for field '%s' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.", strings.Trim(m[3], `"`), cl.field)
			}
			cl.at, cl.precision = at, prec
		default:
			return nil, nil, fmt.Sprintf("Field '%s' does not exist or you do not have permission to view it.", m[1])
		}
		clauses = append(clauses, cl)
	}
	return clauses, order, ""
}

// jqlTime reads a date literal: quoted formats in the user's zone at minute (or day)
// precision, relative periods from now, or an unquoted number of epoch milliseconds.
func (j *Jira) jqlTime(lit string) (time.Time, time.Duration, bool) {
	if !strings.HasPrefix(lit, `"`) {
		if ms, err := strconv.ParseInt(lit, 10, 64); err == nil {
			return time.UnixMilli(ms), time.Millisecond, true
		}
	}
	s := strings.Trim(lit, `"`)
	if m := jqlRelRe.FindStringSubmatch(s); m != nil && (strings.HasPrefix(s, "-") || m[2] != "") {
		n, _ := strconv.Atoi(m[1])
		unit := map[string]time.Duration{"": time.Minute, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
		return j.now().Add(time.Duration(n) * unit).Truncate(time.Minute), time.Minute, true
	}
	for _, layout := range []string{"2006/01/02 15:04", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, s, j.opts.UserZone); err == nil {
			return t, time.Minute, true
		}
	}
	for _, layout := range []string{"2006/01/02", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, j.opts.UserZone); err == nil {
			return t, 24 * time.Hour, true
		}
	}
	return time.Time{}, 0, false
}

func (c jqlClause) match(is *jiraIssue, project string) bool {
	switch c.field {
	case "project":
		return strings.EqualFold(c.text, project)
	}
	v := is.updated
	if c.field == "created" {
		v = is.created
	}
	// The issue's time at the literal's precision (minute, day in the user's zone, or
	// millisecond).
	v = v.Truncate(c.precision)
	if c.precision == 24*time.Hour {
		y, m, d := is.updated.In(c.at.Location()).Date()
		v = time.Date(y, m, d, 0, 0, 0, 0, c.at.Location())
	}
	cmp := v.Compare(c.at)
	switch c.op {
	case ">=":
		return cmp >= 0
	case ">":
		return cmp > 0
	case "<=":
		return cmp <= 0
	case "<":
		return cmp < 0
	}
	return cmp == 0
}

func (j *Jira) serveSearch(w http.ResponseWriter, r *http.Request) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		j.stats.Requests++
		j.reply(w, http.StatusMethodNotAllowed, jiraErr("Method not allowed"))
		return
	}
	ok, anon := j.gate(w, r)
	if !ok {
		return
	}
	s, bad := j.request(r)
	if bad != "" {
		j.reply(w, http.StatusBadRequest, jiraErr(bad))
		return
	}
	clauses, order, msg := j.parseJQL(s.JQL)
	if msg != "" {
		j.reply(w, http.StatusBadRequest, jiraErr(msg))
		return
	}
	if len(clauses) == 0 {
		j.reply(w, http.StatusBadRequest, jiraErr("Unbounded JQL queries are not allowed here. Please add a search restriction to your query."))
		return
	}
	fields := j.fieldList(s.Fields)
	limit := 50
	if s.MaxResults != nil {
		limit = *s.MaxResults
	}
	onlyIDs := true
	for _, f := range fields {
		if f != "id" && f != "key" {
			onlyIDs = false
		}
	}
	if onlyIDs {
		limit = min(limit, 5000)
	} else {
		limit = min(limit, jiraFieldsCap)
	}
	var matches []*jiraIssue
	if !anon {
		for _, is := range j.issues {
			keep := true
			for _, c := range clauses {
				keep = keep && c.match(is, j.opts.Project)
			}
			if keep {
				matches = append(matches, is)
			}
		}
	}
	if len(order) == 0 {
		order = [][2]string{{"key", "DESC"}}
	}
	sort.SliceStable(matches, func(a, b int) bool {
		x, y := matches[a], matches[b]
		for _, o := range order {
			var c int
			switch o[0] {
			case "updated":
				c = x.updated.Compare(y.updated)
			case "created":
				c = x.created.Compare(y.created)
			default:
				c = x.n - y.n
			}
			if c != 0 {
				return (c < 0) == (o[1] != "DESC")
			}
		}
		return false
	})
	qh := fmt.Sprintf("%x", sha1.Sum([]byte(s.JQL)))[:10]
	offset := 0
	if s.NextPageToken != "" {
		raw, err := base64.RawURLEncoding.DecodeString(s.NextPageToken)
		parts := strings.SplitN(string(raw), ":", 2)
		n, err2 := strconv.Atoi(parts[0])
		if err != nil || err2 != nil || len(parts) != 2 || parts[1] != qh {
			j.reply(w, http.StatusBadRequest, jiraErr("The provided next page token is invalid or expired."))
			return
		}
		offset = n
	}
	// Pages come back shorter than asked at times: a short page is not the end.
	j.pages++
	size := limit
	if j.pages%3 == 2 && size > 5 {
		size -= 3
	}
	offset = min(offset, len(matches))
	end := min(offset+size, len(matches))
	out := make([]map[string]any, 0, end-offset)
	for _, is := range matches[offset:end] {
		out = append(out, j.render(is, fields))
	}
	body := map[string]any{"issues": out, "isLast": end == len(matches)}
	if end < len(matches) {
		body["nextPageToken"] = base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%d:%s", end, qh)))
	}
	j.stats.Records += len(out)
	j.reply(w, http.StatusOK, body)
}

func (j *Jira) serveCount(w http.ResponseWriter, r *http.Request) {
	j.mu.Lock()
	defer j.mu.Unlock()
	ok, anon := j.gate(w, r)
	if !ok {
		return
	}
	s, bad := j.request(r)
	clauses, _, msg := j.parseJQL(s.JQL)
	if bad != "" || msg != "" {
		j.reply(w, http.StatusBadRequest, jiraErr(bad+msg))
		return
	}
	n := 0
	if !anon {
		for _, is := range j.issues {
			keep := true
			for _, c := range clauses {
				keep = keep && c.match(is, j.opts.Project)
			}
			if keep {
				n++
			}
		}
	}
	j.reply(w, http.StatusOK, map[string]any{"count": n})
}

var jiraAllFields = []string{"summary", "status", "description", "priority", "issuetype", "project", "reporter", "assignee", "labels", "created", "updated", "resolutiondate", "duedate"}

// fieldList reads fields: a comma-separated string or an array; default id only.
func (j *Jira) fieldList(v any) []string {
	var fs []string
	switch x := v.(type) {
	case string:
		fs = strings.Split(x, ",")
	case []any:
		for _, f := range x {
			fs = append(fs, fmt.Sprint(f))
		}
	}
	var out []string
	for _, f := range fs {
		f = strings.TrimSpace(f)
		if f == "*all" || f == "*navigable" {
			return jiraAllFields
		}
		if f != "" {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return []string{"id"}
	}
	return out
}

func (j *Jira) serveComments(w http.ResponseWriter, r *http.Request) {
	j.mu.Lock()
	defer j.mu.Unlock()
	ok, anon := j.gate(w, r)
	if !ok {
		return
	}
	ref := r.PathValue("issue")
	var is *jiraIssue
	for _, x := range j.issues {
		if strconv.Itoa(x.id) == ref || x.ikey == ref {
			is = x
		}
	}
	if is == nil || anon {
		j.reply(w, http.StatusNotFound, jiraErr("Issue does not exist or you do not have permission to see it."))
		return
	}
	startAt, ok1 := intParam(r, "startAt", 0)
	maxResults, ok2 := intParam(r, "maxResults", 50)
	if !ok1 || !ok2 || startAt < 0 || maxResults < 0 {
		j.reply(w, http.StatusBadRequest, jiraErr("The startAt and maxResults parameters must be numbers."))
		return
	}
	maxResults = min(maxResults, 100) // silently lowered, as the response's maxResults says
	var live []*jiraComment
	for _, c := range is.comments {
		if !c.deleted {
			live = append(live, c)
		}
	}
	if r.URL.Query().Get("orderBy") == "-created" {
		for a, b := 0, len(live)-1; a < b; a, b = a+1, b-1 {
			live[a], live[b] = live[b], live[a]
		}
	}
	start := min(startAt, len(live))
	end := min(start+maxResults, len(live))
	out := make([]map[string]any, 0, end-start)
	for _, c := range live[start:end] {
		out = append(out, map[string]any{
			"self": fmt.Sprintf("%s/rest/api/3/issue/%d/comment/%d", j.url("api"), is.id, c.id), "id": strconv.Itoa(c.id),
			"author": c.author, "updateAuthor": c.author, "body": adf(c.text),
			"created": j.jiraTime(c.created), "updated": j.jiraTime(c.updated), "jsdPublic": true,
		})
	}
	j.stats.Records += len(out)
	j.reply(w, http.StatusOK, map[string]any{"startAt": startAt, "maxResults": maxResults, "total": len(live), "comments": out})
}

func (j *Jira) jiraTime(t time.Time) string {
	return t.In(j.opts.SystemZone).Format("2006-01-02T15:04:05.000-0700")
}

func (j *Jira) render(is *jiraIssue, fields []string) map[string]any {
	self := fmt.Sprintf("%s/rest/api/3/issue/%d", j.url("api"), is.id)
	out := map[string]any{"id": strconv.Itoa(is.id), "key": is.ikey, "self": self}
	f := map[string]any{}
	for _, name := range fields {
		switch name {
		case "id", "key":
		case "created":
			f[name] = j.jiraTime(is.created)
		case "updated":
			f[name] = j.jiraTime(is.updated)
		case "resolutiondate":
			if t, ok := is.fields[name].(time.Time); ok {
				f[name] = j.jiraTime(t)
			} else {
				f[name] = nil
			}
		default:
			if v, ok := is.fields[name]; ok {
				f[name] = v
			}
		}
	}
	if len(f) > 0 {
		out["fields"] = f
	}
	return out
}
