package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
	"github.com/intakehq/intake/internal/syncbuf"
)

// clock is a test clock shared by the policy, the store and the receivers.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// verify checks a webhook exactly as docs/operations.md tells receivers to.
func verify(secret []byte, r *http.Request, body []byte, now time.Time) error {
	ts := r.Header.Get("X-Intake-Timestamp")
	sig := r.Header.Get("X-Intake-Signature")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("bad timestamp")
	}
	if age := now.Sub(time.Unix(sec, 0)); age > 5*time.Minute || age < -5*time.Minute {
		return errors.New("timestamp too old or in the future")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return errors.New("bad signature")
	}
	return nil
}

type received struct {
	header http.Header
	body   []byte
	kind   string
	pl     map[string]any
}

// receiver is a webhook endpoint that verifies each request's signature.
type receiver struct {
	t      *testing.T
	secret []byte
	clock  *clock
	srv    *httptest.Server
	path   string

	mu     sync.Mutex
	status int // answer to give; 0 is 204
	got    []received
	calls  int
}

func newReceiver(t *testing.T, secret []byte, c *clock, path string) *receiver {
	r := &receiver{t: t, secret: secret, clock: c, path: path}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls++
		if r.status != 0 && r.status != http.StatusNoContent {
			w.WriteHeader(r.status)
			return
		}
		if req.Method != http.MethodPost || req.URL.Path != r.path {
			t.Errorf("webhook request %s %s, want POST %s", req.Method, req.URL.Path, r.path)
		}
		if err := verify(r.secret, req, body, r.clock.Now()); err != nil {
			t.Errorf("webhook signature: %v", err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var pl map[string]any
		if err := json.Unmarshal(body, &pl); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		r.got = append(r.got, received{header: req.Header.Clone(), body: body, kind: req.Header.Get("X-Intake-Event"), pl: pl})
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) URL() string { return r.srv.URL + r.path }

func (r *receiver) setStatus(s int) {
	r.mu.Lock()
	r.status = s
	r.mu.Unlock()
}

func (r *receiver) kinds() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []string{}
	for _, g := range r.got {
		out = append(out, g.kind)
	}
	return out
}

func (r *receiver) callCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

var (
	operatorSecret = []byte("op-signing-secret-0123456789abcdef")
	customerSecret = []byte("acme-signing-secret-fedcba9876543210")
)

type fixture struct {
	ctx      context.Context
	path     string
	db       *store.Store
	box      *secret.Box
	clock    *clock
	logs     *syncbuf.Buffer
	operator *receiver
	customer *receiver
	policy   *Policy
}

// setup opens a store with integration acme-crm of customer acme, an operator webhook
// and a customer webhook, and a policy that posts to both.
func setup(t *testing.T, disableAfter int) *fixture {
	t.Helper()
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	path := filepath.Join(t.TempDir(), "intake.db")
	db, err := store.Open(ctx, path, store.WithClock(c.Now))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	box, err := secret.NewBox(bytes.Repeat([]byte{9}, 32))
	require.NoError(t, err)
	require.NoError(t, db.CreateIntegration(ctx, store.Integration{ID: "acme-crm", CustomerID: "acme", Provider: "demo-crm"}, nil, nil))

	f := &fixture{ctx: ctx, path: path, db: db, box: box, clock: c, logs: &syncbuf.Buffer{}}
	f.operator = newReceiver(t, operatorSecret, c, "/ops/hooks/OPTOKEN123")
	f.customer = newReceiver(t, customerSecret, c, "/acme/hooks/CUSTTOKEN456")
	require.NoError(t, db.SetCustomerWebhook(ctx, "acme", f.customer.URL(), customerSecret, box))
	f.policy = &Policy{
		Store:        db,
		Box:          box,
		Operator:     &Webhook{URL: f.operator.URL(), Secret: operatorSecret},
		DisableAfter: disableAfter,
		Logger:       slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:          c.Now,
		backoff:      []time.Duration{time.Millisecond, time.Millisecond},
	}
	return f
}

// run records a run of acme-crm/typ that ends with status the way the pipeline does,
// then reports it to the policy.
func (f *fixture) run(t *testing.T, typ, status, class, msg string) Outcome {
	t.Helper()
	obj, err := f.db.EnsureObject(f.ctx, "acme-crm", typ)
	require.NoError(t, err)
	id, err := f.db.StartRun(f.ctx, obj)
	require.NoError(t, err)
	run, err := f.db.FinishRun(f.ctx, id, obj, status, class, msg)
	require.NoError(t, err)
	after, err := f.db.EnsureObject(f.ctx, "acme-crm", typ)
	require.NoError(t, err)
	o := Outcome{IntegrationID: "acme-crm", CustomerID: "acme", Provider: "demo-crm", Type: typ, Run: run,
		ConsecutiveFailures: after.ConsecutiveFailures, PreviousFailures: obj.ConsecutiveFailures}
	require.NoError(t, f.policy.RunFinished(f.ctx, o))
	return o
}

func (f *fixture) alertKinds(t *testing.T) []string {
	t.Helper()
	as, err := f.db.ListAlerts(f.ctx, store.AlertFilter{})
	require.NoError(t, err)
	out := []string{}
	for i := len(as) - 1; i >= 0; i-- {
		out = append(out, as[i].Kind)
	}
	return out
}

func (f *fixture) status(t *testing.T) *store.IntegrationState {
	t.Helper()
	st, err := f.db.IntegrationState(f.ctx, "acme-crm")
	require.NoError(t, err)
	return st
}

func TestWebhookIsSignedAsDocumented(t *testing.T) {
	f := setup(t, 0)
	o := f.run(t, "contacts", store.RunFailed, spec.ClassTransient, "GET /v1/contacts: HTTP 503 Service Unavailable")

	for _, r := range []*receiver{f.operator, f.customer} {
		require.Equal(t, []string{store.AlertSyncFailed}, r.kinds())
		g := r.got[0]
		assert.Equal(t, "application/json", g.header.Get("Content-Type"))
		assert.Equal(t, "sync_failed", g.header.Get("X-Intake-Event"))
		assert.Equal(t, strconv.FormatInt(f.clock.Now().Unix(), 10), g.header.Get("X-Intake-Timestamp"))
		assert.Regexp(t, `^sha256=[0-9a-f]{64}$`, g.header.Get("X-Intake-Signature"))

		keys := []string{}
		for k := range g.pl {
			keys = append(keys, k)
		}
		assert.ElementsMatch(t, []string{"id", "kind", "created_at", "customer", "integration", "provider", "interaction_type", "run_id", "class", "message"}, keys)
		assert.Equal(t, "sync_failed", g.pl["kind"])
		assert.Equal(t, "2026-03-01T10:00:00Z", g.pl["created_at"])
		assert.Equal(t, "acme", g.pl["customer"])
		assert.Equal(t, "acme-crm", g.pl["integration"])
		assert.Equal(t, "demo-crm", g.pl["provider"])
		assert.Equal(t, "contacts", g.pl["interaction_type"])
		assert.EqualValues(t, o.Run.ID, g.pl["run_id"])
		assert.Equal(t, "transient", g.pl["class"])
		assert.Equal(t, "GET /v1/contacts: HTTP 503 Service Unavailable", g.pl["message"])

		// The documented check refuses a tampered body, another secret and an old timestamp.
		req := &http.Request{Header: g.header}
		assert.NoError(t, verify(r.secret, req, g.body, f.clock.Now()))
		assert.Error(t, verify(r.secret, req, append(bytes.Clone(g.body), ' '), f.clock.Now()))
		assert.Error(t, verify([]byte("another-secret-0123456789"), req, g.body, f.clock.Now()))
		assert.Error(t, verify(r.secret, req, g.body, f.clock.Now().Add(6*time.Minute)))
	}
	// The operator and the customer each get their own signature.
	assert.NotEqual(t, f.operator.got[0].header.Get("X-Intake-Signature"), f.customer.got[0].header.Get("X-Intake-Signature"))
	assert.Equal(t, Sign(operatorSecret, f.clock.Now().Unix(), f.operator.got[0].body), f.operator.got[0].header.Get("X-Intake-Signature"))

	as, err := f.db.ListAlerts(f.ctx, store.AlertFilter{})
	require.NoError(t, err)
	require.Len(t, as, 1)
	require.Len(t, as[0].Deliveries, 2)
	for _, d := range as[0].Deliveries {
		assert.Equal(t, store.DeliveryDelivered, d.State(), d.Target)
		assert.Equal(t, 1, d.Attempts)
	}
	assert.Contains(t, f.logs.String(), `"msg":"sync run failed"`)
}

func TestAlertOncePerStreakAndDisableAfterThreshold(t *testing.T) {
	f := setup(t, 3)
	fail := func() Outcome {
		return f.run(t, "contacts", store.RunFailed, spec.ClassTransient, "GET /v1/contacts: connection refused")
	}

	o := fail()
	assert.Equal(t, 1, o.ConsecutiveFailures)
	assert.Equal(t, []string{"sync_failed"}, f.alertKinds(t))
	fail()
	assert.Equal(t, []string{"sync_failed"}, f.alertKinds(t), "no alert for the second failure of a streak")
	assert.Equal(t, store.StatusEnabled, f.status(t).Status)
	assert.Equal(t, 2, bytes.Count([]byte(f.logs.String()), []byte(`"msg":"sync run failed"`)), "every failure is logged")

	o = fail()
	assert.Equal(t, 3, o.ConsecutiveFailures)
	assert.Equal(t, []string{"sync_failed", "integration_disabled"}, f.alertKinds(t))
	st := f.status(t)
	assert.Equal(t, store.StatusDisabled, st.Status)
	assert.Equal(t, f.clock.Now(), st.DisabledAt)
	assert.Equal(t, "3 consecutive failed runs of contacts (transient); last: GET /v1/contacts: connection refused", st.DisabledReason)
	assert.Equal(t, []string{"sync_failed", "integration_disabled"}, f.operator.kinds())
	assert.Equal(t, []string{"sync_failed", "integration_disabled"}, f.customer.kinds())

	// Cancelled runs change nothing.
	f.run(t, "contacts", store.RunCancelled, "", "cancelled: interrupt")
	assert.Len(t, f.alertKinds(t), 2)

	// Re-enabled, it succeeds: recovered, and the next failure starts a new streak.
	require.NoError(t, f.db.SetIntegrationStatus(f.ctx, "acme-crm", store.StatusEnabled, ""))
	st = f.status(t)
	assert.Equal(t, store.StatusEnabled, st.Status)
	assert.True(t, st.DisabledAt.IsZero())
	assert.Empty(t, st.DisabledReason)
	o = f.run(t, "contacts", store.RunSucceeded, "", "")
	assert.Equal(t, 3, o.PreviousFailures)
	assert.Equal(t, []string{"sync_failed", "integration_disabled", "recovered"}, f.alertKinds(t))
	rec := f.operator.got[2].pl
	assert.Equal(t, "recovered", rec["kind"])
	assert.Equal(t, "", rec["class"])
	assert.Equal(t, "contacts of acme-crm syncs again, after 3 failed runs", rec["message"])

	f.run(t, "contacts", store.RunSucceeded, "", "")
	assert.Len(t, f.alertKinds(t), 3, "a success after a success is no news")
	fail()
	assert.Equal(t, []string{"sync_failed", "integration_disabled", "recovered", "sync_failed"}, f.alertKinds(t))
	assert.Equal(t, store.StatusEnabled, f.status(t).Status)

	// Filters.
	as, err := f.db.ListAlerts(f.ctx, store.AlertFilter{Kind: store.AlertSyncFailed, Limit: 1})
	require.NoError(t, err)
	require.Len(t, as, 1)
	assert.Equal(t, store.AlertSyncFailed, as[0].Kind)
	as, err = f.db.ListAlerts(f.ctx, store.AlertFilter{CustomerID: "globex"})
	require.NoError(t, err)
	assert.Empty(t, as)
}

func TestAuthFailureDisablesAtOnceAndOnlyOnce(t *testing.T) {
	f := setup(t, 0)
	f.run(t, "accounts", store.RunFailed, spec.ClassAuth, "GET /v1/accounts: HTTP 401 Unauthorized")
	assert.Equal(t, []string{"sync_failed", "integration_disabled"}, f.alertKinds(t))
	st := f.status(t)
	assert.Equal(t, store.StatusDisabled, st.Status)
	assert.Equal(t, "demo-crm refused the credentials (auth) while syncing accounts: GET /v1/accounts: HTTP 401 Unauthorized", st.DisabledReason)

	// Another object of the same integration fails the same way: its own streak starts,
	// but the integration is already disabled and is not announced again.
	f.run(t, "contacts", store.RunFailed, spec.ClassAuth, "GET /v1/contacts: HTTP 401 Unauthorized")
	assert.Equal(t, []string{"sync_failed", "integration_disabled", "sync_failed"}, f.alertKinds(t))
	assert.Equal(t, []string{"sync_failed", "integration_disabled", "sync_failed"}, f.operator.kinds())
	assert.Contains(t, f.logs.String(), `"msg":"integration disabled"`)
}

func TestConcurrentFailuresDisableOnce(t *testing.T) {
	f := setup(t, 0)
	f.policy.Operator = nil
	var runs []*store.Run
	for _, typ := range []string{"a", "b", "c", "d", "e", "f"} {
		obj, err := f.db.EnsureObject(f.ctx, "acme-crm", typ)
		require.NoError(t, err)
		id, err := f.db.StartRun(f.ctx, obj)
		require.NoError(t, err)
		run, err := f.db.FinishRun(f.ctx, id, obj, store.RunFailed, spec.ClassAuth, "HTTP 401")
		require.NoError(t, err)
		runs = append(runs, run)
	}
	var wg sync.WaitGroup
	for i, run := range runs {
		wg.Go(func() {
			assert.NoError(t, f.policy.RunFinished(f.ctx, Outcome{IntegrationID: "acme-crm", Type: string(rune('a' + i)), Run: run, ConsecutiveFailures: 1}))
		})
	}
	wg.Wait()
	as, err := f.db.ListAlerts(f.ctx, store.AlertFilter{Kind: store.AlertIntegrationDisabled})
	require.NoError(t, err)
	assert.Len(t, as, 1)
	// Customer and provider were filled in from the store.
	assert.Equal(t, "acme", as[0].CustomerID)
	assert.Equal(t, "demo-crm", as[0].Provider)
	assert.Len(t, f.customer.kinds(), 7)
}

func TestFlushRetriesAfterTheReceiverWasDown(t *testing.T) {
	f := setup(t, 0)
	f.operator.setStatus(http.StatusServiceUnavailable)
	f.run(t, "contacts", store.RunFailed, spec.ClassRateLimited, "HTTP 429 Too Many Requests")
	assert.Equal(t, 3, f.operator.callCount(), "three quick attempts")
	assert.Equal(t, []string{"sync_failed"}, f.customer.kinds(), "the customer's webhook is not held up")

	a := f.onlyAlert(t)
	d := delivery(t, a, store.TargetOperator)
	assert.Equal(t, store.DeliveryPending, d.State())
	assert.Equal(t, 3, d.Attempts)
	assert.Equal(t, f.clock.Now().Add(time.Minute), d.NextAttemptAt)
	assert.Contains(t, d.LastError, "HTTP 503 Service Unavailable")
	assert.NotContains(t, d.LastError, "OPTOKEN", "errors name the host, not the URL path")

	// Not due yet.
	require.NoError(t, f.policy.Flush(f.ctx))
	assert.Equal(t, 3, f.operator.callCount())

	f.operator.setStatus(0)
	f.clock.Advance(61 * time.Second)
	require.NoError(t, f.policy.Flush(f.ctx))
	assert.Equal(t, []string{"sync_failed"}, f.operator.kinds())
	d = delivery(t, f.onlyAlert(t), store.TargetOperator)
	assert.Equal(t, store.DeliveryDelivered, d.State())
	assert.Equal(t, 4, d.Attempts)
	assert.Equal(t, f.clock.Now(), d.DeliveredAt)
	// Signed with the time of the retry, not of the alert.
	assert.Equal(t, strconv.FormatInt(f.clock.Now().Unix(), 10), f.operator.got[0].header.Get("X-Intake-Timestamp"))

	f.clock.Advance(time.Hour)
	require.NoError(t, f.policy.Flush(f.ctx))
	assert.Equal(t, 4, f.operator.callCount(), "a delivered alert is not sent again")
}

func TestDeliveryIsGivenUpAfterMaxAttempts(t *testing.T) {
	f := setup(t, 0)
	f.policy.Operator.URL = f.operator.srv.URL + "/moved"
	f.operator.setStatus(http.StatusFound) // redirects are not followed: a failure
	f.run(t, "contacts", store.RunFailed, spec.ClassPermanent, "HTTP 404 Not Found")
	assert.Contains(t, delivery(t, f.onlyAlert(t), store.TargetOperator).LastError, "HTTP 302 Found")
	f.operator.setStatus(http.StatusInternalServerError)
	for range 20 {
		f.clock.Advance(25 * time.Hour)
		require.NoError(t, f.policy.Flush(f.ctx))
	}
	assert.Equal(t, MaxAttempts, f.operator.callCount())
	d := delivery(t, f.onlyAlert(t), store.TargetOperator)
	assert.Equal(t, store.DeliveryFailed, d.State())
	assert.Equal(t, MaxAttempts, d.Attempts)
	assert.Contains(t, d.LastError, "HTTP 500")
	assert.Contains(t, f.logs.String(), `"msg":"alert delivery given up"`)
}

func TestHangingReceiverCostsOneTimeout(t *testing.T) {
	f := setup(t, 0)
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) })
	f.policy.Operator.URL = hang.URL
	f.policy.HTTPClient = &http.Client{Timeout: 50 * time.Millisecond}
	f.run(t, "contacts", store.RunFailed, spec.ClassTransient, "timeout")
	d := delivery(t, f.onlyAlert(t), store.TargetOperator)
	assert.Equal(t, 1, d.Attempts)
	assert.Equal(t, store.DeliveryPending, d.State())
	assert.Equal(t, f.clock.Now().Add(time.Minute), d.NextAttemptAt)
}

func TestCustomerWebhookWaitsForTheKey(t *testing.T) {
	f := setup(t, 0)
	f.policy.Box = nil
	f.run(t, "contacts", store.RunFailed, spec.ClassTransient, "HTTP 502 Bad Gateway")
	assert.Equal(t, []string{"sync_failed"}, f.operator.kinds())
	assert.Empty(t, f.customer.kinds())
	assert.Contains(t, f.logs.String(), "customer webhook skipped: no secret key configured")
	d := delivery(t, f.onlyAlert(t), store.TargetCustomer)
	assert.Equal(t, store.DeliveryPending, d.State())
	assert.Equal(t, 0, d.Attempts)

	// A flush without the key leaves it; one with the key sends it.
	require.NoError(t, f.policy.Flush(f.ctx))
	assert.Empty(t, f.customer.kinds())
	f.policy.Box = f.box
	require.NoError(t, f.policy.Flush(f.ctx))
	assert.Equal(t, []string{"sync_failed"}, f.customer.kinds())
	assert.Equal(t, []string{"sync_failed"}, f.operator.kinds())
	assert.Equal(t, store.DeliveryDelivered, delivery(t, f.onlyAlert(t), store.TargetCustomer).State())
}

func TestRemovedCustomerWebhookIsDropped(t *testing.T) {
	f := setup(t, 0)
	f.customer.setStatus(http.StatusBadGateway)
	f.run(t, "contacts", store.RunFailed, spec.ClassTransient, "HTTP 502 Bad Gateway")
	require.NoError(t, f.db.SetCustomerWebhook(f.ctx, "acme", "", nil, nil))
	f.clock.Advance(2 * time.Minute)
	require.NoError(t, f.policy.Flush(f.ctx))
	assert.Equal(t, 3, f.customer.callCount())
	d := delivery(t, f.onlyAlert(t), store.TargetCustomer)
	assert.Equal(t, store.DeliveryFailed, d.State())
	assert.Contains(t, d.LastError, "webhook was removed")
}

func TestSecretsNeverLogged(t *testing.T) {
	f := setup(t, 2)
	f.operator.setStatus(http.StatusInternalServerError)
	f.customer.setStatus(http.StatusInternalServerError)
	f.run(t, "contacts", store.RunFailed, spec.ClassTransient, "HTTP 500")
	f.run(t, "contacts", store.RunFailed, spec.ClassTransient, "HTTP 500")
	f.operator.setStatus(0)
	f.customer.setStatus(0)
	f.clock.Advance(time.Hour)
	require.NoError(t, f.policy.Flush(f.ctx))
	f.run(t, "contacts", store.RunSucceeded, "", "")
	f.policy.Logger.Info("policy", "operator", f.policy.Operator, "operator_value", *f.policy.Operator)

	logs := f.logs.String()
	require.Contains(t, logs, "alert delivery failed")
	require.Contains(t, logs, "alert delivered")
	require.Contains(t, logs, f.operator.srv.URL, "the webhook host is named")
	for _, s := range [][]byte{operatorSecret, customerSecret} {
		assert.NotContains(t, logs, string(s))
		assert.NotContains(t, logs, hex.EncodeToString(s))
		assert.NotContains(t, logs, base64.StdEncoding.EncodeToString(s))
	}
	assert.NotContains(t, logs, "OPTOKEN123", "URL paths may carry tokens")
	assert.NotContains(t, logs, "CUSTTOKEN456")
	assert.NotContains(t, logs, "sha256=", "nor signatures")

	// The customer's secret is sealed at rest.
	require.NoError(t, f.db.Close())
	for _, file := range []string{f.path, f.path + "-wal"} {
		data, err := os.ReadFile(file)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		assert.False(t, bytes.Contains(data, customerSecret), "%s holds the webhook secret in clear text", file)
	}
}

func TestOperatorFromEnv(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(file, []byte("file-secret-0123456789abcdef\n"), 0o600))
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}

	w, err := OperatorFromEnv(env())
	require.NoError(t, err)
	assert.Nil(t, w)

	w, err = OperatorFromEnv(env(EnvWebhookURL, "https://ops.example/hook", EnvWebhookSecret, "env-secret-0123456789abcdef"))
	require.NoError(t, err)
	assert.Equal(t, "https://ops.example/hook", w.URL)
	assert.Equal(t, []byte("env-secret-0123456789abcdef"), w.Secret)

	w, err = OperatorFromEnv(env(EnvWebhookURL, "https://ops.example/hook", EnvWebhookSecretFile, file))
	require.NoError(t, err)
	assert.Equal(t, []byte("file-secret-0123456789abcdef"), w.Secret, "the final newline is not part of the secret")

	for name, tc := range map[string]struct {
		getenv func(string) string
		want   string
	}{
		"no secret":        {env(EnvWebhookURL, "https://ops.example/hook"), "without a signing secret"},
		"secret, no url":   {env(EnvWebhookSecret, "env-secret-0123456789abcdef"), "INTAKE_ALERT_WEBHOOK_URL is not"},
		"both secrets":     {env(EnvWebhookURL, "https://x.example", EnvWebhookSecret, "env-secret-0123456789abcdef", EnvWebhookSecretFile, file), "not both"},
		"short secret":     {env(EnvWebhookURL, "https://x.example", EnvWebhookSecret, "tiny-s3cret"), "at least 16 bytes"},
		"bad url":          {env(EnvWebhookURL, "ops.example/hook", EnvWebhookSecret, "env-secret-0123456789abcdef"), "absolute http:// or https:// URL"},
		"user in url":      {env(EnvWebhookURL, "https://u:p@ops.example/hook", EnvWebhookSecret, "env-secret-0123456789abcdef"), "user or password"},
		"missing file":     {env(EnvWebhookURL, "https://x.example", EnvWebhookSecretFile, filepath.Join(dir, "nope")), EnvWebhookSecretFile},
		"file not a file!": {env(EnvWebhookURL, "https://x.example", EnvWebhookSecretFile, dir), EnvWebhookSecretFile},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := OperatorFromEnv(tc.getenv)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "tiny-s3cret")
			assert.NotContains(t, err.Error(), "env-secret")
		})
	}

	n, err := DisableAfterFromEnv(env())
	require.NoError(t, err)
	assert.Equal(t, DefaultDisableAfter, n)
	n, err = DisableAfterFromEnv(env(EnvDisableAfter, "0"))
	require.NoError(t, err)
	assert.Equal(t, 0, n)
	_, err = DisableAfterFromEnv(env(EnvDisableAfter, "-1"))
	assert.ErrorContains(t, err, "INTAKE_DISABLE_AFTER")
}

func TestNextAttemptSchedule(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	assert.Equal(t, now.Add(time.Minute), nextAttempt(now, 1), "quick attempts cut short")
	assert.Equal(t, now.Add(time.Minute), nextAttempt(now, 3))
	assert.Equal(t, now.Add(5*time.Minute), nextAttempt(now, 4))
	assert.Equal(t, now.Add(24*time.Hour), nextAttempt(now, MaxAttempts-1))
	assert.True(t, nextAttempt(now, MaxAttempts).IsZero())
}

func (f *fixture) onlyAlert(t *testing.T) *store.Alert {
	t.Helper()
	as, err := f.db.ListAlerts(f.ctx, store.AlertFilter{})
	require.NoError(t, err)
	require.Len(t, as, 1)
	return as[0]
}

func delivery(t *testing.T, a *store.Alert, target string) store.Delivery {
	t.Helper()
	for _, d := range a.Deliveries {
		if d.Target == target {
			return d
		}
	}
	t.Fatalf("alert %d has no delivery to %s", a.ID, target)
	return store.Delivery{}
}
