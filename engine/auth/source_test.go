package auth

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
	"github.com/intakehq/intake/internal/mockapi"
)

// parallel runs fn in n goroutines released at once and returns their results.
func parallel(n int, fn func() (*Token, error)) ([]*Token, []error) {
	toks, errs := make([]*Token, n), make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			toks[i], errs[i] = fn()
		}()
	}
	close(start)
	wg.Wait()
	return toks, errs
}

// Fifty requests find the token expired at once: one token request serves them all,
// and the refreshed state (with a rotated refresh token) is what the store keeps.
func TestOAuthTokenSingleFlight(t *testing.T) {
	for _, grant := range []string{spec.GrantClientCredentials, spec.GrantRefreshToken} {
		t.Run(grant, func(t *testing.T) {
			ts := newTokenServer(t, mockapi.Options{RotateRefresh: true})
			ts.setDelay(30 * time.Millisecond)
			var extra map[string]any
			if grant == spec.GrantRefreshToken {
				extra = map[string]any{"refresh_token": mockapi.DefaultRefreshToken}
			}
			mem := NewMemoryCredentials(staleCreds(extra))
			src := newOAuth(t, oauthConnector(t, grant, ""), ts, mem, "proc-1", nil)
			ctx := testCtx(t)

			toks, errs := parallel(50, func() (*Token, error) { return src.Token(ctx) })
			for i := range toks {
				require.NoError(t, errs[i])
			}
			st := ts.api.Stats()
			assert.Equal(t, 1, st.TokenRequests, "one token request for 50 concurrent callers")
			issued := ts.issued()
			require.Len(t, issued, 1)
			for _, tok := range toks {
				assert.Equal(t, issued[0], tok.Value)
				assert.Equal(t, issued[0], tok.Vars["access_token"])
			}
			stored, version := storedToken(t, mem)
			assert.Equal(t, issued[0], stored.AccessToken)
			assert.Equal(t, int64(1), version, "saved exactly once")
			if grant == spec.GrantRefreshToken {
				assert.Equal(t, 1, st.RefreshGrants)
				assert.Equal(t, 0, st.BurnedRefreshTokens)
				assert.NotEqual(t, mockapi.DefaultRefreshToken, stored.RefreshToken)
				assert.Equal(t, ts.api.CurrentRefreshToken(), stored.RefreshToken, "the rotated refresh token is kept")
			} else {
				assert.Equal(t, 1, st.ClientCredentialsGrants)
			}
		})
	}
}

// Two sources (two processes) over one credential store: the lease makes the refresh
// single-flight across them too.
func TestOAuthTokenSingleFlightAcrossOwners(t *testing.T) {
	ts := newTokenServer(t, mockapi.Options{RotateRefresh: true})
	ts.setDelay(100 * time.Millisecond)
	conn := oauthConnector(t, spec.GrantRefreshToken, "")
	mem := NewMemoryCredentials(staleCreds(map[string]any{"refresh_token": mockapi.DefaultRefreshToken}))
	a := newOAuth(t, conn, ts, mem, "proc-a", nil)
	b := newOAuth(t, conn, ts, mem, "proc-b", nil)
	ctx := testCtx(t)
	var n atomic.Int32
	toks, errs := parallel(40, func() (*Token, error) {
		if n.Add(1)%2 == 0 {
			return a.Token(ctx)
		}
		return b.Token(ctx)
	})
	for i := range toks {
		require.NoError(t, errs[i])
	}
	st := ts.api.Stats()
	assert.Equal(t, 1, st.TokenRequests)
	assert.Equal(t, 0, st.BurnedRefreshTokens)
	issued := ts.issued()
	require.Len(t, issued, 1)
	for _, tok := range toks {
		assert.Equal(t, issued[0], tok.Value)
	}
	stored, _ := storedToken(t, mem)
	assert.Equal(t, ts.api.CurrentRefreshToken(), stored.RefreshToken)
}

// A caller whose token the provider refused asks for a refresh; if another caller
// already replaced that token, it gets the replacement without a token request.
func TestOAuthRefreshStaleToken(t *testing.T) {
	ts := newTokenServer(t, mockapi.Options{})
	src := newOAuth(t, oauthConnector(t, spec.GrantClientCredentials, ""), ts, NewMemoryCredentials(baseCreds()), "proc-1", nil)
	ctx := testCtx(t)

	t1, err := src.Token(ctx)
	require.NoError(t, err)
	again, err := src.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, t1.Value, again.Value, "a fresh token is reused")
	assert.Equal(t, 1, ts.api.Stats().TokenRequests)

	t2, err := src.Refresh(ctx, t1)
	require.NoError(t, err)
	assert.NotEqual(t, t1.Value, t2.Value)
	assert.Equal(t, 2, ts.api.Stats().TokenRequests)

	late, err := src.Refresh(ctx, t1)
	require.NoError(t, err)
	assert.Equal(t, t2.Value, late.Value, "t1 was already replaced")
	assert.Equal(t, 2, ts.api.Stats().TokenRequests, "no second request for the same stale token")

	ts.setDelay(30 * time.Millisecond)
	toks, errs := parallel(20, func() (*Token, error) { return src.Refresh(ctx, t2) })
	for i := range toks {
		require.NoError(t, errs[i])
	}
	assert.Equal(t, 3, ts.api.Stats().TokenRequests, "20 callers refused with t2 cause one refresh")
	issued := ts.issued()
	for _, tok := range toks {
		assert.Equal(t, issued[len(issued)-1], tok.Value)
	}
}

// recordingStore wraps a CredentialStore, counting calls and optionally failing Save.
type recordingStore struct {
	CredentialStore
	saveErr               error
	saves, locks, unlocks atomic.Int32
	lockOK, lockRefused   atomic.Int32
	onLock                func(attempt int32)
}

func (r *recordingStore) Save(ctx context.Context, creds map[string]any, expect int64, owner string) (int64, error) {
	r.saves.Add(1)
	if r.saveErr != nil {
		return 0, r.saveErr
	}
	return r.CredentialStore.Save(ctx, creds, expect, owner)
}

func (r *recordingStore) Lock(ctx context.Context, owner string, ttl time.Duration) (bool, error) {
	n := r.locks.Add(1)
	if r.onLock != nil {
		r.onLock(n)
	}
	ok, err := r.CredentialStore.Lock(ctx, owner, ttl)
	if ok {
		r.lockOK.Add(1)
	} else {
		r.lockRefused.Add(1)
	}
	return ok, err
}

func (r *recordingStore) Unlock(ctx context.Context, owner string) error {
	r.unlocks.Add(1)
	return r.CredentialStore.Unlock(ctx, owner)
}

// A token whose state cannot be saved is not used: with a rotating refresh token,
// using it would strand the integration once the process ends.
func TestOAuthSaveBeforeUse(t *testing.T) {
	ts := newTokenServer(t, mockapi.Options{})
	mem := NewMemoryCredentials(staleCreds(map[string]any{"refresh_token": mockapi.DefaultRefreshToken}))
	rs := &recordingStore{CredentialStore: mem, saveErr: errors.New("database is locked")}
	src := newOAuth(t, oauthConnector(t, spec.GrantRefreshToken, ""), ts, rs, "proc-1", nil)
	ctx := testCtx(t)

	tok, err := src.Token(ctx)
	require.Error(t, err)
	assert.Nil(t, tok)
	assert.Contains(t, err.Error(), "save refreshed token")
	assert.ErrorIs(t, err, rs.saveErr)
	issued := ts.issued()
	require.Len(t, issued, 1, "the token endpoint answered")
	assert.NotContains(t, err.Error(), issued[0])
	assert.Equal(t, int32(1), rs.saves.Load())
	assert.Equal(t, int32(1), rs.unlocks.Load(), "the lease is given up after a failed save")
	if src.cur != nil {
		assert.NotEqual(t, issued[0], src.cur.AccessToken, "the unsaved token is not kept")
	}
	stored, version := storedToken(t, mem)
	assert.Equal(t, "at-stale", stored.AccessToken)
	assert.Equal(t, int64(0), version)

	// The next call does not use the unsaved token either: it asks again.
	_, err = src.Token(ctx)
	require.Error(t, err)
	assert.Equal(t, 2, ts.api.Stats().TokenRequests)

	// Once saving works, the token is saved and then used.
	rs.saveErr = nil
	tok, err = src.Token(ctx)
	require.NoError(t, err)
	stored, _ = storedToken(t, mem)
	assert.Equal(t, stored.AccessToken, tok.Value)
	assert.Equal(t, ts.issued()[2], tok.Value)
}

// Another process holds the refresh lease: this one waits, then adopts the token the
// other stored, without a token request of its own. The other process's save either
// leaves its lease to expire or releases it with the save.
func TestOAuthWaitsForLeaseHolderAndAdopts(t *testing.T) {
	for _, releases := range []bool{false, true} {
		t.Run(map[bool]string{false: "lease kept", true: "lease released"}[releases], func(t *testing.T) {
			ts := newTokenServer(t, mockapi.Options{RotateRefresh: true})
			mem := NewMemoryCredentials(staleCreds(map[string]any{"refresh_token": mockapi.DefaultRefreshToken}))
			ctx := testCtx(t)
			ok, err := mem.Lock(ctx, "other", time.Minute)
			require.NoError(t, err)
			require.True(t, ok)

			rs := &recordingStore{CredentialStore: mem}
			fresh := TokenState{AccessToken: "at-from-other", RefreshToken: "rt-from-other", TokenType: "bearer", Expiry: time.Now().Add(time.Hour),
				Extra: map[string]any{"instance_url": "https://eu.example.com"}}
			saveAs := "not-the-holder"
			if releases {
				saveAs = "other"
			}
			rs.onLock = func(n int32) {
				if n != 2 { // the other process finishes while this one waits
					return
				}
				vc, err := mem.Load(ctx)
				if err == nil {
					_, err = mem.Save(ctx, WithToken(vc.Values, fresh), vc.Version, saveAs)
				}
				if err != nil {
					t.Errorf("other process save: %v", err)
				}
			}
			src := newOAuth(t, oauthConnector(t, spec.GrantRefreshToken, ""), ts, rs, "proc-1", nil)
			tok, err := src.Token(ctx)
			require.NoError(t, err)
			assert.Equal(t, "at-from-other", tok.Value)
			assert.Equal(t, "https://eu.example.com", tok.Vars["instance_url"])
			assert.Equal(t, 0, ts.api.Stats().TokenRequests)
			assert.Equal(t, int32(0), rs.saves.Load())
			assert.GreaterOrEqual(t, rs.lockRefused.Load(), int32(1), "it found the lease taken")
			if releases {
				assert.Equal(t, int32(1), rs.lockOK.Load(), "it took the free lease, re-read, and found the new token")
				assert.Equal(t, int32(1), rs.unlocks.Load())
			} else {
				assert.Equal(t, int32(0), rs.lockOK.Load(), "it adopted the stored token while waiting")
			}
			again, err := src.Token(ctx)
			require.NoError(t, err)
			assert.Equal(t, "at-from-other", again.Value)
			assert.Equal(t, 0, ts.api.Stats().TokenRequests)
		})
	}
}

// The lease holder gives up without saving (its refresh failed): this process then
// takes the lease and refreshes itself.
func TestOAuthLeaseReleasedWithoutToken(t *testing.T) {
	ts := newTokenServer(t, mockapi.Options{})
	mem := NewMemoryCredentials(staleCreds(nil))
	ctx := testCtx(t)
	ok, _ := mem.Lock(ctx, "other", time.Minute)
	require.True(t, ok)
	rs := &recordingStore{CredentialStore: mem}
	rs.onLock = func(n int32) {
		if n == 2 {
			_ = mem.Unlock(ctx, "other")
		}
	}
	src := newOAuth(t, oauthConnector(t, spec.GrantClientCredentials, ""), ts, rs, "proc-1", nil)
	tok, err := src.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, ts.api.Stats().TokenRequests)
	assert.Equal(t, ts.issued()[0], tok.Value)
	assert.Equal(t, int32(1), rs.lockOK.Load())
}

// A lease that is never given back fails the caller after LockWait, as a transient
// failure: the next run may find it free.
func TestOAuthLeaseNeverReleased(t *testing.T) {
	ts := newTokenServer(t, mockapi.Options{})
	mem := NewMemoryCredentials(staleCreds(nil))
	ctx := testCtx(t)
	ok, _ := mem.Lock(ctx, "other", time.Minute)
	require.True(t, ok)
	src := newOAuth(t, oauthConnector(t, spec.GrantClientCredentials, ""), ts, mem, "proc-1", func(o *Options) { o.LockWait = 300 * time.Millisecond })
	_, err := src.Token(ctx)
	require.Error(t, err)
	var ae *Error
	require.ErrorAs(t, err, &ae)
	assert.False(t, ae.Permanent)
	assert.Contains(t, err.Error(), "another process holds the refresh lock")
	assert.Equal(t, 0, ts.api.Stats().TokenRequests)
}

// A stored token is used until refresh_before of its expiry.
func TestOAuthRefreshBefore(t *testing.T) {
	for _, c := range []struct {
		left     time.Duration
		requests int
	}{{2 * time.Minute, 0}, {30 * time.Second, 1}, {-time.Second, 1}} {
		t.Run(c.left.String(), func(t *testing.T) {
			ts := newTokenServer(t, mockapi.Options{})
			creds := WithToken(baseCreds(), TokenState{AccessToken: "at-stored", Expiry: time.Now().Add(c.left)})
			src := newOAuth(t, oauthConnector(t, spec.GrantClientCredentials, ""), ts, NewMemoryCredentials(creds), "p", nil)
			tok, err := src.Token(testCtx(t))
			require.NoError(t, err)
			assert.Equal(t, c.requests, ts.api.Stats().TokenRequests)
			if c.requests == 0 {
				assert.Equal(t, "at-stored", tok.Value)
			} else {
				assert.NotEqual(t, "at-stored", tok.Value)
			}
		})
	}
}

func TestOAuthTokenEndpointFailures(t *testing.T) {
	ctx := testCtx(t)
	t.Run("503 then success", func(t *testing.T) {
		ts := newTokenServer(t, mockapi.Options{TokenFailures: 2})
		src := newOAuth(t, oauthConnector(t, spec.GrantClientCredentials, ""), ts, NewMemoryCredentials(baseCreds()), "p", nil)
		tok, err := src.Token(ctx)
		require.NoError(t, err)
		assert.Equal(t, 3, ts.api.Stats().TokenRequests)
		assert.Equal(t, ts.issued()[0], tok.Value)
	})
	t.Run("503 past the retries", func(t *testing.T) {
		ts := newTokenServer(t, mockapi.Options{TokenFailures: 5})
		src := newOAuth(t, oauthConnector(t, spec.GrantClientCredentials, ""), ts, NewMemoryCredentials(baseCreds()), "p", func(o *Options) { o.Retries = 1 })
		_, err := src.Token(ctx)
		var ae *Error
		require.ErrorAs(t, err, &ae)
		assert.False(t, ae.Permanent, "an unavailable token endpoint is transient")
		assert.Equal(t, 2, ts.api.Stats().TokenRequests)
	})
	t.Run("wrong client secret", func(t *testing.T) {
		ts := newTokenServer(t, mockapi.Options{})
		creds := baseCreds()
		creds["client_secret"] = "cs_Wrong_Pp0Oo9Ii8Uu7"
		src := newOAuth(t, oauthConnector(t, spec.GrantClientCredentials, ""), ts, NewMemoryCredentials(creds), "p", nil)
		_, err := src.Token(ctx)
		var ae *Error
		require.ErrorAs(t, err, &ae)
		assert.True(t, ae.Permanent)
		assert.Contains(t, err.Error(), "invalid_client")
		assert.NotContains(t, err.Error(), "cs_Wrong_Pp0Oo9Ii8Uu7")
		assert.Equal(t, 1, ts.api.Stats().TokenRequests, "a refused client is not retried")
	})
	t.Run("revoked refresh token", func(t *testing.T) {
		ts := newTokenServer(t, mockapi.Options{InitialRefreshToken: "rt-live"})
		creds := baseCreds()
		creds["refresh_token"] = "rt-revoked-Hh5Gg4Ff3"
		src := newOAuth(t, oauthConnector(t, spec.GrantRefreshToken, ""), ts, NewMemoryCredentials(creds), "p", nil)
		_, err := src.Token(ctx)
		var ae *Error
		require.ErrorAs(t, err, &ae)
		assert.True(t, ae.Permanent)
		assert.Contains(t, err.Error(), "invalid_grant")
		assert.NotContains(t, err.Error(), "rt-revoked-Hh5Gg4Ff3")
		assert.NotContains(t, err.Error(), clientSecret)
		assert.Equal(t, 1, ts.api.Stats().TokenRequests)
	})
	t.Run("no refresh token", func(t *testing.T) {
		ts := newTokenServer(t, mockapi.Options{})
		src := newOAuth(t, oauthConnector(t, spec.GrantRefreshToken, ""), ts, NewMemoryCredentials(baseCreds()), "p", nil)
		_, err := src.Token(ctx)
		var ae *Error
		require.ErrorAs(t, err, &ae)
		assert.True(t, ae.Permanent)
		assert.Contains(t, err.Error(), "no refresh token")
		assert.Equal(t, 0, ts.api.Stats().TokenRequests)
	})
	t.Run("client_secret_post", func(t *testing.T) {
		ts := newTokenServer(t, mockapi.Options{ClientAuth: "post"})
		conn := oauthConnector(t, spec.GrantClientCredentials, ", client_auth: client_secret_post")
		src := newOAuth(t, conn, ts, NewMemoryCredentials(baseCreds()), "p", nil)
		_, err := src.Token(ctx)
		require.NoError(t, err)
		basic := newOAuth(t, oauthConnector(t, spec.GrantClientCredentials, ""), ts, NewMemoryCredentials(baseCreds()), "p", nil)
		_, err = basic.Token(ctx)
		var ae *Error
		require.ErrorAs(t, err, &ae)
		assert.True(t, ae.Permanent)
	})
}

func TestMemoryCredentials(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryCredentials(map[string]any{"a": "1"})
	vc, err := m.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(0), vc.Version)
	vc.Values["a"] = "changed by the caller"
	again, _ := m.Load(ctx)
	assert.Equal(t, "1", again.Values["a"], "Load hands out a copy")

	v1, err := m.Save(ctx, map[string]any{"a": "2"}, 0, "p1")
	require.NoError(t, err)
	assert.Equal(t, int64(1), v1)
	_, err = m.Save(ctx, map[string]any{"a": "3"}, 0, "p2")
	require.ErrorIs(t, err, store.ErrConflict, "a save naming an old version loses")
	cur, _ := m.Load(ctx)
	assert.Equal(t, "2", cur.Values["a"])
	assert.Equal(t, int64(1), cur.Version)

	ok, _ := m.Lock(ctx, "p1", time.Minute)
	assert.True(t, ok)
	ok, _ = m.Lock(ctx, "p1", time.Minute)
	assert.True(t, ok, "the holder may take it again")
	ok, _ = m.Lock(ctx, "p2", time.Minute)
	assert.False(t, ok)
	require.NoError(t, m.Unlock(ctx, "p2"))
	ok, _ = m.Lock(ctx, "p2", time.Minute)
	assert.False(t, ok, "only the holder unlocks")
	_, err = m.Save(ctx, map[string]any{"a": "4"}, 1, "p1")
	require.NoError(t, err)
	ok, _ = m.Lock(ctx, "p2", time.Minute)
	assert.True(t, ok, "the holder's save releases the lease")
}

func testBox(t *testing.T) *secret.Box {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	b, err := secret.NewBox(key)
	require.NoError(t, err)
	return b
}

// StoreCredentials keeps the same contract over the database.
func TestStoreCredentials(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "intake.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	box := testBox(t)
	require.NoError(t, db.CreateIntegration(ctx, store.Integration{ID: "acme-mock", CustomerID: "acme", Provider: "mock"}, baseCreds(), box))
	a := &StoreCredentials{Store: db, Box: box, IntegrationID: "acme-mock"}
	b := &StoreCredentials{Store: db, Box: box, IntegrationID: "acme-mock"}

	vc, err := a.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, clientSecret, vc.Values["client_secret"])

	ok, err := a.Lock(ctx, "pa", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = b.Lock(ctx, "pb", time.Minute)
	require.NoError(t, err)
	assert.False(t, ok)

	state := TokenState{AccessToken: "at-1", RefreshToken: "rt-1", Expiry: time.Now().Add(time.Hour).Truncate(time.Millisecond)}
	v, err := a.Save(ctx, WithToken(vc.Values, state), vc.Version, "pa")
	require.NoError(t, err)
	assert.Equal(t, vc.Version+1, v)
	_, err = b.Save(ctx, WithToken(vc.Values, TokenState{AccessToken: "at-other"}), vc.Version, "pb")
	require.ErrorIs(t, err, store.ErrConflict)

	ok, err = b.Lock(ctx, "pb", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "a's save released a's lease")
	require.NoError(t, b.Unlock(ctx, "pb"))

	vc2, err := b.Load(ctx)
	require.NoError(t, err)
	got, ok := TokenFromCredentials(vc2.Values)
	require.True(t, ok)
	assert.Equal(t, "at-1", got.AccessToken)
	assert.Equal(t, "rt-1", got.RefreshToken)
	assert.True(t, state.Expiry.Equal(got.Expiry))

	// The sealed row holds none of it in clear text.
	var raw []byte
	require.NoError(t, db.DB().QueryRow(`SELECT credentials FROM integrations WHERE id = 'acme-mock'`).Scan(&raw))
	for _, s := range []string{"at-1", "rt-1", clientSecret} {
		assert.False(t, strings.Contains(string(raw), s), "%s in clear text", s)
	}
}

// A token endpoint may echo what it was sent (some answer a 5xx with the request
// dumped in the body): the error names the failure without the client secret or the
// refresh token presented, whatever the status.
func TestOAuthErrorsDoNotEchoSecrets(t *testing.T) {
	const rotated = "rt-rotated-Pq8Wx7Zc6"
	cases := []struct {
		name      string
		status    int
		json      bool
		permanent bool
	}{
		{"503 dump", http.StatusServiceUnavailable, false, false},
		{"503 json", http.StatusServiceUnavailable, true, false},
		{"400 invalid_grant", http.StatusBadRequest, true, true},
		{"401 invalid_client", http.StatusUnauthorized, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var requests atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				_ = r.ParseForm()
				_, pass, _ := r.BasicAuth()
				echo := fmt.Sprintf("cannot handle refresh_token=%s for client %s:%s", r.PostForm.Get("refresh_token"), clientID, pass)
				if tc.json {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tc.status)
					code := map[int]string{503: "temporarily_unavailable", 400: "invalid_grant", 401: "invalid_client"}[tc.status]
					_ = json.NewEncoder(w).Encode(map[string]any{"error": code, "error_description": echo})
					return
				}
				w.WriteHeader(tc.status)
				fmt.Fprint(w, echo)
			}))
			defer srv.Close()
			creds := WithToken(baseCreds(), TokenState{AccessToken: "at-old", RefreshToken: rotated, Expiry: time.Now().Add(-time.Minute)})
			src, err := NewSource(Options{Connector: oauthConnector(t, spec.GrantRefreshToken, ""), Config: map[string]any{"url": srv.URL},
				Store: NewMemoryCredentials(creds), Owner: "p", Retries: 1})
			require.NoError(t, err)
			_, err = src.Token(testCtx(t))
			var ae *Error
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tc.permanent, ae.Permanent)
			assert.Contains(t, err.Error(), fmt.Sprint(tc.status))
			assert.NotContains(t, err.Error(), rotated)
			assert.NotContains(t, err.Error(), clientSecret)
			if tc.permanent {
				assert.Equal(t, int32(1), requests.Load())
			} else {
				assert.Equal(t, int32(2), requests.Load())
			}
		})
	}
}
