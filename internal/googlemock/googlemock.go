// Package googlemock is an in-process mock of the two Google APIs a BigQuery connector
// talks to, for tests that must not reach the internet:
//
//	POST /token                               OAuth 2.0 token endpoint, JWT bearer grant
//	                                          (RFC 7523) as service accounts use it
//	POST /bigquery/v2/projects/P/queries      BigQuery jobs.query
//
// The token endpoint checks the assertion as Google does: RS256 signature by the
// service account's key, iss = its client_email, aud = the token endpoint, a scope,
// and exp at most an hour after iat. Refusals are RFC 6749 error bodies.
//
// jobs.query checks the bearer token, the request shape (standard SQL, named
// parameters) and answers in BigQuery's format: schema.fields, rows of {f: [{v}]} with
// every value a string (TIMESTAMP as microseconds with formatOptions.useInt64Timestamp),
// jobReference, totalRows, jobComplete. It does not run SQL: it reads the table named
// in the query's FROM `dataset.table` and evaluates the keyset condition of the
// documented recipe (docs/warehouses.md) from its parameters @after_ts (microseconds)
// and @after_id: rows with (updated_at, id) > (@after_ts, @after_id), in that order, at
// most maxResults (and the query's LIMIT).
package googlemock

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Scope is the scope jobs.query accepts.
const Scope = "https://www.googleapis.com/auth/bigquery.readonly"

// Row is one table row: id, the updated_at timestamp, and other columns (strings).
type Row struct {
	ID        int64
	UpdatedAt time.Time
	Cols      map[string]string
}

// Server is the mock.
type Server struct {
	*httptest.Server
	// ClientEmail and Key are the service account's.
	ClientEmail string
	KeyID       string
	Key         *rsa.PrivateKey

	mu      sync.Mutex
	tables  map[string][]Row // "dataset.table"
	columns map[string][]string
	tokens  map[string]bool
	issued  int
	queries []map[string]any // request bodies of jobs.query
	pending int              // answer jobComplete false this many times
}

// New starts a mock with a fresh 2048-bit service account key.
func New() *Server {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	s := &Server{ClientEmail: "intake-reader@example-project.iam.gserviceaccount.com", KeyID: "k-1f2e3d", Key: key,
		tables: map[string][]Row{}, columns: map[string][]string{}, tokens: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("POST /bigquery/v2/projects/{project}/queries", s.query)
	s.Server = httptest.NewServer(mux)
	return s
}

// PrivateKeyPEM is the key as a service account JSON file holds it (PKCS#8 PEM).
func (s *Server) PrivateKeyPEM() string {
	der, err := x509.MarshalPKCS8PrivateKey(s.Key)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// SetTable replaces a table's rows; columns are the extra columns, in order.
func (s *Server) SetTable(name string, columns []string, rows []Row) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tables[name], s.columns[name] = rows, columns
}

// IncompleteNext makes the next n queries answer jobComplete: false, as a query that
// outlives timeoutMs does.
func (s *Server) IncompleteNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = n
}

// Queries returns the request bodies jobs.query received.
func (s *Server) Queries() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.queries...)
}

// TokensIssued counts successful token grants.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body is not a form")
		return
	}
	if g := r.PostForm.Get("grant_type"); g != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+g)
		return
	}
	parts := strings.Split(r.PostForm.Get("assertion"), ".")
	if len(parts) != 3 {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe")
		return
	}
	var header struct{ Alg, Typ, Kid string }
	var claims struct {
		Iss, Scope, Aud, Sub string
		Iat, Exp             int64
	}
	if decodeSegment(parts[0], &header) != nil || decodeSegment(parts[1], &claims) != nil {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: cannot decode")
		return
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err != nil || header.Alg != "RS256" || rsa.VerifyPKCS1v15(&s.Key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	now := time.Now().Unix()
	switch {
	case claims.Iss != s.ClientEmail:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid email or User ID")
	case claims.Aud != s.URL+"/token":
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: audience")
	case claims.Scope == "":
		oauthError(w, http.StatusBadRequest, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
	case claims.Exp < now || claims.Iat > now+60 || claims.Exp-claims.Iat > 3600:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
	case header.Kid != "" && header.Kid != s.KeyID:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT Signature.")
	default:
		s.mu.Lock()
		s.issued++
		tok := fmt.Sprintf("ya29.mock-%d", s.issued)
		s.tokens[tok+"|"+claims.Scope] = true
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})
	}
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func googleError(w http.ResponseWriter, status int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": status, "message": msg, "status": reason,
		"errors": []map[string]string{{"message": msg, "domain": "global", "reason": strings.ToLower(reason)}}}})
}

var (
	fromRe  = regexp.MustCompile("FROM `([^`]+)`")
	limitRe = regexp.MustCompile(`LIMIT (\d+)`)
)

func (s *Server) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.tokens {
		if t, scope, _ := strings.Cut(k, "|"); t == tok && strings.Contains(" "+scope+" ", " "+Scope+" ") {
			return true
		}
	}
	return false
}

func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		googleError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return
	}
	var body map[string]any
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error())
		return
	}
	s.mu.Lock()
	s.queries = append(s.queries, body)
	incomplete := s.pending > 0
	if incomplete {
		s.pending--
	}
	s.mu.Unlock()
	project := r.PathValue("project")
	jobRef := map[string]any{"projectId": project, "jobId": fmt.Sprintf("job_%d", time.Now().UnixNano()), "location": "US"}
	if incomplete {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"kind": "bigquery#queryResponse", "jobReference": jobRef, "jobComplete": false})
		return
	}
	q, _ := body["query"].(string)
	if body["useLegacySql"] != false {
		googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "the recipe uses standard SQL: set useLegacySql: false")
		return
	}
	if body["parameterMode"] != "NAMED" {
		googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Query parameters are named (@name): set parameterMode: NAMED")
		return
	}
	m := fromRe.FindStringSubmatch(q)
	if m == nil {
		googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Syntax error: expected FROM `dataset.table`")
		return
	}
	s.mu.Lock()
	rows, ok := s.tables[m[1]]
	cols := s.columns[m[1]]
	s.mu.Unlock()
	if !ok {
		googleError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("Not found: Table %s:%s was not found in location US", project, m[1]))
		return
	}
	params := map[string]string{}
	list, _ := body["queryParameters"].([]any)
	for _, p := range list {
		pm, _ := p.(map[string]any)
		name, _ := pm["name"].(string)
		pv, _ := pm["parameterValue"].(map[string]any)
		params[name] = fmt.Sprint(pv["value"])
	}
	afterTS, err1 := strconv.ParseInt(params["after_ts"], 10, 64)
	afterID, err2 := strconv.ParseInt(params["after_id"], 10, 64)
	if err1 != nil || err2 != nil {
		googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Query parameter 'after_ts' or 'after_id' not found or not an INT64")
		return
	}
	sorted := append([]Row(nil), rows...)
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sorted[i].UpdatedAt.UnixMicro(), sorted[j].UpdatedAt.UnixMicro()
		return a < b || a == b && sorted[i].ID < sorted[j].ID
	})
	limit := len(sorted)
	if lm := limitRe.FindStringSubmatch(q); lm != nil {
		limit, _ = strconv.Atoi(lm[1])
	}
	if n, err := strconv.Atoi(fmt.Sprint(body["maxResults"])); err == nil && n < limit {
		limit = n
	}
	micros := false
	if fo, ok := body["formatOptions"].(map[string]any); ok && fo["useInt64Timestamp"] == true {
		micros = true
	}
	fields := []map[string]any{{"name": "id", "type": "INTEGER", "mode": "NULLABLE"}}
	for _, c := range cols {
		fields = append(fields, map[string]any{"name": c, "type": "STRING", "mode": "NULLABLE"})
	}
	fields = append(fields, map[string]any{"name": "updated_at", "type": "TIMESTAMP", "mode": "NULLABLE"})
	var out []map[string]any
	for _, row := range sorted {
		ts := row.UpdatedAt.UnixMicro()
		if ts < afterTS || ts == afterTS && row.ID <= afterID {
			continue
		}
		if len(out) == limit {
			break
		}
		f := []map[string]any{{"v": strconv.FormatInt(row.ID, 10)}}
		for _, c := range cols {
			var v any
			if x, ok := row.Cols[c]; ok {
				v = x
			}
			f = append(f, map[string]any{"v": v})
		}
		tv := strconv.FormatFloat(float64(ts)/1e6, 'E', -1, 64)
		if micros {
			tv = strconv.FormatInt(ts, 10)
		}
		out = append(out, map[string]any{"f": append(f, map[string]any{"v": tv})})
	}
	resp := map[string]any{"kind": "bigquery#queryResponse", "schema": map[string]any{"fields": fields}, "jobReference": jobRef,
		"totalRows": strconv.Itoa(len(out)), "jobComplete": true, "totalBytesProcessed": "0", "cacheHit": false}
	if len(out) > 0 {
		resp["rows"] = out // BigQuery leaves rows out of an empty result
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}
