package daemon_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/daemon"
)

// Every endpoint but /healthz and the OAuth pages wants the bearer token, compared
// whole; every answer, errors included, is JSON.
func TestAdminAPIAuthentication(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(filepath.Join(e.dir, "intake.db"), "")
	d, _ := e.start(cfg, daemon.Options{})
	h := d.Handler()
	do := func(method, path, auth string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(""))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	protected := []struct{ method, path string }{
		{"GET", "/readyz"}, {"GET", "/metrics"}, {"GET", "/v1/integrations"}, {"POST", "/v1/integrations"},
		{"GET", "/v1/integrations/x"}, {"DELETE", "/v1/integrations/x"}, {"POST", "/v1/integrations/x/enable"},
		{"POST", "/v1/integrations/x/disable"}, {"POST", "/v1/integrations/x/sync"}, {"GET", "/v1/runs"},
		{"GET", "/v1/changes?since=0"}, {"POST", "/v1/reload"}, {"GET", "/nothing"},
	}
	for _, ep := range protected {
		for _, auth := range []string{"", "Bearer wrong", "Bearer " + testToken + "x", "bearer " + testToken, testToken, "Basic " + testToken} {
			rec := do(ep.method, ep.path, auth)
			require.Equal(t, http.StatusUnauthorized, rec.Code, "%s %s with %q", ep.method, ep.path, auth)
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			var body map[string]string
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			assert.Contains(t, body["error"], "missing or wrong bearer token")
		}
	}
	assert.Equal(t, http.StatusOK, do("GET", "/healthz", "").Code)
	assert.Equal(t, http.StatusOK, do("HEAD", "/healthz", "").Code)
	assert.Equal(t, http.StatusBadRequest, do("GET", "/oauth/callback", "").Code, "OAuth pages answer browsers without a token")
	assert.Equal(t, http.StatusOK, do("GET", "/v1/integrations", "Bearer "+testToken).Code)
	rec := do("DELETE", "/v1/runs", "Bearer "+testToken)
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.Equal(t, "GET", rec.Header().Get("Allow"))
	rec = do("GET", "/v1/runs?limit=0", "Bearer "+testToken)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), `limit=\"0\": want a whole number from 1 to 1000`)
	rec = do("POST", "/v1/integrations", "Bearer "+testToken)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), "the body is empty")
}

func TestChangesRefusesUnknownEntity(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(filepath.Join(e.dir, "intake.db"), "")
	d, _ := e.start(cfg, daemon.Options{})
	status, body := api(t, d, "GET", "/v1/changes?since=0&entity=deal", nil)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, `entity="deal": use interaction, account or contact`, body["error"])
	status, body = api(t, d, "GET", "/v1/changes?since=0&entity=account", nil)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, []any{}, body["changes"])
	assert.Equal(t, float64(0), body["next"])
}
