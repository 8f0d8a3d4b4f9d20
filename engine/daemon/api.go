package daemon

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/intakehq/intake/engine/jsonx"
	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/store"
)

// The admin HTTP API (docs/operations.md#admin-api). Every endpoint answers JSON, errors
// included ({"error": "..."}), and requires "Authorization: Bearer TOKEN" except
// /healthz (for liveness probes) and the OAuth pages under /oauth/ (customers'
// browsers open them; they are protected by their single-use state and PKCE).

const maxBody = 1 << 20

// idRe is what integration and customer ids created through the API may look like
// (as in OAuth connection links).
var idRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$`)

// Handler is the admin API, as the daemon serves it on admin.listen (to mount it
// elsewhere, or to test it with httptest).
func (d *Daemon) Handler() http.Handler { return d.handler() }

func (d *Daemon) handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, methods map[string]http.HandlerFunc) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			h, ok := methods[r.Method]
			if !ok && r.Method == http.MethodHead {
				h, ok = methods[http.MethodGet]
			}
			if !ok {
				allow := make([]string, 0, len(methods))
				for m := range methods {
					allow = append(allow, m)
				}
				slices.Sort(allow)
				w.Header().Set("Allow", strings.Join(allow, ", "))
				writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed here; use %s", r.Method, strings.Join(allow, " or ")))
				return
			}
			h(w, r)
		})
	}
	route("/healthz", map[string]http.HandlerFunc{"GET": d.healthz})
	route("/readyz", map[string]http.HandlerFunc{"GET": d.readyz})
	metricsHandler := promhttp.HandlerFor(d.metrics.reg, promhttp.HandlerOpts{})
	route("/metrics", map[string]http.HandlerFunc{"GET": metricsHandler.ServeHTTP})
	route("/v1/integrations", map[string]http.HandlerFunc{"GET": d.listIntegrations, "POST": d.createIntegration})
	route("/v1/integrations/{id}", map[string]http.HandlerFunc{"GET": d.getIntegration, "DELETE": d.deleteIntegration})
	route("/v1/integrations/{id}/enable", map[string]http.HandlerFunc{"POST": d.enableIntegration})
	route("/v1/integrations/{id}/disable", map[string]http.HandlerFunc{"POST": d.disableIntegration})
	route("/v1/integrations/{id}/sync", map[string]http.HandlerFunc{"POST": d.syncIntegration})
	route("/v1/runs", map[string]http.HandlerFunc{"GET": d.listRuns})
	route("/v1/changes", map[string]http.HandlerFunc{"GET": d.listChanges})
	route("/v1/accounts", map[string]http.HandlerFunc{"GET": d.listAccounts})
	route("/v1/accounts/{id}", map[string]http.HandlerFunc{"GET": d.getAccount})
	route("/v1/contacts", map[string]http.HandlerFunc{"GET": d.listContacts})
	route("/v1/contacts/{id}", map[string]http.HandlerFunc{"GET": d.getContact})
	route("/v1/links/unresolved", map[string]http.HandlerFunc{"GET": d.listUnresolved})
	route("/v1/reload", map[string]http.HandlerFunc{"POST": d.reload})
	mux.HandleFunc("/oauth/", func(w http.ResponseWriter, r *http.Request) {
		d.runtime().oauth.ServeHTTP(w, r)
		if r.URL.Path == "/oauth/callback" {
			d.loop.Wake() // a new or reconnected integration is due at once
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
	})
	return d.authenticate(mux)
}

// authenticate requires the bearer token, in constant time, except where noted.
func (d *Daemon) authenticate(next http.Handler) http.Handler {
	want := []byte("Bearer " + d.token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || strings.HasPrefix(r.URL.Path, "/oauth/") {
			next.ServeHTTP(w, r)
			return
		}
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="intake"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token: send Authorization: Bearer TOKEN (admin.token)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	var body []byte
	if err := enc.Encode(v); err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error": "encoding the answer failed"}`+"\n")
	} else {
		body = b.Bytes()
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// fail answers an error from the store or the engine with its status.
func (d *Daemon) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, store.ErrExists):
		writeError(w, http.StatusConflict, err.Error())
	default:
		d.log.Error("admin API", "method", r.Method, "path", r.URL.Path, "error", err)
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

func (d *Daemon) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is ready while the daemon schedules work and its database answers.
func (d *Daemon) readyz(w http.ResponseWriter, r *http.Request) {
	switch {
	case d.draining.Load():
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "stopping"})
		return
	case !d.ready.Load():
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
		return
	}
	if err := d.db.DB().PingContext(r.Context()); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable", "error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "daemon": d.owner, "running": d.loop.Running()})
}

// integrationJSON is an integration as the API shows it (never its credentials).
type integrationJSON struct {
	ID             string         `json:"id"`
	Customer       string         `json:"customer"`
	Provider       string         `json:"provider"`
	Status         string         `json:"status"`
	Config         map[string]any `json:"config"`
	HasCredentials bool           `json:"has_credentials"`
	DisabledAt     *time.Time     `json:"disabled_at,omitempty"`
	DisabledReason string         `json:"disabled_reason,omitempty"`
	CreatedAt      time.Time      `json:"created_at"`
	UpdatedAt      time.Time      `json:"updated_at"`
	Lease          *leaseJSON     `json:"lease,omitempty"`
	Objects        []objectJSON   `json:"objects,omitempty"`
}

type leaseJSON struct {
	Owner     string    `json:"owner"`
	ExpiresAt time.Time `json:"expires_at"`
}

type objectJSON struct {
	Type                string     `json:"type"`
	Cursor              string     `json:"cursor,omitempty"`
	LastSyncedAt        *time.Time `json:"last_synced_at"`
	LastAttemptAt       *time.Time `json:"last_attempt_at"`
	NextDueAt           *time.Time `json:"next_due_at"` // null: not scheduled (its type left the spec, or the integration is disabled)
	ConsecutiveFailures int        `json:"consecutive_failures"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (d *Daemon) integrationJSON(r *http.Request, in *store.Integration, withObjects bool) (integrationJSON, error) {
	out := integrationJSON{ID: in.ID, Customer: in.CustomerID, Provider: in.Provider, Status: in.Status, Config: in.Config,
		HasCredentials: in.HasSecrets, CreatedAt: in.CreatedAt, UpdatedAt: in.UpdatedAt}
	if in.LeaseOwner != "" && in.LeaseExpiresAt.After(d.clock.Now()) {
		out.Lease = &leaseJSON{Owner: in.LeaseOwner, ExpiresAt: in.LeaseExpiresAt}
	}
	if in.Status == store.StatusDisabled || !withObjects {
		if st, err := d.db.IntegrationState(r.Context(), in.ID); err == nil {
			out.DisabledAt, out.DisabledReason = timePtr(st.DisabledAt), st.DisabledReason
		}
	}
	if !withObjects {
		return out, nil
	}
	objs, err := d.db.Objects(r.Context(), in.ID)
	if err != nil {
		return out, err
	}
	out.Objects = []objectJSON{}
	for _, o := range objs {
		oj := objectJSON{Type: o.Type, Cursor: o.Cursor, LastSyncedAt: timePtr(o.LastSyncedAt), LastAttemptAt: timePtr(o.LastAttemptAt),
			ConsecutiveFailures: o.ConsecutiveFailures}
		if !o.NextDueAt.Equal(store.Never) {
			due := o.NextDueAt
			if due.IsZero() {
				due = d.clock.Now() // not scheduled yet: due at once
			}
			oj.NextDueAt = &due
		}
		out.Objects = append(out.Objects, oj)
	}
	return out, nil
}

func (d *Daemon) listIntegrations(w http.ResponseWriter, r *http.Request) {
	ins, err := d.db.Integrations(r.Context())
	if err != nil {
		d.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	out := []integrationJSON{}
	for _, in := range ins {
		if c := q.Get("customer"); c != "" && in.CustomerID != c {
			continue
		}
		if p := q.Get("provider"); p != "" && in.Provider != p {
			continue
		}
		if s := q.Get("status"); s != "" && in.Status != s {
			continue
		}
		j, err := d.integrationJSON(r, in, false)
		if err != nil {
			d.fail(w, r, err)
			return
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, map[string]any{"integrations": out})
}

func (d *Daemon) getIntegration(w http.ResponseWriter, r *http.Request) {
	in, err := d.db.Integration(r.Context(), r.PathValue("id"))
	if err != nil {
		d.fail(w, r, err)
		return
	}
	j, err := d.integrationJSON(r, in, true)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, j)
}

// createRequest is the body of POST /v1/integrations.
type createRequest struct {
	ID          string         `json:"id"`
	Customer    string         `json:"customer"`
	Provider    string         `json:"provider"`
	Config      map[string]any `json:"config"`
	Credentials map[string]any `json:"credentials"`
	Status      string         `json:"status"`
}

func decodeBody(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("read the body: %v", err)
	}
	if len(body) > maxBody {
		return fmt.Errorf("the body is larger than %d KiB", maxBody>>10)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("the body is empty: send a JSON object")
		}
		return fmt.Errorf("the body is not the JSON expected: %v", err)
	}
	if !jsonx.AtEnd(dec) {
		return errors.New("the body is not the JSON expected: something follows the object")
	}
	return nil
}

func (d *Daemon) createIntegration(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	switch {
	case req.Customer == "" || req.Provider == "":
		writeError(w, http.StatusBadRequest, "customer and provider are required")
		return
	case req.Status != "" && req.Status != store.StatusEnabled && req.Status != store.StatusDisabled:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("status %q: use enabled or disabled", req.Status))
		return
	}
	if req.ID == "" {
		req.ID = req.Customer + "-" + req.Provider
	}
	for _, f := range []struct{ what, id string }{{"customer", req.Customer}, {"id", req.ID}} {
		if !idRe.MatchString(f.id) {
			writeError(w, http.StatusBadRequest, f.what+" must be 1 to 128 letters, digits, '.', '_', '@', ':' or '-', starting with a letter or digit")
			return
		}
	}
	conn, err := d.runtime().catalog.Get(req.Provider)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	vals := map[string]any{}
	for k, v := range req.Config {
		vals[k] = v
	}
	for k, v := range req.Credentials {
		if _, dup := vals[k]; dup {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("%q is given in both config and credentials", k))
			return
		}
		vals[k] = v
	}
	s, err := conn.ResolveSettings(vals)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(s.Credentials) > 0 && d.box == nil {
		writeError(w, http.StatusServiceUnavailable, secret.ErrNoKey.Error())
		return
	}
	in := store.Integration{ID: req.ID, CustomerID: req.Customer, Provider: req.Provider, Config: s.Config, Status: req.Status}
	if err := d.db.CreateIntegration(r.Context(), in, s.Credentials, d.box); err != nil {
		d.fail(w, r, err)
		return
	}
	d.log.Info("integration created", "integration", req.ID, "customer", req.Customer, "provider", req.Provider)
	d.loop.Wake()
	created, err := d.db.Integration(r.Context(), req.ID)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	j, err := d.integrationJSON(r, created, true)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/integrations/"+req.ID)
	writeJSON(w, http.StatusCreated, j)
}

func (d *Daemon) enableIntegration(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := d.db.SetIntegrationStatus(r.Context(), id, store.StatusEnabled, ""); err != nil {
		d.fail(w, r, err)
		return
	}
	// Whatever it was waiting for (a backoff, a hold), it is tried now.
	d.releaseHolds(r.Context(), id)
	if _, err := d.db.RequestSync(r.Context(), id, nil); err != nil {
		d.fail(w, r, err)
		return
	}
	d.log.Info("integration enabled", "integration", id)
	d.loop.Wake()
	d.getIntegration(w, r)
}

func (d *Daemon) disableIntegration(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Reason string `json:"reason"`
	}
	if r.ContentLength != 0 {
		if err := decodeBody(r, &req); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	id := r.PathValue("id")
	if req.Reason == "" {
		req.Reason = "disabled through the admin API"
	}
	if err := d.db.SetIntegrationStatus(r.Context(), id, store.StatusDisabled, req.Reason); err != nil {
		d.fail(w, r, err)
		return
	}
	d.log.Info("integration disabled", "integration", id, "reason", req.Reason)
	d.getIntegration(w, r)
}

func (d *Daemon) deleteIntegration(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := d.db.DeleteIntegration(r.Context(), id); err != nil {
		d.fail(w, r, err)
		return
	}
	d.log.Info("integration deleted", "integration", id)
	w.WriteHeader(http.StatusNoContent)
}

// syncIntegration asks for a sync now, of every type or of ?type=T (repeatable).
func (d *Daemon) syncIntegration(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	in, err := d.db.Integration(r.Context(), id)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	if in.Status != store.StatusEnabled {
		writeError(w, http.StatusConflict, fmt.Sprintf("integration %s is %s: enable it first (POST /v1/integrations/%s/enable)", id, in.Status, id))
		return
	}
	types := r.URL.Query()["type"]
	if len(types) > 0 {
		attached, _ := d.db.IntegrationOverride(r.Context(), id)
		if eff, _, err := d.runtime().catalog.Effective(in.CustomerID, in.Provider, attached, "integration "+id+" override"); err == nil {
			for _, t := range types {
				if _, ok := eff.InteractionTypes.Get(t); !ok {
					writeError(w, http.StatusBadRequest, fmt.Sprintf("integration %s has no interaction type %q (it has: %s)", id, t, strings.Join(eff.InteractionTypes.Keys, ", ")))
					return
				}
			}
		}
	}
	d.releaseHolds(r.Context(), id)
	requested, err := d.db.RequestSync(r.Context(), id, types)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	d.loop.Wake()
	writeJSON(w, http.StatusAccepted, map[string]any{"integration": id, "types": requested})
}

// runJSON is a sync run as the API shows it.
type runJSON struct {
	ID          int64      `json:"id"`
	Integration string     `json:"integration"`
	Customer    string     `json:"customer"`
	Type        string     `json:"type"`
	Status      string     `json:"status"`
	StartedAt   time.Time  `json:"started_at"`
	FinishedAt  *time.Time `json:"finished_at"`
	DurationMS  int64      `json:"duration_ms"`
	Pages       int        `json:"pages"`
	New         int        `json:"records_new"`
	Updated     int        `json:"records_updated"`
	Unchanged   int        `json:"records_unchanged"`
	Quarantined int        `json:"records_quarantined"`
	Filtered    int        `json:"records_filtered"`
	CursorAfter string     `json:"cursor_after,omitempty"`
	Error       string     `json:"error,omitempty"`
	ErrorClass  string     `json:"error_class,omitempty"`
	Owner       string     `json:"daemon,omitempty"`
}

func queryInt(r *http.Request, name string, def, lo, hi int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s=%q: want a whole number from %d to %d", name, v, lo, hi)
	}
	return n, nil
}

func (d *Daemon) listRuns(w http.ResponseWriter, r *http.Request) {
	limit, err := queryInt(r, "limit", 50, 1, 1000)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q := r.URL.Query()
	runs, err := d.db.ListRuns(r.Context(), store.RunFilter{IntegrationID: q.Get("integration"), Status: q.Get("status"), Limit: int(limit)})
	if err != nil {
		d.fail(w, r, err)
		return
	}
	now := d.clock.Now()
	out := make([]runJSON, 0, len(runs))
	for _, run := range runs {
		out = append(out, runJSON{ID: run.ID, Integration: run.IntegrationID, Customer: run.CustomerID, Type: run.Type, Status: run.Status,
			StartedAt: run.StartedAt, FinishedAt: timePtr(run.FinishedAt), DurationMS: run.Duration(now).Milliseconds(), Pages: run.Pages,
			New: run.RecordsNew, Updated: run.RecordsUpdated, Unchanged: run.RecordsUnchanged, Quarantined: run.RecordsQuarantined,
			Filtered: run.RecordsFiltered, CursorAfter: run.CursorAfter, Error: run.Error, ErrorClass: run.ErrorClass, Owner: run.Owner})
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": out})
}

// changeJSON is a change-feed entry as the API shows it.
type changeJSON struct {
	Seq         int64     `json:"seq"`
	At          time.Time `json:"at"`
	Entity      string    `json:"entity"`
	Op          string    `json:"op"`
	EntityID    int64     `json:"entity_id"`
	Customer    string    `json:"customer,omitempty"`
	Integration string    `json:"integration,omitempty"`
	Type        string    `json:"interaction_type,omitempty"`
	ExternalID  string    `json:"external_id,omitempty"`
}

// listChanges pages through the change feed: ?since=SEQ (exclusive; 0 from the
// start), ?limit, ?customer, ?entity. "next" is the since of the following page.
func (d *Daemon) listChanges(w http.ResponseWriter, r *http.Request) {
	since, err := queryInt(r, "since", 0, 0, 1<<62)
	if err == nil && r.URL.Query().Get("since") == "" {
		err = errors.New("since is required: the seq of the last change you processed, 0 to start from the beginning")
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	limit, err := queryInt(r, "limit", store.DefaultChangeLimit, 1, store.MaxChangeLimit)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q := r.URL.Query()
	switch e := q.Get("entity"); e {
	case "", store.EntityInteraction, store.EntityAccount, store.EntityContact:
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("entity=%q: use %s, %s or %s", e, store.EntityInteraction, store.EntityAccount, store.EntityContact))
		return
	}
	changes, err := d.db.Changes(r.Context(), store.ChangeFilter{Since: since, Limit: int(limit), CustomerID: q.Get("customer"), Entity: q.Get("entity")})
	if err != nil {
		d.fail(w, r, err)
		return
	}
	next := since
	out := make([]changeJSON, 0, len(changes))
	for _, c := range changes {
		out = append(out, changeJSON{Seq: c.Seq, At: c.At, Entity: c.Entity, Op: c.Op, EntityID: c.EntityID, Customer: c.CustomerID,
			Integration: c.IntegrationID, Type: c.Type, ExternalID: c.ExternalID})
		next = c.Seq
	}
	writeJSON(w, http.StatusOK, map[string]any{"changes": out, "next": next})
}

func (d *Daemon) reload(w http.ResponseWriter, r *http.Request) {
	res, err := d.Reload(r.Context())
	var re *ReloadError
	switch {
	case errors.As(err, &re):
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": "reload refused; the running configuration is kept", "problems": re.Problems})
	case err != nil:
		d.fail(w, r, err)
	default:
		writeJSON(w, http.StatusOK, map[string]any{"status": "reloaded", "providers": res.Providers, "restart_needed": res.RestartNeeded})
	}
}
