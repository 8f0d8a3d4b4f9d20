package providermock

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Salesforce REST API, as API-NOTES-1 §2 describes. Two hosts:
//
//	login  POST /services/oauth2/token    refresh_token grant, form-encoded; client
//	                                      credentials in the form or HTTP Basic. The
//	                                      answer has instance_url and issued_at (epoch
//	                                      ms as a string), no expires_in, and no new
//	                                      refresh_token.
//	api    GET /services/data/                       API versions
//	       GET /services/data/vXX.X/query?q=SOQL     query (queryAll: also IsDeleted rows)
//	       GET /services/data/vXX.X/query/LOCATOR    next page (queryAll's too)
//	       GET /services/data/vXX.X/limits           DailyApiRequests
//
// The query answer is {totalSize (all rows), done, nextRecordsUrl (relative, locator
// suffix = row offset), records (with attributes, datetimes as ...000+0000)}. Page
// size comes from `Sforce-Query-Options: batchSize=N` (200 to 2000, default 2000)
// and pages may come back shorter than asked. A locator dies after 15 minutes
// unused, and opening an 11th drops the oldest: 400 INVALID_QUERY_LOCATOR. An expired
// or bad token is 401 INVALID_SESSION_ID; the request limit is 403
// REQUEST_LIMIT_EXCEEDED (there is no 429). Errors are JSON arrays. Every answer
// carries Sforce-Limit-Info.

// Salesforce defaults.
const (
	DefaultSalesforceClientID     = "3MVG9mock.connected.app.consumer.key"
	DefaultSalesforceClientSecret = "sf-consumer-secret-8f2b61"
	DefaultSalesforceRefreshToken = "5Aep861mockRefreshTokenXk2"
	salesforceMaxCursors          = 10
)

// SalesforceOptions configures the Salesforce mock.
type SalesforceOptions struct {
	Common
	ClientID, ClientSecret, RefreshToken string // "" means the defaults above
	// APIVersions the instance serves; nil means 58.0 to 61.0.
	APIVersions []string
	// SessionTimeout kills an access token this long after it was issued (data
	// clock); 0 means 2 hours.
	SessionTimeout time.Duration
	// TokenUses kills an access token after this many API calls (0: unlimited), to
	// force a refresh in the middle of a sync.
	TokenUses int
	// LocatorTTL is how long an unused query locator lives (data clock); 0: 15 minutes.
	LocatorTTL time.Duration
	// DailyLimit is the org's rolling 24-hour API allocation; 0 means 15,000.
	DailyLimit int
	// Records per object; 0 means 450 accounts, 600 contacts, 420 opportunities,
	// 400 tasks and 250 users.
	Accounts, Contacts, Opportunities, Tasks, Users int
}

// Salesforce is the Salesforce mock. It is safe for concurrent use.
type Salesforce struct {
	core
	opts     SalesforceOptions
	objects  map[string]*sfObject
	tokens   map[string]*sfToken
	locators map[string]*sfLocator
	order    []string // locator ids, oldest first
	seq      int
	used     int // API calls counted against the daily limit
}

type sfToken struct {
	issued time.Time
	uses   int
}

type sfLocator struct {
	object string
	fields []string
	rows   []*sfRecord
	offset int
	used   time.Time
	pages  int
}

// sfField is a field's type: id, string, datetime, date, bool, int, double, ref.
type sfObject struct {
	name    string
	prefix  string
	fields  map[string]string
	rels    map[string][2]string // relationship name → (object, foreign key)
	records []*sfRecord
}

type sfRecord struct {
	id     string
	values map[string]any // Go values: string, time.Time (datetime), sfDate, bool, int, float64, nil
}

type sfDate string

func (r *sfRecord) stamp() time.Time { return r.values["SystemModstamp"].(time.Time) }
func (r *sfRecord) key() string      { return r.id }

// NewSalesforce returns a Salesforce mock with seeded data.
func NewSalesforce(opts SalesforceOptions) *Salesforce {
	if opts.ClientID == "" {
		opts.ClientID = DefaultSalesforceClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultSalesforceClientSecret
	}
	if opts.RefreshToken == "" {
		opts.RefreshToken = DefaultSalesforceRefreshToken
	}
	if opts.APIVersions == nil {
		opts.APIVersions = []string{"58.0", "59.0", "60.0", "61.0"}
	}
	if opts.SessionTimeout == 0 {
		opts.SessionTimeout = 2 * time.Hour
	}
	if opts.LocatorTTL == 0 {
		opts.LocatorTTL = 15 * time.Minute
	}
	if opts.DailyLimit == 0 {
		opts.DailyLimit = 15000
	}
	def := func(n *int, d int) {
		if *n == 0 {
			*n = d
		}
	}
	def(&opts.Accounts, 450)
	def(&opts.Contacts, 600)
	def(&opts.Opportunities, 420)
	def(&opts.Tasks, 400)
	def(&opts.Users, 250)
	// Salesforce has no per-second limit; the mock's window is off unless asked for.
	if opts.RateLimit == 0 {
		opts.RateLimit = -1
	}
	s := &Salesforce{core: newCore(opts.Common, -1, time.Second), opts: opts, tokens: map[string]*sfToken{}, locators: map[string]*sfLocator{}}
	s.seed()
	return s
}

func sfID(prefix string, n int) string { return fmt.Sprintf("%sD0000%07dIAH", prefix, n) }

func (s *Salesforce) seed() {
	audit := map[string]string{"Id": "id", "CreatedDate": "datetime", "LastModifiedDate": "datetime", "SystemModstamp": "datetime", "IsDeleted": "bool", "OwnerId": "ref"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range audit {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	s.objects = map[string]*sfObject{
		"User": {name: "User", prefix: "005", fields: map[string]string{"Id": "id", "CreatedDate": "datetime", "LastModifiedDate": "datetime", "SystemModstamp": "datetime",
			"Name": "string", "FirstName": "string", "LastName": "string", "Email": "string", "Username": "string", "Title": "string", "IsActive": "bool",
			"UserType": "string", "TimeZoneSidKey": "string", "LanguageLocaleKey": "string", "LastLoginDate": "datetime"}},
		"Account": {name: "Account", prefix: "001", fields: with(map[string]string{"Name": "string", "Website": "string", "Industry": "string", "NumberOfEmployees": "int",
			"AnnualRevenue": "double", "Phone": "string", "Type": "string", "BillingCity": "string", "BillingState": "string", "BillingCountry": "string",
			"ParentId": "ref", "Description": "string"}), rels: map[string][2]string{"Owner": {"User", "OwnerId"}, "Parent": {"Account", "ParentId"}}},
		"Contact": {name: "Contact", prefix: "003", fields: with(map[string]string{"FirstName": "string", "LastName": "string", "Name": "string", "Email": "string",
			"Title": "string", "Phone": "string", "MobilePhone": "string", "AccountId": "ref", "MailingCity": "string", "MailingCountry": "string",
			"HasOptedOutOfEmail": "bool", "LeadSource": "string"}), rels: map[string][2]string{"Owner": {"User", "OwnerId"}, "Account": {"Account", "AccountId"}}},
		"Opportunity": {name: "Opportunity", prefix: "006", fields: with(map[string]string{"Name": "string", "Amount": "double", "StageName": "string", "Probability": "double",
			"CloseDate": "date", "IsClosed": "bool", "IsWon": "bool", "Type": "string", "LeadSource": "string", "AccountId": "ref", "ForecastCategoryName": "string"}),
			rels: map[string][2]string{"Owner": {"User", "OwnerId"}, "Account": {"Account", "AccountId"}}},
		"Task": {name: "Task", prefix: "00T", fields: with(map[string]string{"Subject": "string", "Description": "string", "Status": "string", "Priority": "string",
			"ActivityDate": "date", "IsClosed": "bool", "WhoId": "ref", "WhatId": "ref", "AccountId": "ref", "TaskSubtype": "string", "CompletedDateTime": "datetime",
			"IsArchived": "bool"}), rels: map[string][2]string{"Owner": {"User", "OwnerId"}}},
	}
	stamp := func(r *sfRecord, at time.Time, i int) {
		r.values["CreatedDate"] = at.Add(-time.Duration(20+i%30) * 24 * time.Hour)
		r.values["LastModifiedDate"] = at
		r.values["SystemModstamp"] = at
		if i%10 == 3 {
			// A system update moved SystemModstamp past LastModifiedDate.
			r.values["LastModifiedDate"] = at.Add(-3 * time.Hour)
		}
	}
	users := s.objects["User"]
	times := spread(s.opts.Users, 1)
	for i := 0; i < s.opts.Users; i++ {
		first, last := person(i + 3)
		r := &sfRecord{id: sfID("005", i+1), values: map[string]any{"Name": first + " " + last, "FirstName": first, "LastName": last,
			"Email": strings.ToLower(first+"."+last) + fmt.Sprint(i) + "@customer.example", "Username": strings.ToLower(first+"."+last) + fmt.Sprint(i) + "@customer.example.prod",
			"Title": optional(pick(titles, i)), "IsActive": i%12 != 5, "UserType": pick([]string{"Standard", "Standard", "PowerPartner"}, i),
			"TimeZoneSidKey": pick([]string{"America/Los_Angeles", "Europe/Berlin", "Asia/Tokyo"}, i), "LanguageLocaleKey": pick([]string{"en_US", "de", "ja"}, i),
			"LastLoginDate": nil}}
		if i%3 != 2 {
			r.values["LastLoginDate"] = times[i].Add(48 * time.Hour)
		}
		stamp(r, times[i], i)
		users.records = append(users.records, r)
	}
	owner := func(i int) string { return sfID("005", 1+(i*7)%max(s.opts.Users, 1)) }
	acc := s.objects["Account"]
	times = spread(s.opts.Accounts, 4)
	for i := 0; i < s.opts.Accounts; i++ {
		name, domain := company(i + 5)
		r := &sfRecord{id: sfID("001", i+1), values: map[string]any{"Name": name, "Website": "https://www." + domain + "/", "Industry": pick(industries, i),
			"NumberOfEmployees": 5 + (i*53)%5000, "AnnualRevenue": float64(100000 + (i*7919)%9000000), "Phone": fmt.Sprintf("(415) 555-%04d", i),
			"Type": pick([]string{"Customer - Direct", "Prospect", "Partner", "Customer - Channel"}, i), "BillingCity": pick(cities, i),
			"BillingState": nil, "BillingCountry": pick(countries, i), "OwnerId": owner(i), "ParentId": nil, "Description": nil, "IsDeleted": i%37 == 36}}
		if i%9 == 4 {
			r.values["Website"] = domain // no scheme, as users type it
		}
		if i%19 == 7 {
			r.values["Website"], r.values["NumberOfEmployees"], r.values["AnnualRevenue"] = nil, nil, nil
		}
		if i > 10 && i%15 == 0 {
			r.values["ParentId"] = sfID("001", 1+i%10)
		}
		stamp(r, times[i], i)
		acc.records = append(acc.records, r)
	}
	con := s.objects["Contact"]
	times = spread(s.opts.Contacts, 8)
	for i := 0; i < s.opts.Contacts; i++ {
		first, last := person(i)
		a := i % s.opts.Accounts
		_, domain := company(a + 5)
		r := &sfRecord{id: sfID("003", i+1), values: map[string]any{"FirstName": first, "LastName": last, "Name": first + " " + last,
			"Email": email(first, last, domain, i), "Title": optional(pick(titles, i+1)), "Phone": fmt.Sprintf("(415) 555-%04d", 2000+i), "MobilePhone": nil,
			"AccountId": sfID("001", a+1), "MailingCity": pick(cities, i), "MailingCountry": pick(countries, i), "HasOptedOutOfEmail": i%8 == 1,
			"LeadSource": optional(pick([]string{"Web", "Partner Referral", nil_, "Trade Show"}, i)), "OwnerId": owner(i), "IsDeleted": i%41 == 40}}
		if i%13 == 2 {
			r.values["FirstName"] = nil
			r.values["Name"] = last
			r.values["Email"] = nil
		}
		if i%31 == 6 {
			r.values["AccountId"] = nil // a private contact
		}
		stamp(r, times[i], i)
		con.records = append(con.records, r)
	}
	opp := s.objects["Opportunity"]
	times = spread(s.opts.Opportunities, 12)
	stages := []struct {
		name        string
		prob        float64
		closed, won bool
		forecast    string
	}{{"Prospecting", 10, false, false, "Pipeline"}, {"Qualification", 20, false, false, "Pipeline"}, {"Proposal/Price Quote", 75, false, false, "Best Case"},
		{"Negotiation/Review", 90, false, false, "Commit"}, {"Closed Won", 100, true, true, "Closed"}, {"Closed Lost", 0, true, false, "Omitted"}}
	for i := 0; i < s.opts.Opportunities; i++ {
		name, _ := company(i%s.opts.Accounts + 5)
		st := stages[i%len(stages)]
		r := &sfRecord{id: sfID("006", i+1), values: map[string]any{"Name": name + " - " + pick([]string{"New Business", "Renewal", "Add-on"}, i),
			"Amount": float64(5000+(i*1237)%200000) + 0.5*float64(i%2), "StageName": st.name, "Probability": st.prob,
			"CloseDate": sfDate(times[i].Add(60 * 24 * time.Hour).Format("2006-01-02")), "IsClosed": st.closed, "IsWon": st.won,
			"Type": optional(pick([]string{"New Customer", "Existing Customer - Upgrade", nil_}, i)), "LeadSource": optional(pick([]string{"Web", nil_, "Partner Referral"}, i)),
			"AccountId": sfID("001", i%s.opts.Accounts+1), "ForecastCategoryName": st.forecast, "OwnerId": owner(i), "IsDeleted": i%43 == 42}}
		if i%17 == 9 {
			r.values["Amount"] = nil
		}
		stamp(r, times[i], i)
		opp.records = append(opp.records, r)
	}
	task := s.objects["Task"]
	times = spread(s.opts.Tasks, 15)
	for i := 0; i < s.opts.Tasks; i++ {
		closed := i%3 == 0
		r := &sfRecord{id: sfID("00T", i+1), values: map[string]any{"Subject": pick([]string{"Call", "Send quote", "Follow up", "Email", "Demo"}, i) + " " + fmt.Sprint(i),
			"Description": nil, "Status": map[bool]string{true: "Completed", false: "Not Started"}[closed], "Priority": pick([]string{"Normal", "High", "Low"}, i),
			"ActivityDate": sfDate(times[i].Add(7 * 24 * time.Hour).Format("2006-01-02")), "IsClosed": closed,
			"WhoId": sfID("003", 1+i%s.opts.Contacts), "WhatId": sfID("006", 1+i%s.opts.Opportunities), "AccountId": sfID("001", 1+i%s.opts.Accounts),
			"TaskSubtype": pick([]string{"Call", "Task", "Email"}, i), "CompletedDateTime": nil, "OwnerId": owner(i), "IsDeleted": i%47 == 46, "IsArchived": false}}
		if closed {
			r.values["CompletedDateTime"] = times[i].Add(-time.Hour)
		}
		if i%7 == 5 {
			r.values["WhatId"] = nil
			r.values["ActivityDate"] = nil
		}
		stamp(r, times[i], i)
		task.records = append(task.records, r)
	}
	for _, o := range s.objects {
		sortByStamp(o.records)
	}
}

// Provider implements Mock.
func (s *Salesforce) Provider() string { return "salesforce" }

// Hosts implements Mock: the instance, and the login host with the token endpoint.
func (s *Salesforce) Hosts() []string { return []string{"api", "login"} }

// Values implements Mock. The batch size is the smallest Salesforce allows, so that a
// few hundred records span several pages.
func (s *Salesforce) Values() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return map[string]any{"login_url": s.url("login"), "client_id": s.opts.ClientID, "client_secret": s.opts.ClientSecret,
		"refresh_token": s.opts.RefreshToken, "batch_size": 200}
}

// sfTypes maps the connector's interaction types to objects; all but users read
// queryAll, which includes deleted rows.
var sfTypes = map[string]string{"accounts": "Account", "contacts": "Contact", "opportunities": "Opportunity", "tasks": "Task", "users": "User"}

// Counts implements Mock.
func (s *Salesforce) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for typ, obj := range sfTypes {
		out[typ] = len(s.objects[obj].records)
	}
	return out
}

// Change implements Mock: per object n records are edited and one is created; for
// every object but User (users are deactivated, never deleted) the first edit is a
// deletion, which queryAll shows with IsDeleted true and a new SystemModstamp.
func (s *Salesforce) Change(n int) map[string]Delta {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UTC().Truncate(time.Second)
	out := map[string]Delta{}
	for typ, obj := range sfTypes {
		o := s.objects[obj]
		d := Delta{}
		for k := 0; k < n && k < len(o.records); k++ {
			r := o.records[(k*len(o.records)/max(n, 1)+5)%len(o.records)]
			if k == 0 && obj != "User" && r.values["IsDeleted"] != true {
				r.values["IsDeleted"] = true
				d.Deleted++
			}
			switch obj {
			case "Account":
				r.values["Industry"] = "Biotechnology"
			case "Contact":
				r.values["Title"] = "Director " + r.id
			case "Opportunity":
				r.values["StageName"], r.values["IsClosed"], r.values["IsWon"], r.values["Probability"] = "Closed Won", true, true, 100.0
			case "Task":
				r.values["Status"], r.values["IsClosed"] = "Completed", true
			case "User":
				r.values["IsActive"] = false
			}
			r.values["LastModifiedDate"], r.values["SystemModstamp"] = now, now
			d.Updated++
		}
		s.seq++
		r := &sfRecord{id: sfID(o.prefix, 9000000+s.seq), values: map[string]any{"CreatedDate": now, "LastModifiedDate": now, "SystemModstamp": now}}
		for f, t := range o.fields {
			if _, ok := r.values[f]; !ok {
				r.values[f] = map[string]any{"bool": false}[t]
			}
		}
		r.values["Name"] = "Created " + r.id
		if obj == "User" {
			r.values["Email"], r.values["IsActive"] = "new.user"+fmt.Sprint(s.seq)+"@customer.example", true
		}
		if obj == "Task" {
			r.values["Subject"], r.values["Status"] = "New task", "Not Started"
			delete(r.values, "Name")
		}
		o.records = append(o.records, r)
		d.Created++
		sortByStamp(o.records)
		out[typ] = d
	}
	return out
}

// Handler implements Mock.
func (s *Salesforce) Handler(host string) http.Handler {
	mux := http.NewServeMux()
	if host == "login" {
		mux.HandleFunc("POST /services/oauth2/token", s.serveToken)
		return mux
	}
	mux.HandleFunc("GET /services/data/{$}", s.serveVersions)
	mux.HandleFunc("GET /services/data/{version}/query", func(w http.ResponseWriter, r *http.Request) { s.serveQuery(w, r, false) })
	mux.HandleFunc("GET /services/data/{version}/queryAll", func(w http.ResponseWriter, r *http.Request) { s.serveQuery(w, r, true) })
	mux.HandleFunc("GET /services/data/{version}/query/{locator}", s.serveMore)
	mux.HandleFunc("GET /services/data/{version}/queryAll/{locator}", s.serveMore)
	mux.HandleFunc("GET /services/data/{version}/limits", s.serveLimits)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.stats.Requests++
		s.reply(w, http.StatusNotFound, sfErr("NOT_FOUND", "The requested resource does not exist"))
	})
	return mux
}

func sfErr(code, msg string) []map[string]any {
	return []map[string]any{{"message": msg, "errorCode": code}}
}

func (s *Salesforce) serveToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.TokenRequests++
	if err := r.ParseForm(); err != nil {
		s.reply(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": "bad request"})
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, secret = u, p
	}
	switch {
	case r.PostForm.Get("grant_type") != "refresh_token":
		s.reply(w, http.StatusBadRequest, map[string]any{"error": "unsupported_grant_type", "error_description": "grant type not supported"})
		return
	case id != s.opts.ClientID:
		s.reply(w, http.StatusBadRequest, map[string]any{"error": "invalid_client_id", "error_description": "client identifier invalid"})
		return
	case subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) != 1:
		s.reply(w, http.StatusBadRequest, map[string]any{"error": "invalid_client", "error_description": "invalid client credentials"})
		return
	case r.PostForm.Get("refresh_token") != s.opts.RefreshToken:
		s.reply(w, http.StatusBadRequest, map[string]any{"error": "invalid_grant", "error_description": "expired access/refresh token"})
		return
	}
	s.seq++
	tok := fmt.Sprintf("00Dxx0000001gPL!AR8AQ.mock%04d", s.seq)
	now := s.now()
	s.tokens[tok] = &sfToken{issued: now}
	// No expires_in, and no new refresh_token: the old one stays valid.
	s.reply(w, http.StatusOK, map[string]any{
		"access_token": tok, "signature": "HfBA4xxxxSOUcg8ndBMnw4GuvDY1M+oWUQ8PU1l0HWbc=", "scope": "refresh_token api id",
		"instance_url": s.url("api"), "id": "https://login.salesforce.com/id/00Dxx0000001gPLEAY/005xx000001Sv6AAAS",
		"token_type": "Bearer", "issued_at": strconv.FormatInt(now.UnixMilli(), 10),
	})
}

// gate authenticates an API call and counts it against the daily limit; it answers
// and returns false when the call is refused. The caller holds mu.
func (s *Salesforce) gate(w http.ResponseWriter, r *http.Request) bool {
	s.stats.Requests++
	w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/%d", s.used, s.opts.DailyLimit))
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	t := s.tokens[tok]
	if ok && t != nil && s.now().Sub(t.issued) >= s.opts.SessionTimeout {
		delete(s.tokens, tok)
		t = nil
	}
	if !ok || t == nil {
		s.reply(w, http.StatusUnauthorized, sfErr("INVALID_SESSION_ID", "Session expired or invalid"))
		return false
	}
	t.uses++
	if s.opts.TokenUses > 0 && t.uses > s.opts.TokenUses {
		delete(s.tokens, tok)
		s.reply(w, http.StatusUnauthorized, sfErr("INVALID_SESSION_ID", "Session expired or invalid"))
		return false
	}
	if s.used >= s.opts.DailyLimit {
		s.stats.RateLimited++
		s.reply(w, http.StatusForbidden, sfErr("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."))
		return false
	}
	if ok, _ := s.admit(); !ok {
		// The limit on concurrent long-running requests answers the same way.
		s.reply(w, http.StatusForbidden, sfErr("REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded."))
		return false
	}
	s.used++
	w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/%d", s.used, s.opts.DailyLimit))
	version := strings.TrimPrefix(r.PathValue("version"), "v")
	for _, v := range s.opts.APIVersions {
		if v == version {
			return true
		}
	}
	s.reply(w, http.StatusNotFound, sfErr("NOT_FOUND", "The requested resource does not exist"))
	return false
}

func (s *Salesforce) serveVersions(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Requests++ // not counted against limits
	var out []map[string]any
	for _, v := range s.opts.APIVersions {
		out = append(out, map[string]any{"label": "Mock " + v, "url": "/services/data/v" + v, "version": v})
	}
	s.reply(w, http.StatusOK, out)
}

func (s *Salesforce) serveLimits(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.gate(w, r) {
		return
	}
	s.reply(w, http.StatusOK, map[string]any{"DailyApiRequests": map[string]any{"Max": s.opts.DailyLimit, "Remaining": s.opts.DailyLimit - s.used}})
}

var (
	soqlRe = regexp.MustCompile(`(?is)^\s*SELECT\s+(.+?)\s+FROM\s+([A-Za-z_]+)(?:\s+WHERE\s+(.+?))?(?:\s+ORDER\s+BY\s+(.+?))?(?:\s+LIMIT\s+([0-9]+))?\s*$`)
	condRe = regexp.MustCompile(`^\s*([A-Za-z_.]+)\s*(<=|>=|!=|=|<|>)\s*(\S+)\s*$`)
	// SOQL datetime literals: unquoted, with Z or a ±hh:mm offset.
	sfDateTimeRe = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})$`)
	andRe        = regexp.MustCompile(`(?i)\s+AND\s+`)
)

type sfCond struct {
	field, op string
	value     any
}

type sfOrder struct {
	field string
	desc  bool
}

// parseSOQL reads the SOQL subset the mock understands: SELECT fields FROM object
// [WHERE cond [AND cond]...] [ORDER BY field [ASC|DESC], ...] [LIMIT n].
func (s *Salesforce) parseSOQL(q string) (obj *sfObject, fields []string, conds []sfCond, order []sfOrder, limit int, code, msg string) {
	m := soqlRe.FindStringSubmatch(q)
	if m == nil {
		return nil, nil, nil, nil, 0, "MALFORMED_QUERY", "unexpected token: " + strconv.Quote(truncateText(q, 40))
	}
	obj = s.objects[m[2]]
	if obj == nil {
		return nil, nil, nil, nil, 0, "INVALID_TYPE", fmt.Sprintf("sObject type '%s' is not supported.", m[2])
	}
	for _, f := range strings.Split(m[1], ",") {
		f = strings.TrimSpace(f)
		if !s.validField(obj, f) {
			return nil, nil, nil, nil, 0, "INVALID_FIELD", fmt.Sprintf("No such column '%s' on entity '%s'.", f, obj.name)
		}
		fields = append(fields, f)
	}
	if m[3] != "" {
		for _, c := range andRe.Split(m[3], -1) {
			cm := condRe.FindStringSubmatch(c)
			if cm == nil {
				return nil, nil, nil, nil, 0, "MALFORMED_QUERY", "unexpected token: " + strconv.Quote(strings.TrimSpace(c))
			}
			typ, ok := obj.fields[cm[1]]
			if !ok {
				return nil, nil, nil, nil, 0, "INVALID_FIELD", fmt.Sprintf("No such column '%s' on entity '%s'.", cm[1], obj.name)
			}
			v, ok := sfLiteral(typ, cm[3])
			if !ok {
				return nil, nil, nil, nil, 0, "INVALID_FIELD", fmt.Sprintf("value of filter criterion for field '%s' must be of type %s and should not be enclosed in quotes", cm[1], typ)
			}
			conds = append(conds, sfCond{field: cm[1], op: cm[2], value: v})
		}
	}
	if m[4] != "" {
		for _, o := range strings.Split(m[4], ",") {
			parts := strings.Fields(o)
			if len(parts) == 0 || len(parts) > 2 || obj.fields[parts[0]] == "" {
				return nil, nil, nil, nil, 0, "MALFORMED_QUERY", "unexpected token in ORDER BY: " + strconv.Quote(strings.TrimSpace(o))
			}
			desc := len(parts) == 2 && strings.EqualFold(parts[1], "DESC")
			if len(parts) == 2 && !desc && !strings.EqualFold(parts[1], "ASC") {
				return nil, nil, nil, nil, 0, "MALFORMED_QUERY", "unexpected token: " + strconv.Quote(parts[1])
			}
			order = append(order, sfOrder{field: parts[0], desc: desc})
		}
	}
	if m[5] != "" {
		limit, _ = strconv.Atoi(m[5])
	}
	return obj, fields, conds, order, limit, "", ""
}

func (s *Salesforce) validField(obj *sfObject, f string) bool {
	if rel, field, ok := strings.Cut(f, "."); ok {
		target, ok := obj.rels[rel]
		return ok && s.objects[target[0]].fields[field] != ""
	}
	return obj.fields[f] != ""
}

func sfLiteral(typ, lit string) (any, bool) {
	switch typ {
	case "datetime":
		if !sfDateTimeRe.MatchString(lit) {
			return nil, false
		}
		t, err := time.Parse(time.RFC3339, lit)
		return t, err == nil
	case "date":
		t, err := time.Parse("2006-01-02", lit)
		return sfDate(t.Format("2006-01-02")), err == nil
	case "bool":
		switch strings.ToLower(lit) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
		return nil, false
	case "int", "double":
		f, err := strconv.ParseFloat(lit, 64)
		return f, err == nil
	default:
		if strings.EqualFold(lit, "null") {
			return nil, true
		}
		if len(lit) >= 2 && lit[0] == '\'' && lit[len(lit)-1] == '\'' {
			return lit[1 : len(lit)-1], true
		}
		return nil, false
	}
}

func sfCompare(a, b any) int {
	switch x := a.(type) {
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y)
		}
	case sfDate:
		if y, ok := b.(sfDate); ok {
			return strings.Compare(string(x), string(y))
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y)
		}
	case bool:
		if y, ok := b.(bool); ok && x == y {
			return 0
		}
		return 1
	case int:
		if y, ok := b.(float64); ok {
			return sfCompare(float64(x), y)
		}
	case float64:
		if y, ok := b.(float64); ok {
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		}
	case nil:
		if b == nil {
			return 0
		}
		return -1
	}
	if b == nil {
		return 1
	}
	return 0
}

func (c sfCond) match(r *sfRecord) bool {
	v := r.values[c.field]
	if c.value == nil || v == nil {
		eq := (c.value == nil) == (v == nil)
		return (c.op == "=" && eq) || (c.op == "!=" && !eq)
	}
	cmp := sfCompare(v, c.value)
	switch c.op {
	case "=":
		return cmp == 0
	case "!=":
		return cmp != 0
	case "<":
		return cmp < 0
	case "<=":
		return cmp <= 0
	case ">":
		return cmp > 0
	}
	return cmp >= 0
}

func (s *Salesforce) batchSize(r *http.Request) int {
	n := 2000
	for _, opt := range strings.Split(r.Header.Get("Sforce-Query-Options"), ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(opt), "batchSize="); ok {
			if b, err := strconv.Atoi(v); err == nil {
				n = min(max(b, 200), 2000)
			}
		}
	}
	return n
}

func (s *Salesforce) serveQuery(w http.ResponseWriter, r *http.Request, all bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.gate(w, r) {
		return
	}
	q := r.URL.Query().Get("q")
	if q == "" {
		s.reply(w, http.StatusBadRequest, sfErr("MALFORMED_QUERY", "A query string has to be specified"))
		return
	}
	obj, fields, conds, order, limit, code, msg := s.parseSOQL(q)
	if code != "" {
		s.reply(w, http.StatusBadRequest, sfErr(code, msg))
		return
	}
	var rows []*sfRecord
	for _, rec := range obj.records {
		if !all && rec.values["IsDeleted"] == true {
			continue
		}
		keep := true
		for _, c := range conds {
			keep = keep && c.match(rec)
		}
		if keep {
			rows = append(rows, rec)
		}
	}
	if len(order) == 0 {
		order = []sfOrder{{field: "Id"}}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		for _, o := range order {
			a, b := rows[i].values[o.field], rows[j].values[o.field]
			if o.field == "Id" {
				a, b = rows[i].id, rows[j].id
			}
			if c := sfCompare(a, b); c != 0 {
				return (c < 0) != o.desc
			}
		}
		return false
	})
	if limit > 0 && len(rows) > limit {
		rows = rows[:limit]
	}
	s.seq++
	id := fmt.Sprintf("01gD0000002HU%05dAW", s.seq)
	loc := &sfLocator{object: obj.name, fields: fields, rows: rows, used: s.now()}
	s.locators[id] = loc
	s.order = append(s.order, id)
	if len(s.order) > salesforceMaxCursors {
		delete(s.locators, s.order[0]) // an 11th open cursor drops the oldest
		s.order = s.order[1:]
	}
	s.page(w, r, id, loc)
}

func (s *Salesforce) serveMore(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.gate(w, r) {
		return
	}
	id, off, _ := strings.Cut(r.PathValue("locator"), "-")
	loc := s.locators[id]
	n, err := strconv.Atoi(off)
	if loc != nil && s.now().Sub(loc.used) > s.opts.LocatorTTL {
		delete(s.locators, id)
		loc = nil
	}
	if loc == nil || err != nil || n != loc.offset {
		s.reply(w, http.StatusBadRequest, sfErr("INVALID_QUERY_LOCATOR", "invalid query locator"))
		return
	}
	loc.used = s.now()
	s.page(w, r, id, loc)
}

// page answers the locator's next page. Every third page is shorter than the batch
// size, as Salesforce's may be.
func (s *Salesforce) page(w http.ResponseWriter, r *http.Request, id string, loc *sfLocator) {
	size := s.batchSize(r)
	loc.pages++
	if loc.pages%3 == 2 {
		size -= size / 7
	}
	end := min(loc.offset+size, len(loc.rows))
	recs := make([]map[string]any, 0, end-loc.offset)
	for _, rec := range loc.rows[loc.offset:end] {
		recs = append(recs, s.render(s.objects[loc.object], rec, loc.fields))
	}
	loc.offset = end
	body := map[string]any{"totalSize": len(loc.rows), "done": end == len(loc.rows), "records": recs}
	if end < len(loc.rows) {
		body["nextRecordsUrl"] = fmt.Sprintf("/services/data/%s/query/%s-%d", r.PathValue("version"), id, end)
	} else {
		delete(s.locators, id)
	}
	s.stats.Records += len(recs)
	s.reply(w, http.StatusOK, body)
}

func (s *Salesforce) render(obj *sfObject, rec *sfRecord, fields []string) map[string]any {
	out := map[string]any{"attributes": map[string]any{"type": obj.name, "url": "/services/data/v60.0/sobjects/" + obj.name + "/" + rec.id}}
	for _, f := range fields {
		if rel, field, ok := strings.Cut(f, "."); ok {
			target := obj.rels[rel]
			ref, _ := rec.values[target[1]].(string)
			to := s.find(target[0], ref)
			if to == nil {
				out[rel] = nil
				continue
			}
			m, _ := out[rel].(map[string]any)
			if m == nil {
				m = map[string]any{"attributes": map[string]any{"type": target[0], "url": "/services/data/v60.0/sobjects/" + target[0] + "/" + to.id}}
				out[rel] = m
			}
			m[field] = sfValue(to, field)
			continue
		}
		out[f] = sfValue(rec, f)
	}
	return out
}

func sfValue(rec *sfRecord, f string) any {
	if f == "Id" {
		return rec.id
	}
	switch v := rec.values[f].(type) {
	case time.Time:
		return v.UTC().Format("2006-01-02T15:04:05.000-0700")
	case sfDate:
		return string(v)
	default:
		return v
	}
}

func (s *Salesforce) find(object, id string) *sfRecord {
	if id == "" {
		return nil
	}
	for _, r := range s.objects[object].records {
		if r.id == id {
			return r
		}
	}
	return nil
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
