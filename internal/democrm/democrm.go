// Package democrm is an in-process HTTP server shaped like a real CRM API.
//
// It serves three resources, accounts, contacts and support tickets (which refer to
// contacts and accounts), with API-key authentication, keyset (cursor) pagination ordered by (updated_at, id), an
// inclusive updated_since filter and rate-limit headers. Data is fake but
// realistic and fully deterministic for a given seed and clock. Mutate
// simulates the passage of time in a live CRM so that incremental syncs have
// something to pick up. It is used by `intake demo` and by tests.
package democrm

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/intakehq/intake/engine/jsonx"
)

const (
	defaultSeed     = 1
	defaultAPIKey   = "demo-key"
	defaultAccounts = 120
	defaultContacts = 360
	defaultTickets  = 240

	defaultLimit = 50
	maxLimit     = 200

	rateLimit = 600 // advertised requests per minute; never enforced

	resAccounts = "accounts"
	resContacts = "contacts"
	resTickets  = "tickets"
)

// Options configures a Server. The zero value is usable.
type Options struct {
	Seed     int64            // deterministic data; 0 means 1
	Now      func() time.Time // clock; nil means time.Now
	APIKey   string           // required X-API-Key header value; "" means "demo-key"
	Accounts int              // initial accounts; 0 means 120
	Contacts int              // initial contacts; 0 means 360
	Tickets  int              // tickets; 0 means 240, negative means none
}

// Changes reports what a call to Mutate did, keyed by resource name
// ("accounts" and "contacts"; both keys are always present), and how many tickets
// it opened.
type Changes struct {
	Updated, Created map[string]int
	Tickets          int
}

// Server is a fake CRM API. It is safe for concurrent use.
type Server struct {
	apiKey string
	now    func() time.Time

	mu       sync.Mutex
	rng      *rand.Rand
	trng     *rand.Rand // tickets' own randomness
	gen      *generator
	accounts []*account // creation order
	contacts []*contact // creation order
	tickets  []*ticket  // creation order
	sorted   map[string][]row
	requests int
	rlWindow int64 // unix minute of the current rate-limit window
	rlUsed   int   // requests answered in the current window
}

// New returns a Server populated with deterministic fake data.
func New(opts Options) *Server {
	if opts.Seed == 0 {
		opts.Seed = defaultSeed
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.APIKey == "" {
		opts.APIKey = defaultAPIKey
	}
	if opts.Accounts <= 0 {
		opts.Accounts = defaultAccounts
	}
	if opts.Contacts <= 0 {
		opts.Contacts = defaultContacts
	}
	seed := uint64(opts.Seed)
	s := &Server{
		apiKey: opts.APIKey,
		now:    opts.Now,
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		sorted: map[string][]row{},
	}
	s.gen = newGenerator(s.rng)
	s.accounts, s.contacts = s.gen.initial(s.nowUnix(), opts.Accounts, opts.Contacts)
	if opts.Tickets == 0 {
		opts.Tickets = defaultTickets
	}
	// Tickets draw from a generator of their own: the accounts and contacts, and what
	// Mutate does to them, are the same with or without tickets.
	s.trng = rand.New(rand.NewPCG(seed^0x7469636b657473, seed))
	s.tickets = newTickets(s.trng, s.nowUnix(), s.accounts, s.contacts, opts.Tickets)
	return s
}

// nowUnix is the clock truncated to whole seconds.
func (s *Server) nowUnix() int64 { return s.now().Unix() }

// Handler returns the HTTP handler serving the API.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Count returns the number of records of "accounts", "contacts" or "tickets"
// (0 for any other name).
func (s *Server) Count(resource string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch resource {
	case resAccounts:
		return len(s.accounts)
	case resContacts:
		return len(s.contacts)
	case resTickets:
		return len(s.tickets)
	}
	return 0
}

// Requests returns how many HTTP requests the server has answered (any status).
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Mutate simulates a round of activity, as time passes in a real CRM: it
// updates `updates` distinct existing records (random accounts and contacts:
// it changes a field such as plan/employees/title/phone and sets
// updated_at = Now()), and creates `creates` new records (roughly 1 account per
// 3 contacts; new contacts belong to existing accounts). If updates exceeds
// the number of existing records, every record is updated once. When the server
// has tickets, it also opens (creates+1)/2 new ones from random contacts, new ones
// included. Deterministic for the same seed, clock and call sequence.
func (s *Server) Mutate(updates, creates int) Changes {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowUnix()
	ch := Changes{
		Updated: map[string]int{resAccounts: 0, resContacts: 0},
		Created: map[string]int{resAccounts: 0, resContacts: 0},
	}

	total := len(s.accounts) + len(s.contacts)
	updates = min(max(updates, 0), total)
	if updates > 0 {
		// Partial Fisher-Yates: distinct records, deterministic.
		idx := make([]int, total)
		for i := range idx {
			idx[i] = i
		}
		for i := range updates {
			j := i + s.rng.IntN(total-i)
			idx[i], idx[j] = idx[j], idx[i]
			if k := idx[i]; k < len(s.accounts) {
				s.gen.touchAccount(s.accounts[k], now)
				ch.Updated[resAccounts]++
			} else {
				s.gen.touchContact(s.contacts[k-len(s.accounts)], now)
				ch.Updated[resContacts]++
			}
		}
	}

	for i := range max(creates, 0) {
		if i%4 == 3 {
			a := s.gen.newAccount(now, now)
			a.ID = fmt.Sprintf("acc_%04d", len(s.accounts)+1)
			s.accounts = append(s.accounts, a)
			ch.Created[resAccounts]++
		} else {
			acc := s.accounts[s.rng.IntN(len(s.accounts))]
			c := s.gen.newContact(acc, now, now)
			c.ID = fmt.Sprintf("con_%04d", len(s.contacts)+1)
			s.contacts = append(s.contacts, c)
			ch.Created[resContacts]++
		}
	}
	if len(s.tickets) > 0 {
		byID := accountsByID(s.accounts)
		for range (max(creates, 0) + 1) / 2 {
			c := s.contacts[s.trng.IntN(len(s.contacts))]
			t := newTicket(s.trng, c, byID[c.AccountID], now, now)
			t.ID = fmt.Sprintf("tkt_%04d", len(s.tickets)+1)
			s.tickets = append(s.tickets, t)
			ch.Tickets++
		}
	}
	clear(s.sorted)
	return ch
}

// ---- HTTP ----

type apiError struct {
	status int
	typ    string
	msg    string
}

func errInvalid(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "invalid_request", msg}
}

type errorBody struct {
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

type listBody struct {
	Data       []row   `json:"data"`
	HasMore    bool    `json:"has_more"`
	NextCursor *string `json:"next_cursor"`
}

// cursor is the decoded form of a page token.
type cursor struct {
	Resource     string `json:"r"`
	UpdatedAt    string `json:"u"`           // RFC 3339, last returned record
	ID           string `json:"i"`           // id of the last returned record
	UpdatedSince string `json:"s,omitempty"` // filter the cursor was issued for
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	now := s.now()
	if win := now.Unix() / 60; win != s.rlWindow {
		s.rlWindow, s.rlUsed = win, 0
	}
	s.rlUsed++
	remaining := max(rateLimit-s.rlUsed, 0)
	reset := (s.rlWindow + 1) * 60
	body, apiErr := s.route(r)
	s.mu.Unlock()

	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-RateLimit-Limit", strconv.Itoa(rateLimit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset, 10))
	if apiErr != nil {
		switch apiErr.status {
		case http.StatusUnauthorized:
			h.Set("WWW-Authenticate", "ApiKey")
		case http.StatusMethodNotAllowed:
			h.Set("Allow", http.MethodGet)
		}
		var eb errorBody
		eb.Error.Type, eb.Error.Message = apiErr.typ, apiErr.msg
		body = mustJSON(eb)
		w.WriteHeader(apiErr.status)
	}
	_, _ = w.Write(body)
}

// route handles one request; it must be called with s.mu held.
func (s *Server) route(r *http.Request) ([]byte, *apiError) {
	var resource string
	switch r.URL.Path {
	case "/v1/accounts":
		resource = resAccounts
	case "/v1/contacts":
		resource = resContacts
	case "/v1/tickets":
		resource = resTickets
	default:
		return nil, &apiError{http.StatusNotFound, "not_found",
			fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path)}
	}
	if r.Method != http.MethodGet {
		return nil, &apiError{http.StatusMethodNotAllowed, "method_not_allowed",
			fmt.Sprintf("method %s not allowed on %s; use GET", r.Method, r.URL.Path)}
	}
	if r.Header.Get("X-API-Key") != s.apiKey {
		return nil, &apiError{http.StatusUnauthorized, "unauthorized", "missing or invalid API key"}
	}

	q := r.URL.Query()
	limit := defaultLimit
	if q.Has("limit") {
		n, err := strconv.ParseInt(q.Get("limit"), 10, 64)
		switch {
		case err == nil && n >= 1:
			limit = int(min(n, maxLimit))
		case errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(q.Get("limit"), "-"):
			limit = maxLimit // a huge positive integer: clamp like any other >200
		default:
			return nil, errInvalid("limit must be an integer between 1 and 200")
		}
	}

	var (
		since      time.Time
		haveSince  bool
		after      *cursor
		afterStamp int64
	)
	if q.Has("cursor") {
		c, err := decodeCursor(q.Get("cursor"), resource)
		if err != nil {
			return nil, errInvalid("invalid cursor")
		}
		after = c
		t, _ := time.Parse(time.RFC3339, c.UpdatedAt) // validated by decodeCursor
		afterStamp = t.Unix()
		if c.UpdatedSince != "" {
			since, _ = time.Parse(time.RFC3339, c.UpdatedSince)
			haveSince = true
		}
	} else if q.Has("updated_since") {
		t, err := time.Parse(time.RFC3339, q.Get("updated_since"))
		if err != nil {
			return nil, errInvalid("updated_since must be an RFC 3339 timestamp, e.g. 2025-01-02T03:04:05Z")
		}
		since, haveSince = t, true
	}

	rows := s.sortedRows(resource)
	// Both the filter and the cursor select a suffix of the sorted rows.
	start := 0
	if haveSince {
		start = sort.Search(len(rows), func(i int) bool {
			u, _ := rows[i].key()
			return !time.Unix(u, 0).Before(since)
		})
	}
	if after != nil {
		k := sort.Search(len(rows), func(i int) bool {
			u, id := rows[i].key()
			return u > afterStamp || (u == afterStamp && id > after.ID)
		})
		start = max(start, k)
	}
	end := min(start+limit, len(rows))
	page := listBody{Data: slices.Clone(rows[start:end])}
	if page.Data == nil {
		page.Data = []row{}
	}
	if end < len(rows) {
		u, id := rows[end-1].key()
		c := cursor{Resource: resource, UpdatedAt: formatStamp(u), ID: id}
		if haveSince {
			c.UpdatedSince = since.UTC().Format(time.RFC3339Nano)
		}
		tok := encodeCursor(c)
		page.HasMore, page.NextCursor = true, &tok
	}
	return mustJSON(page), nil
}

// sortedRows returns the records of resource ordered by (updated_at, id).
// Must be called with s.mu held; the result is cached until the next Mutate.
func (s *Server) sortedRows(resource string) []row {
	if rows, ok := s.sorted[resource]; ok {
		return rows
	}
	var rows []row
	switch resource {
	case resAccounts:
		rows = make([]row, 0, len(s.accounts))
		for _, a := range s.accounts {
			rows = append(rows, a)
		}
	case resContacts:
		rows = make([]row, 0, len(s.contacts))
		for _, c := range s.contacts {
			rows = append(rows, c)
		}
	case resTickets:
		rows = make([]row, 0, len(s.tickets))
		for _, t := range s.tickets {
			rows = append(rows, t)
		}
	}
	slices.SortFunc(rows, func(a, b row) int {
		ua, ia := a.key()
		ub, ib := b.key()
		if ua != ub {
			if ua < ub {
				return -1
			}
			return 1
		}
		return strings.Compare(ia, ib)
	})
	s.sorted[resource] = rows
	return rows
}

func encodeCursor(c cursor) string {
	return base64.RawURLEncoding.EncodeToString(mustJSON(c))
}

func decodeCursor(tok, resource string) (*cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var c cursor
	if err := dec.Decode(&c); err != nil {
		return nil, err
	}
	if !jsonx.AtEnd(dec) {
		return nil, errors.New("trailing data")
	}
	if c.Resource != resource || c.ID == "" {
		return nil, errors.New("cursor for another resource")
	}
	if _, err := time.Parse(time.RFC3339, c.UpdatedAt); err != nil {
		return nil, err
	}
	if c.UpdatedSince != "" {
		if _, err := time.Parse(time.RFC3339, c.UpdatedSince); err != nil {
			return nil, err
		}
	}
	return &c, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("democrm: " + err.Error())
	}
	return b
}
