package bench

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// APIKey is the key the mock provider accepts (X-API-Key).
const APIKey = "bench-key"

// baseTime is the updated_at of the first record; each next record is a few seconds
// later, so the feed sorts by (updated_at, id) with few ties.
var baseTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

// Mock is a CRM-like API serving N contacts of about 1 KB each: API-key auth, keyset
// cursor pagination ordered by (updated_at, id), an inclusive updated_since filter and a
// limit of up to 1,000 records a page. Records are rendered from their index with no
// encoding/json, so the mock costs little CPU next to the client it serves. It is
// safe for concurrent use.
type Mock struct {
	mu      sync.RWMutex
	n       int
	updated []int64 // unix seconds, by record index
	version []int32 // how many times Mutate (or Delete) changed each record
	deleted []bool  // records Delete marked deleted (served with "deleted":true); nil until then
	order   []int32 // record indexes sorted by (updated, index)
	gen     int     // Mutate calls so far

	requests atomic.Int64
}

// NewMock returns a mock provider holding n records.
func NewMock(n int) *Mock {
	m := &Mock{n: n, updated: make([]int64, n), version: make([]int32, n), order: make([]int32, n)}
	for i := range n {
		m.updated[i] = baseTime + int64(i)*7 - int64(i%3) // a few ties out of order, as real feeds have
		m.order[i] = int32(i)
	}
	m.sortOrder()
	return m
}

func (m *Mock) sortOrder() {
	sort.Slice(m.order, func(a, b int) bool {
		ia, ib := m.order[a], m.order[b]
		if m.updated[ia] != m.updated[ib] {
			return m.updated[ia] < m.updated[ib]
		}
		return ia < ib
	})
}

// Records is how many records the mock serves.
func (m *Mock) Records() int { return m.n }

// Requests is how many requests the mock has answered since the last ResetRequests.
func (m *Mock) Requests() int64 { return m.requests.Load() }

// ResetRequests sets the request count to zero.
func (m *Mock) ResetRequests() { m.requests.Store(0) }

// Mutate changes percent% of the records (every (100/percent)th one, starting at a
// different offset each call): a new title and score, updated_at after every record so
// far. It returns how many records changed.
func (m *Mock) Mutate(percent float64) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if percent <= 0 || m.n == 0 {
		return 0
	}
	step := max(1, int(100/percent+0.5))
	latest := m.updated[m.order[m.n-1]]
	m.gen++
	changed := 0
	for i := m.gen % step; i < m.n; i += step {
		m.version[i]++
		m.updated[i] = latest + 60 + int64(changed)
		changed++
	}
	m.sortOrder()
	return changed
}

// page is one response's slice of the sorted records.
func (m *Mock) page(since int64, after *keyset, limit int) (idx []int32, next *keyset) {
	// The filter and the cursor both select a suffix of the sorted records.
	start := sort.Search(m.n, func(p int) bool { return m.updated[m.order[p]] >= since })
	if after != nil {
		s := sort.Search(m.n, func(p int) bool {
			i := m.order[p]
			u := m.updated[i]
			return u > after.updated || (u == after.updated && i > after.index)
		})
		start = max(start, s)
	}
	end := min(m.n, start+limit)
	idx = m.order[start:end]
	if end < m.n {
		last := m.order[end-1]
		next = &keyset{updated: m.updated[last], index: last}
	}
	return idx, next
}

// keyset is a page token: the (updated_at, index) of the last record handed out.
type keyset struct {
	updated int64
	index   int32
}

func (k keyset) String() string {
	return "k" + strconv.FormatInt(k.updated, 36) + "." + strconv.FormatInt(int64(k.index), 36)
}

func parseKeyset(s string) (*keyset, error) {
	a, b, ok := strings.Cut(strings.TrimPrefix(s, "k"), ".")
	if !ok || !strings.HasPrefix(s, "k") {
		return nil, fmt.Errorf("invalid cursor %q", s)
	}
	u, err1 := strconv.ParseInt(a, 36, 64)
	i, err2 := strconv.ParseInt(b, 36, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("invalid cursor %q", s)
	}
	return &keyset{updated: u, index: int32(i)}, nil
}

// ServeHTTP answers GET /v1/contacts?limit=&updated_since=&cursor=.
func (m *Mock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.requests.Add(1)
	if r.Header.Get("X-API-Key") != APIKey {
		http.Error(w, `{"error":"invalid API key"}`, http.StatusUnauthorized)
		return
	}
	if r.URL.Path != "/v1/contacts" || r.Method != http.MethodGet {
		http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			http.Error(w, `{"error":"limit must be 1..1000"}`, http.StatusBadRequest)
			return
		}
		limit = n
	}
	since := int64(0)
	if v := q.Get("updated_since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			http.Error(w, `{"error":"updated_since must be RFC 3339"}`, http.StatusBadRequest)
			return
		}
		since = t.Unix()
	}
	var after *keyset
	if v := q.Get("cursor"); v != "" {
		k, err := parseKeyset(v)
		if err != nil {
			http.Error(w, `{"error":"invalid cursor"}`, http.StatusBadRequest)
			return
		}
		after = k
	}
	m.mu.RLock()
	idx, next := m.page(since, after, limit)
	buf := make([]byte, 0, len(idx)*1100+64)
	buf = append(buf, `{"object":"list","data":[`...)
	for j, i := range idx {
		if j > 0 {
			buf = append(buf, ',')
		}
		buf = m.appendRecord(buf, int(i))
	}
	m.mu.RUnlock()
	buf = append(buf, `],"has_more":`...)
	buf = strconv.AppendBool(buf, next != nil)
	buf = append(buf, `,"next_cursor":`...)
	if next != nil {
		buf = strconv.AppendQuote(buf, next.String())
	} else {
		buf = append(buf, "null"...)
	}
	buf = append(buf, '}')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(buf)))
	w.Write(buf)
}

var (
	firstNames = []string{"Ana", "Ben", "Chloé", "Dmitri", "Emma", "Farid", "Grace", "Hiro", "Inès", "Jonas", "Kofi", "Lena", "Mateo", "Nora", "Omar", "Priya"}
	lastNames  = []string{"López", "Becker", "Dubois", "Ivanov", "Schmidt", "Haddad", "Okafor", "Tanaka", "Moreau", "Novak", "Mensah", "Larsen", "García", "Khan", "Rossi", "Sato"}
	titles     = []string{"VP Sales", "Head of Support", "CTO", "Office Manager", "Account Executive", "Data Engineer", "Procurement Lead", "COO"}
	stages     = []string{"subscriber", "lead", "marketing_qualified", "sales_qualified", "opportunity", "customer", "evangelist"}
	sources    = []string{"web_form", "import", "referral", "event", "outbound", "partner"}
	industries = []string{"software", "retail", "logistics", "healthcare", "finance", "manufacturing", "education"}
	cities     = []struct{ city, region, country string }{{"Berlin", "BE", "DE"}, {"Lyon", "ARA", "FR"}, {"Austin", "TX", "US"}, {"Osaka", "27", "JP"}, {"Leeds", "ENG", "GB"}, {"Porto", "13", "PT"}, {"Accra", "AA", "GH"}}
	freemails  = []string{"gmail.com", "outlook.com", "yahoo.com"}
	tags       = []string{"vip", "newsletter", "beta", "churn-risk", "partner", "trial", "webinar"}
)

// companies is how many companies the contacts work for.
const companies = 5000

func appendTime(b []byte, unix int64) []byte {
	return time.Unix(unix, 0).UTC().AppendFormat(b, time.RFC3339)
}

// appendEmail writes record i's address: mostly at its company, one in ten at a
// mailbox provider, the domain in mixed case as people type it.
func appendEmail(b []byte, i int) []byte {
	first := firstNames[i%len(firstNames)]
	b = append(b, strings.ToLower(first[:1])...)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, '@')
	if i%10 == 9 {
		return append(b, freemails[i%len(freemails)]...)
	}
	b = append(b, "Company"...)
	b = strconv.AppendInt(b, int64(i%companies), 10)
	return append(b, ".com"...)
}

// appendRecord renders record i as JSON (about 1 KB, 25 top-level fields, nested
// objects and a list).
func (m *Mock) appendRecord(b []byte, i int) []byte {
	v := int(m.version[i])
	first, last := firstNames[i%len(firstNames)], lastNames[(i/len(firstNames))%len(lastNames)]
	co := i % companies
	place := cities[co%len(cities)]
	num := strconv.Itoa(i)
	coNum := strconv.Itoa(co)
	b = append(b, `{"id":"c_`...)
	b = append(b, num...)
	b = append(b, `","object":"contact","email":"`...)
	if i%100 == 50 {
		// One in a hundred people has two records: the second matches the first by e-mail.
		b = appendEmail(b, i-1)
	} else {
		b = appendEmail(b, i)
	}
	b = append(b, `","first_name":`...)
	b = strconv.AppendQuote(b, first)
	b = append(b, `,"last_name":`...)
	b = strconv.AppendQuote(b, last)
	b = append(b, `,"title":`...)
	b = strconv.AppendQuote(b, titles[(i+v)%len(titles)])
	b = append(b, `,"phone":"+49 30 `...)
	b = strconv.AppendInt(b, int64(1000000+i%8999999), 10)
	b = append(b, `","mobile_phone":null,"company":{"id":"co_`...)
	b = append(b, coNum...)
	b = append(b, `","name":"Company `...)
	b = append(b, coNum...)
	b = append(b, ` GmbH","domain":"company`...)
	b = append(b, coNum...)
	b = append(b, `.com","industry":"`...)
	b = append(b, industries[co%len(industries)]...)
	b = append(b, `","employees":`...)
	b = strconv.AppendInt(b, int64(10+co*7%4990), 10)
	b = append(b, `},"address":{"street":"`...)
	b = strconv.AppendInt(b, int64(1+i%200), 10)
	b = append(b, ` Market Street","city":"`...)
	b = append(b, place.city...)
	b = append(b, `","region":"`...)
	b = append(b, place.region...)
	b = append(b, `","postal_code":"`...)
	b = strconv.AppendInt(b, int64(10000+i%89999), 10)
	b = append(b, `","country":"`...)
	b = append(b, place.country...)
	b = append(b, `"},"owner":{"id":"u_`...)
	b = strconv.AppendInt(b, int64(i%40), 10)
	b = append(b, `","name":"Owner `...)
	b = strconv.AppendInt(b, int64(i%40), 10)
	b = append(b, `","email":"owner`...)
	b = strconv.AppendInt(b, int64(i%40), 10)
	b = append(b, `@vendor.example"},"lifecycle_stage":"`...)
	b = append(b, stages[(i+v)%len(stages)]...)
	b = append(b, `","lead_status":"open","source":"`...)
	b = append(b, sources[i%len(sources)]...)
	b = append(b, `","tags":["`...)
	b = append(b, tags[i%len(tags)]...)
	b = append(b, `","`...)
	b = append(b, tags[(i/7+1)%len(tags)]...)
	b = append(b, `"],"score":`...)
	b = strconv.AppendInt(b, int64((i*31+v*7)%100), 10)
	b = append(b, `,"email_opt_out":`...)
	b = strconv.AppendBool(b, i%17 == 0)
	b = append(b, `,"timezone":"Europe/Berlin","language":"en","linkedin_url":"https://www.linkedin.com/in/`...)
	b = append(b, strings.ToLower(first[:1])...)
	b = append(b, num...)
	b = append(b, `","notes":"Met at the spring conference; interested in the enterprise plan and asked for a follow-up call next quarter.","custom_fields":{"segment":"`...)
	b = append(b, [...]string{"smb", "mid_market", "enterprise"}[co%3]...)
	b = append(b, `","nps":`...)
	b = strconv.AppendInt(b, int64(i%11), 10)
	b = append(b, `,"renewal_month":`...)
	b = strconv.AppendInt(b, int64(1+i%12), 10)
	b = append(b, `,"referral_code":"R`...)
	b = strconv.AppendInt(b, int64(i*7919%1000003), 36)
	b = append(b, `"},"deleted":`...)
	b = strconv.AppendBool(b, m.deleted != nil && m.deleted[i])
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(v), 10)
	b = append(b, `,"created_at":"`...)
	b = appendTime(b, baseTime-86400+int64(i))
	b = append(b, `","updated_at":"`...)
	b = appendTime(b, m.updated[i])
	b = append(b, `"}`...)
	return b
}

// Admin serves the bench driver's controls next to the API: POST /_bench/mutate?percent=
// (answers {"changed": n}), GET /_bench/requests, POST /_bench/reset. They are not
// counted as requests.
func (m *Mock) Admin() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /_bench/mutate", func(w http.ResponseWriter, r *http.Request) {
		p, err := strconv.ParseFloat(r.URL.Query().Get("percent"), 64)
		if err != nil || p <= 0 || p > 100 {
			http.Error(w, "percent must be in (0, 100]", http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(map[string]int{"changed": m.Mutate(p)})
	})
	mux.HandleFunc("GET /_bench/requests", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]int64{"requests": m.Requests()})
	})
	mux.HandleFunc("POST /_bench/reset", func(w http.ResponseWriter, r *http.Request) {
		m.ResetRequests()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.Handle("/", m)
	return mux
}
