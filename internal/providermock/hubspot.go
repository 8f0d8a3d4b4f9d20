package providermock

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// HubSpot CRM v3 objects (contacts, companies, deals), as API-NOTES-1 §1 describes:
//
//	GET  /crm/v3/objects/{object}         list: opaque `after` cursor, limit ≤ 100,
//	                                      properties, associations=companies, archived
//	POST /crm/v3/objects/{object}/search  search: filterGroups (≤ 5 groups, ≤ 6 filters
//	                                      each, ≤ 18 in all), one sort, limit ≤ 200,
//	                                      `after` a numeric offset sent as a string,
//	                                      10,000 results at most, body ≤ 3,000 chars
//
// Every property value is a string or null. Contacts are modified-dated by
// `lastmodifieddate`, companies and deals by `hs_lastmodifieddate`; datetime filters
// take epoch milliseconds as a string and GTE includes the bound. Archived records
// never appear in search. Auth is a private-app token (`Authorization: Bearer`); a bad
// one gets 401 INVALID_AUTHENTICATION. The rate limit is per 10 seconds (and 5 per
// second for search) with a 429 TEN_SECONDLY_ROLLING body; list answers carry the
// X-HubSpot-RateLimit-* headers, search answers do not.

// HubSpot defaults.
const (
	DefaultHubSpotToken = "pat-na1-0c3e9a62-4f1d-4b7e-9d55-7f0f5d1a2b3c"
	hubspotSearchCap    = 10000
	hubspotBodyCap      = 3000
)

// HubSpotOptions configures the HubSpot mock.
type HubSpotOptions struct {
	Common
	Token                      string // valid private-app token; "" means DefaultHubSpotToken
	Companies, Contacts, Deals int    // seeded records per object; 0 means 450, 650, 420
	// ImportedContacts are contacts added on top of Contacts by one bulk import: all
	// modified within the same hour, late in 2025.
	ImportedContacts int
	// SearchRateLimit is the search requests admitted per second (0: 5; negative:
	// unlimited; unlimited too when Common.RateLimit is negative). Common.RateLimit is
	// the ten-secondly limit (default 100 per 10s).
	SearchRateLimit int
	// RetryAfter adds a Retry-After header to 429s; whether HubSpot sends one is not
	// documented, so by default it does not.
	RetryAfter bool
	// SearchLag hides records modified less than this long ago from search, as
	// HubSpot's search index does for a few seconds.
	SearchLag time.Duration
	// AcceptISOFilter lets datetime filters take ISO-8601 values as well as epoch
	// milliseconds (reported, not documented).
	AcceptISOFilter bool
	// DeniedObjects are objects the token has no scope for: 403 MISSING_SCOPES.
	DeniedObjects []string
	// DailyLimit is the per-account daily request limit (0: 250,000).
	DailyLimit int
}

// HubSpot is the HubSpot mock. It is safe for concurrent use.
type HubSpot struct {
	core
	opts    HubSpotOptions
	types   map[string]*hsType
	search  window
	daily   int
	nextID  int
	correl  int
	created map[string]int // records Change created, per object
}

type hsType struct {
	name     string
	modProp  string          // the modified-date property search filters on
	defaults []string        // properties returned when none are asked for
	known    map[string]bool // properties the object has
	objs     []*hsObject     // by id
}

type hsObject struct {
	id         int
	props      map[string]any // string or nil values
	created    time.Time
	modified   time.Time
	archived   bool
	archivedAt time.Time
	companyID  int // contacts and deals: the primary company; 0: none
	// archivedByChange: archived by Change, after a sync could see it.
	archivedByChange bool
}

func (o *hsObject) stamp() time.Time { return o.modified }
func (o *hsObject) key() string      { return fmt.Sprintf("%012d", o.id) }

// NewHubSpot returns a HubSpot mock with seeded data.
func NewHubSpot(opts HubSpotOptions) *HubSpot {
	if opts.Token == "" {
		opts.Token = DefaultHubSpotToken
	}
	if opts.Companies == 0 {
		opts.Companies = 450
	}
	if opts.Contacts == 0 {
		opts.Contacts = 650
	}
	if opts.Deals == 0 {
		opts.Deals = 420
	}
	if opts.SearchRateLimit == 0 {
		opts.SearchRateLimit = 5
		if opts.RateLimit < 0 {
			opts.SearchRateLimit = -1 // every limit off
		}
	}
	if opts.DailyLimit == 0 {
		opts.DailyLimit = 250000
	}
	h := &HubSpot{core: newCore(opts.Common, 100, 10*time.Second), opts: opts, search: window{limit: opts.SearchRateLimit, per: time.Second}, created: map[string]int{}}
	h.seed()
	return h
}

func hsTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (h *HubSpot) seed() {
	known := func(props ...string) map[string]bool {
		m := map[string]bool{"hs_object_id": true, "createdate": true}
		for _, p := range props {
			m[p] = true
		}
		return m
	}
	h.types = map[string]*hsType{
		"companies": {name: "companies", modProp: "hs_lastmodifieddate",
			defaults: []string{"name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"},
			known:    known("name", "domain", "website", "industry", "numberofemployees", "annualrevenue", "phone", "city", "country", "lifecyclestage", "hubspot_owner_id", "hs_lastmodifieddate", "description")},
		"contacts": {name: "contacts", modProp: "lastmodifieddate",
			defaults: []string{"firstname", "lastname", "email", "lastmodifieddate", "hs_object_id", "createdate"},
			known:    known("email", "firstname", "lastname", "phone", "mobilephone", "jobtitle", "company", "lifecyclestage", "associatedcompanyid", "hubspot_owner_id", "city", "country", "lastmodifieddate", "hs_email_optout")},
		"deals": {name: "deals", modProp: "hs_lastmodifieddate",
			defaults: []string{"dealname", "amount", "closedate", "pipeline", "dealstage", "createdate", "hs_lastmodifieddate", "hs_object_id"},
			known:    known("dealname", "amount", "closedate", "pipeline", "dealstage", "dealtype", "hubspot_owner_id", "hs_lastmodifieddate", "hs_is_closed", "hs_is_closed_won", "deal_currency_code", "description")},
	}
	owners := []string{"31516543", "31516544", "31516545"}
	// Companies: ids 9001...
	times := spread(h.opts.Companies, 3)
	for i := 0; i < h.opts.Companies; i++ {
		name, domain := company(i)
		o := &hsObject{id: 9001 + i, created: times[i].Add(-30 * 24 * time.Hour), modified: times[i].Add(time.Duration(i%4*111) * time.Millisecond)}
		if i%4 != 0 {
			o.modified = times[i].Add(417 * time.Millisecond) // ties share the millisecond too
		}
		emp := fmt.Sprint(10 + i*37%4000)
		o.props = map[string]any{
			"name": name, "domain": domain, "website": "https://www." + domain, "industry": pick(industries, i),
			"numberofemployees": emp, "annualrevenue": fmt.Sprintf("%d000", 50+i*13%900), "phone": fmt.Sprintf("+1 512 555 %04d", i),
			"city": pick(cities, i), "country": pick(countries, i), "lifecyclestage": pick([]string{"lead", "opportunity", "customer"}, i),
			"hubspot_owner_id": pick(owners, i), "description": nil,
		}
		if i%17 == 5 {
			o.props["domain"], o.props["website"] = nil, nil // no domain: matched by nothing
		}
		if i%23 == 7 {
			o.props["numberofemployees"] = nil
		}
		o.archived = i%40 == 39
		o.archivedAt = o.modified.Add(time.Hour)
		h.types["companies"].objs = append(h.types["companies"].objs, o)
	}
	times = spread(h.opts.Contacts, 7)
	for i := 0; i < h.opts.Contacts; i++ {
		first, last := person(i)
		co := i % h.opts.Companies
		_, domain := company(co)
		o := &hsObject{id: 100451 + i, created: times[i].Add(-10 * 24 * time.Hour), modified: times[i].Add(356 * time.Millisecond), companyID: 9001 + co}
		o.props = map[string]any{
			"email": email(first, last, domain, i), "firstname": first, "lastname": last, "phone": fmt.Sprintf("+1 512 555 %04d", 1000+i),
			"mobilephone": nil, "jobtitle": optional(pick(titles, i)), "company": nil, "lifecyclestage": pick([]string{"subscriber", "lead", "marketingqualifiedlead", "customer"}, i),
			"associatedcompanyid": fmt.Sprint(9001 + co), "hubspot_owner_id": pick(owners, i+1), "city": pick(cities, i+2), "country": pick(countries, i+2),
			"hs_email_optout": pick([]string{"false", "false", "true"}, i),
		}
		if i%11 == 3 {
			o.props["firstname"] = nil
		}
		if i%29 == 13 {
			o.companyID = 0
			o.props["associatedcompanyid"] = nil
		}
		o.archived = i%50 == 49
		o.archivedAt = o.modified.Add(time.Hour)
		h.types["contacts"].objs = append(h.types["contacts"].objs, o)
	}
	// A bulk import: contacts modified a few hundred milliseconds apart within one hour.
	imported := time.Date(2025, 11, 3, 9, 0, 0, 0, time.UTC)
	for k := 0; k < h.opts.ImportedContacts; k++ {
		first, last := person(k + 3)
		at := imported.Add(time.Duration(k) * time.Hour / time.Duration(max(h.opts.ImportedContacts, 1))).Truncate(time.Millisecond)
		o := &hsObject{id: 5000001 + k, created: at, modified: at}
		o.props = map[string]any{"email": strings.ToLower(fmt.Sprintf("%s.%s.import%d@import.example", first, last, k)), "firstname": first, "lastname": last,
			"lifecyclestage": "subscriber", "hs_email_optout": "false"}
		h.types["contacts"].objs = append(h.types["contacts"].objs, o)
	}
	times = spread(h.opts.Deals, 11)
	for i := 0; i < h.opts.Deals; i++ {
		name, _ := company(i % h.opts.Companies)
		o := &hsObject{id: 7700001 + i, created: times[i].Add(-5 * 24 * time.Hour), modified: times[i].Add(20 * time.Millisecond), companyID: 9001 + i%h.opts.Companies}
		if i%19 == 11 {
			o.companyID = 0 // a deal with no company
		}
		stage := pick([]string{"appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "contractsent", "closedwon", "closedlost"}, i)
		o.props = map[string]any{
			"dealname": name + " - " + pick([]string{"New business", "Renewal", "Upsell"}, i), "amount": fmt.Sprintf("%d.%02d", 1000+i*97%50000, i%100),
			"closedate": hsTime(times[i].Add(45 * 24 * time.Hour)), "pipeline": "default", "dealstage": stage,
			"dealtype": pick([]string{"newbusiness", "existingbusiness"}, i), "hubspot_owner_id": pick(owners, i),
			"hs_is_closed": fmt.Sprint(stage == "closedwon" || stage == "closedlost"), "hs_is_closed_won": fmt.Sprint(stage == "closedwon"),
			"deal_currency_code": "USD", "description": nil,
		}
		if i%13 == 6 {
			o.props["amount"] = nil
		}
		o.archived = i%45 == 44
		o.archivedAt = o.modified.Add(time.Hour)
		h.types["deals"].objs = append(h.types["deals"].objs, o)
	}
	h.nextID = 20000000
	for _, t := range h.types {
		for _, o := range t.objs {
			h.stampProps(t, o)
		}
	}
}

// stampProps writes the object's id and dates into its properties, as strings.
func (h *HubSpot) stampProps(t *hsType, o *hsObject) {
	o.props["hs_object_id"] = fmt.Sprint(o.id)
	o.props["createdate"] = hsTime(o.created)
	o.props[t.modProp] = hsTime(o.modified)
}

// Provider implements Mock.
func (h *HubSpot) Provider() string { return "hubspot" }

// Hosts implements Mock.
func (h *HubSpot) Hosts() []string { return []string{"api"} }

// Values implements Mock.
func (h *HubSpot) Values() map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return map[string]any{"api_url": h.url("api"), "access_token": h.opts.Token}
}

// Counts implements Mock: neither search nor a list without archived=true returns
// archived records, so the seeded ones are never stored; those Change archived were.
func (h *HubSpot) Counts() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for name, t := range h.types {
		for _, o := range t.objs {
			if !o.archived || o.archivedByChange {
				out[name]++
			}
		}
	}
	return out
}

// Change implements Mock: per object, n records change a property, one is created
// and one is archived (deleted), all at the data clock's time.
func (h *HubSpot) Change(n int) map[string]Delta {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now().UTC().Truncate(time.Millisecond)
	out := map[string]Delta{}
	for _, name := range []string{"companies", "contacts", "deals"} {
		t := h.types[name]
		live := make([]*hsObject, 0, len(t.objs))
		for _, o := range t.objs {
			if !o.archived {
				live = append(live, o)
			}
		}
		d := Delta{}
		changed := map[*hsObject]bool{}
		for k := 0; k < n && k < len(live); k++ {
			o := live[(k*len(live)/max(n, 1)+3)%len(live)]
			changed[o] = true
			switch name {
			case "companies":
				o.props["industry"] = "Changed " + fmt.Sprint(o.id)
			case "contacts":
				o.props["jobtitle"] = "Promoted " + fmt.Sprint(o.id)
			case "deals":
				o.props["dealstage"] = "closedwon"
				o.props["hs_is_closed"], o.props["hs_is_closed_won"] = "true", "true"
			}
			o.modified = now
			h.stampProps(t, o)
			d.Updated++
		}
		h.nextID++
		o := &hsObject{id: h.nextID, created: now, modified: now}
		switch name {
		case "companies":
			o.props = map[string]any{"name": "Newco " + fmt.Sprint(h.nextID), "domain": fmt.Sprintf("newco%d.example", h.nextID), "industry": "Software"}
		case "contacts":
			o.props = map[string]any{"email": fmt.Sprintf("new%d@newco.example", h.nextID), "firstname": "New", "lastname": "Person"}
		case "deals":
			o.props = map[string]any{"dealname": "Fresh deal", "amount": "5000", "dealstage": "appointmentscheduled", "pipeline": "default"}
		}
		h.stampProps(t, o)
		t.objs = append(t.objs, o)
		h.created[name]++
		d.Created++
		// Archive the first live record that did not just change. Archiving does not
		// move its modified date; only lists with archived=true show it now.
		for _, a := range live {
			if !changed[a] {
				a.archived, a.archivedByChange, a.archivedAt = true, true, now
				d.Deleted++
				break
			}
		}
		out[name] = d
	}
	return out
}

// Handler implements Mock.
func (h *HubSpot) Handler(string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /crm/v3/objects/{object}/search", h.serveSearch)
	mux.HandleFunc("GET /crm/v3/objects/{object}", h.serveList)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.stats.Requests++
		h.reply(w, http.StatusNotFound, h.errBody("OBJECT_NOT_FOUND", "Resource not found", nil))
	})
	return mux
}

func (h *HubSpot) errBody(category, msg string, ctx map[string][]string) map[string]any {
	h.correl++
	b := map[string]any{"status": "error", "message": msg, "correlationId": fmt.Sprintf("c033cdaa-2c40-4a64-ae48-%012x", h.correl), "category": category}
	if ctx != nil {
		b["context"] = ctx
	}
	return b
}

// gate runs the checks every API request passes, in order: auth, object, scope,
// daily and ten-secondly limits (and the search limit). It answers and returns
// false when the request is refused. The caller holds mu.
func (h *HubSpot) gate(w http.ResponseWriter, r *http.Request, search bool) (*hsType, bool) {
	h.stats.Requests++
	if r.Header.Get("Authorization") != "Bearer "+h.opts.Token {
		w.Header().Set("x-hubspot-auth-failure", "401 Unauthorized")
		h.reply(w, http.StatusUnauthorized, h.errBody("INVALID_AUTHENTICATION", "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview", nil))
		return nil, false
	}
	h.daily++
	if h.daily > h.opts.DailyLimit {
		h.stats.RateLimited++
		h.reply(w, http.StatusTooManyRequests, h.rateBody("DAILY", "You have reached your daily limit."))
		return nil, false
	}
	ok, wait := h.admit()
	if ok && search {
		if ok, wait = h.search.admit(time.Now()); !ok {
			h.stats.RateLimited++
		}
	}
	if !ok {
		if h.opts.RetryAfter {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
			h.asked(time.Duration(retryAfterSeconds(wait)) * time.Second)
		}
		h.reply(w, http.StatusTooManyRequests, h.rateBody("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit."))
		return nil, false
	}
	if !search {
		// Search answers carry no rate-limit headers; list answers do.
		rem, _ := h.limiter.remaining(time.Now())
		hd := w.Header()
		hd.Set("X-HubSpot-RateLimit-Daily", strconv.Itoa(h.opts.DailyLimit))
		hd.Set("X-HubSpot-RateLimit-Daily-Remaining", strconv.Itoa(max(0, h.opts.DailyLimit-h.daily)))
		hd.Set("X-HubSpot-RateLimit-Interval-Milliseconds", strconv.FormatInt(h.limiter.per.Milliseconds(), 10))
		hd.Set("X-HubSpot-RateLimit-Max", strconv.Itoa(h.limiter.limit))
		hd.Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(max(0, rem)))
	}
	name := r.PathValue("object")
	t := h.types[name]
	if t == nil {
		h.reply(w, http.StatusBadRequest, h.errBody("VALIDATION_ERROR", "Unable to infer object type from: "+name, nil))
		return nil, false
	}
	for _, d := range h.opts.DeniedObjects {
		if d == name {
			h.reply(w, http.StatusForbidden, h.errBody("MISSING_SCOPES", "This app hasn't been granted all required scopes to make this call.", map[string][]string{"requiredScopes": {"crm.objects." + name + ".read"}}))
			return nil, false
		}
	}
	return t, true
}

func (h *HubSpot) rateBody(policy, msg string) map[string]any {
	h.correl++
	return map[string]any{"status": "error", "message": msg, "errorType": "RATE_LIMIT",
		"correlationId": fmt.Sprintf("c033cdaa-2c40-4a64-ae48-%012x", h.correl), "policyName": policy,
		"requestId": fmt.Sprintf("3d3e35b7-0dae-4b9f-a6e3-%012x", h.correl)}
}

// render is a record as list and search answer it.
func (h *HubSpot) render(t *hsType, o *hsObject, props []string) map[string]any {
	p := map[string]any{}
	if len(props) == 0 {
		props = t.defaults
	} else {
		props = append(append([]string(nil), props...), "hs_object_id", "createdate", t.modProp)
	}
	for _, name := range props {
		if !t.known[name] {
			continue // unknown properties are ignored silently
		}
		v, ok := o.props[name]
		if !ok {
			v = nil
		}
		p[name] = v
	}
	rec := map[string]any{"id": fmt.Sprint(o.id), "properties": p, "createdAt": hsTime(o.created), "updatedAt": hsTime(o.modified), "archived": o.archived}
	if o.archived {
		rec["archivedAt"] = hsTime(o.archivedAt)
	}
	return rec
}

func (h *HubSpot) serveList(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.gate(w, r, false)
	if !ok {
		return
	}
	q := r.URL.Query()
	limit, ok := intParam(r, "limit", 10)
	if !ok || limit < 1 {
		h.reply(w, http.StatusBadRequest, h.errBody("VALIDATION_ERROR", "Invalid input: limit", nil))
		return
	}
	limit = min(limit, 100) // the widely cited maximum; above it is not documented
	archived := q.Get("archived") == "true"
	after := 0
	if a := q.Get("after"); a != "" {
		raw, err := base64.RawURLEncoding.DecodeString(a)
		id, err2 := strconv.Atoi(strings.TrimPrefix(string(raw), "id:"))
		if err != nil || err2 != nil || !strings.HasPrefix(string(raw), "id:") {
			h.reply(w, http.StatusBadRequest, h.errBody("VALIDATION_ERROR", "Invalid input JSON on line 1: after is not a valid paging cursor", nil))
			return
		}
		after = id
	}
	var props []string
	if p := q.Get("properties"); p != "" {
		props = strings.Split(p, ",")
	}
	objs := append([]*hsObject(nil), t.objs...)
	sort.Slice(objs, func(i, j int) bool { return objs[i].id < objs[j].id })
	var page []map[string]any
	next := 0
	for _, o := range objs {
		if o.archived != archived || o.id < after {
			continue
		}
		if len(page) == limit {
			next = o.id
			break
		}
		rec := h.render(t, o, props)
		if strings.Contains(q.Get("associations"), "companies") && t.name != "companies" && o.companyID != 0 {
			// The same company once per label: the primary, and the plain association.
			id, from := fmt.Sprint(o.companyID), strings.TrimSuffix(t.name, "s")
			rec["associations"] = map[string]any{"companies": map[string]any{"results": []any{
				map[string]any{"id": id, "type": from + "_to_company"},
				map[string]any{"id": id, "type": from + "_to_company_unlabeled"},
			}}}
		}
		page = append(page, rec)
	}
	body := map[string]any{"results": orEmpty(page)}
	if next != 0 {
		tok := base64.RawURLEncoding.EncodeToString([]byte("id:" + fmt.Sprint(next)))
		nq := r.URL.Query()
		nq.Set("after", tok)
		body["paging"] = map[string]any{"next": map[string]any{"after": tok, "link": h.url("api") + r.URL.Path + "?" + nq.Encode()}}
	}
	h.stats.Records += len(page)
	h.reply(w, http.StatusOK, body)
}

type hsFilter struct {
	PropertyName string `json:"propertyName"`
	Operator     string `json:"operator"`
	Value        any    `json:"value"`
}

type hsSearch struct {
	FilterGroups []struct {
		Filters []hsFilter `json:"filters"`
	} `json:"filterGroups"`
	Sorts []struct {
		PropertyName string `json:"propertyName"`
		Direction    string `json:"direction"`
	} `json:"sorts"`
	Properties []string `json:"properties"`
	Limit      any      `json:"limit"`
	After      any      `json:"after"`
}

var hsDateProps = map[string]bool{"createdate": true, "lastmodifieddate": true, "hs_lastmodifieddate": true, "closedate": true}

func (h *HubSpot) serveSearch(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.gate(w, r, true)
	if !ok {
		return
	}
	invalid := func(msg string) { h.reply(w, http.StatusBadRequest, h.errBody("VALIDATION_ERROR", msg, nil)) }
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		invalid("could not read the request body")
		return
	}
	if len(raw) > hubspotBodyCap {
		invalid(fmt.Sprintf("Request body too large: %d characters; the limit is %d.", len(raw), hubspotBodyCap))
		return
	}
	var s hsSearch
	if err := json.Unmarshal(raw, &s); err != nil {
		invalid("Invalid input JSON on line 1: " + err.Error())
		return
	}
	limit := 10
	if s.Limit != nil {
		f, ok := s.Limit.(float64)
		if !ok || f != float64(int(f)) || f < 1 {
			invalid("Invalid input: limit must be a positive integer")
			return
		}
		limit = int(f)
	}
	if limit > 200 {
		invalid(fmt.Sprintf("Invalid input: limit %d exceeds the maximum of 200", limit))
		return
	}
	offset := 0
	switch a := s.After.(type) {
	case nil:
	case string:
		n, err := strconv.Atoi(a)
		if err != nil || n < 0 {
			invalid(fmt.Sprintf("Invalid input: after %q is not an offset", a))
			return
		}
		offset = n
	default:
		invalid("Invalid input: after must be a string")
		return
	}
	if len(s.FilterGroups) > 5 {
		invalid("Too many filter groups: at most 5 are allowed.")
		return
	}
	total := 0
	for _, g := range s.FilterGroups {
		if len(g.Filters) > 6 {
			invalid("Too many filters in a group: at most 6 are allowed.")
			return
		}
		total += len(g.Filters)
	}
	if total > 18 {
		invalid("Too many filters: at most 18 are allowed in all.")
		return
	}
	if len(s.Sorts) > 1 {
		invalid("Only one sort is allowed.")
		return
	}
	if offset >= hubspotSearchCap {
		invalid(fmt.Sprintf("Search results are limited to %d; the requested page starts at %d.", hubspotSearchCap, offset))
		return
	}
	// Filters are checked and their values normalised once, before any record.
	for _, g := range s.FilterGroups {
		for i, f := range g.Filters {
			nf, msg := h.prepareFilter(t, f)
			if msg != "" {
				invalid(msg)
				return
			}
			g.Filters[i] = nf
		}
	}
	now := h.now()
	var matches []*hsObject
	for _, o := range t.objs {
		if o.archived || (h.opts.SearchLag > 0 && now.Sub(o.modified) < h.opts.SearchLag) {
			continue
		}
		keep := len(s.FilterGroups) == 0
		for _, g := range s.FilterGroups {
			all := true
			for _, f := range g.Filters {
				all = all && matchFilter(o, f)
			}
			if all {
				keep = true // groups are OR-ed, filters in a group AND-ed
				break
			}
		}
		if keep {
			matches = append(matches, o)
		}
	}
	sortProp, desc := "createdate", false
	if len(s.Sorts) == 1 {
		sortProp = s.Sorts[0].PropertyName
		if !t.known[sortProp] {
			invalid(fmt.Sprintf("Property %q does not exist on %s", sortProp, t.name))
			return
		}
		desc = s.Sorts[0].Direction == "DESCENDING"
	}
	sort.SliceStable(matches, func(i, j int) bool {
		a, b := matches[i], matches[j]
		c := hsCompare(sortProp, a.props[sortProp], b.props[sortProp])
		if c == 0 {
			return a.id < b.id
		}
		if desc {
			return c > 0
		}
		return c < 0
	})
	end := min(offset+limit, len(matches), hubspotSearchCap)
	var page []map[string]any
	for _, o := range matches[min(offset, len(matches)):max(end, min(offset, len(matches)))] {
		page = append(page, h.render(t, o, s.Properties))
	}
	body := map[string]any{"total": len(matches), "results": orEmpty(page)}
	if offset+len(page) < len(matches) {
		// Past the 10,000th result HubSpot still hands out the next offset, and refuses
		// it when asked.
		body["paging"] = map[string]any{"next": map[string]any{"after": strconv.Itoa(offset + len(page))}}
	}
	h.stats.Records += len(page)
	h.reply(w, http.StatusOK, body)
}

var hsOperators = map[string]bool{"EQ": true, "NEQ": true, "GT": true, "GTE": true, "LT": true, "LTE": true, "HAS_PROPERTY": true, "NOT_HAS_PROPERTY": true}

// prepareFilter checks one search filter and normalises its value to a string in the
// property's own form (a datetime as the property writes it); a non-empty message is
// a validation error.
func (h *HubSpot) prepareFilter(t *hsType, f hsFilter) (hsFilter, string) {
	if !t.known[f.PropertyName] {
		return f, fmt.Sprintf("Property %q does not exist on %s", f.PropertyName, t.name)
	}
	if !hsOperators[f.Operator] {
		return f, fmt.Sprintf("Unsupported operator %q", f.Operator)
	}
	if f.Operator == "HAS_PROPERTY" || f.Operator == "NOT_HAS_PROPERTY" {
		return f, ""
	}
	want, ok := f.Value.(string)
	if !ok {
		if num, isNum := f.Value.(float64); isNum {
			want = strconv.FormatFloat(num, 'f', -1, 64)
		} else {
			return f, fmt.Sprintf("Invalid value for filter on %s", f.PropertyName)
		}
	}
	if hsDateProps[f.PropertyName] {
		ms, err := strconv.ParseInt(want, 10, 64)
		if err != nil {
			ts, perr := time.Parse(time.RFC3339Nano, want)
			if perr != nil || !h.opts.AcceptISOFilter {
				return f, fmt.Sprintf("%s is not a valid value for %s: datetime filters take epoch milliseconds", want, f.PropertyName)
			}
			ms = ts.UnixMilli()
		}
		want = hsTime(time.UnixMilli(ms))
	}
	f.Value = want
	return f, ""
}

// matchFilter evaluates one prepared search filter.
func matchFilter(o *hsObject, f hsFilter) bool {
	v := o.props[f.PropertyName]
	switch f.Operator {
	case "HAS_PROPERTY":
		return v != nil
	case "NOT_HAS_PROPERTY":
		return v == nil
	}
	if v == nil {
		return f.Operator == "NEQ"
	}
	c := hsCompare(f.PropertyName, v, f.Value)
	switch f.Operator {
	case "EQ":
		return c == 0
	case "NEQ":
		return c != 0
	case "GT":
		return c > 0
	case "GTE":
		return c >= 0
	case "LT":
		return c < 0
	}
	return c <= 0 // LTE
}

// hsCompare orders two property values: dates by time, numbers by value, else text;
// null sorts first.
func hsCompare(prop string, a, b any) int {
	as, aok := a.(string)
	bs, bok := b.(string)
	switch {
	case !aok && !bok:
		return 0
	case !aok:
		return -1
	case !bok:
		return 1
	}
	if hsDateProps[prop] {
		// Datetimes are written one way (hsTime: fixed width, UTC), so their text
		// sorts as their time does.
		return strings.Compare(as, bs)
	}
	fa, ea := strconv.ParseFloat(as, 64)
	fb, eb := strconv.ParseFloat(bs, 64)
	if ea == nil && eb == nil {
		switch {
		case fa < fb:
			return -1
		case fa > fb:
			return 1
		}
		return 0
	}
	return strings.Compare(as, bs)
}

// orEmpty keeps an empty page a JSON array rather than null.
func orEmpty(xs []map[string]any) []map[string]any {
	if xs == nil {
		return []map[string]any{}
	}
	return xs
}
