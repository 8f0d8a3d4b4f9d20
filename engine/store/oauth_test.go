package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/secret"
)

func TestOAuthAppsSealTheSecret(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	box := testBox(t, 4)
	const sec = "oauth-app-SECRET-value-42"

	_, err := s.OAuthApp(ctx, "acmecrm", box)
	assert.ErrorIs(t, err, ErrNotFound)
	apps, err := s.OAuthApps(ctx)
	require.NoError(t, err)
	assert.Empty(t, apps)

	require.NoError(t, s.SetOAuthApp(ctx, OAuthApp{Provider: "acmecrm", ClientID: "cid-1", ClientSecret: sec}, box))
	app, err := s.OAuthApp(ctx, "acmecrm", box)
	require.NoError(t, err)
	assert.Equal(t, "cid-1", app.ClientID)
	assert.Equal(t, sec, app.ClientSecret)
	assert.Equal(t, box.KeyID(), app.KeyID)
	assert.Empty(t, app.RedirectURL)
	assert.Equal(t, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), app.CreatedAt)

	// Set again: replaced, one row.
	require.NoError(t, s.SetOAuthApp(ctx, OAuthApp{Provider: "acmecrm", ClientID: "cid-2", ClientSecret: sec + "-2", RedirectURL: "https://x.test/cb"}, box))
	require.NoError(t, s.SetOAuthApp(ctx, OAuthApp{Provider: "beta", ClientID: "b", ClientSecret: "bbbbbbbb"}, box))
	apps, err = s.OAuthApps(ctx)
	require.NoError(t, err)
	require.Len(t, apps, 2)
	assert.Equal(t, "acmecrm", apps[0].Provider)
	assert.Equal(t, "cid-2", apps[0].ClientID)
	assert.Equal(t, "https://x.test/cb", apps[0].RedirectURL)
	assert.Empty(t, apps[0].ClientSecret, "listing never opens secrets")
	app, err = s.OAuthApp(ctx, "acmecrm", box)
	require.NoError(t, err)
	assert.Equal(t, sec+"-2", app.ClientSecret)

	// Wrong key, no key, and a sealed secret moved to another provider's row.
	_, err = s.OAuthApp(ctx, "acmecrm", testBox(t, 5))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "sealed with key "+box.KeyID())
	_, err = s.OAuthApp(ctx, "acmecrm", nil)
	assert.ErrorIs(t, err, secret.ErrNoKey)
	assert.ErrorIs(t, s.SetOAuthApp(ctx, OAuthApp{Provider: "x", ClientID: "x", ClientSecret: "y"}, nil), secret.ErrNoKey)
	assert.Error(t, s.SetOAuthApp(ctx, OAuthApp{Provider: "x", ClientID: "x"}, box), "an empty secret is refused")
	_, err = s.DB().ExecContext(ctx, `UPDATE oauth_apps SET client_secret = (SELECT client_secret FROM oauth_apps WHERE provider = 'acmecrm') WHERE provider = 'beta'`)
	require.NoError(t, err)
	_, err = s.OAuthApp(ctx, "beta", box)
	assert.Error(t, err, "a sealed secret is bound to its provider")

	require.NoError(t, s.DeleteOAuthApp(ctx, "beta"))
	assert.ErrorIs(t, s.DeleteOAuthApp(ctx, "beta"), ErrNotFound)

	require.NoError(t, s.Close())
	for _, f := range []string{path, path + "-wal"} {
		data, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		assert.False(t, bytes.Contains(data, []byte("SECRET-value")), "%s holds the client secret in clear text", f)
	}
}

func TestOAuthStatesAreSingleUseAndExpire(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	box := testBox(t, 6)
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	const verifier = "verifier-abcdefghijklmnopqrstuvwxyz-0123456789"
	st := OAuthState{State: "st-1", Provider: "acmecrm", CustomerID: "acme", Config: map[string]any{"region": "eu", "n": json.Number("5")},
		CodeVerifier: verifier, RedirectURL: "https://x.test/oauth/callback", CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	require.NoError(t, s.CreateOAuthState(ctx, st, box))
	assert.Error(t, s.CreateOAuthState(ctx, st, box), "a state is unique")
	assert.Error(t, s.CreateOAuthState(ctx, OAuthState{State: "x"}, box), "incomplete states are refused")
	assert.ErrorIs(t, s.CreateOAuthState(ctx, OAuthState{State: "st-9", Provider: "p", CustomerID: "c", CodeVerifier: "v", RedirectURL: "r", ExpiresAt: now}, nil), secret.ErrNoKey)

	got, err := s.ConsumeOAuthState(ctx, "st-1", now.Add(9*time.Minute), box)
	require.NoError(t, err)
	assert.Equal(t, "acmecrm", got.Provider)
	assert.Equal(t, "acme", got.CustomerID)
	assert.Empty(t, got.IntegrationID)
	assert.Equal(t, map[string]any{"region": "eu", "n": json.Number("5")}, got.Config)
	assert.Equal(t, verifier, got.CodeVerifier)
	assert.Equal(t, st.RedirectURL, got.RedirectURL)
	assert.Equal(t, now, got.CreatedAt)
	assert.Equal(t, now.Add(10*time.Minute), got.ExpiresAt)

	_, err = s.ConsumeOAuthState(ctx, "st-1", now.Add(9*time.Minute), box)
	assert.ErrorIs(t, err, ErrStateUsed)
	_, err = s.ConsumeOAuthState(ctx, "nope", now, box)
	assert.ErrorIs(t, err, ErrStateUnknown)

	var sealed []byte
	require.NoError(t, s.DB().QueryRowContext(ctx, `SELECT code_verifier FROM oauth_states WHERE state = 'st-1'`).Scan(&sealed))
	assert.Nil(t, sealed, "the verifier is erased once the state is used")

	// Expiry: exactly at expires_at is too late, and it is used up all the same.
	st2 := st
	st2.State, st2.IntegrationID = "st-2", "acme-main"
	require.NoError(t, s.CreateOAuthState(ctx, st2, box))
	_, err = s.ConsumeOAuthState(ctx, "st-2", now.Add(10*time.Minute), box)
	assert.ErrorIs(t, err, ErrStateExpired)
	_, err = s.ConsumeOAuthState(ctx, "st-2", now, box)
	assert.ErrorIs(t, err, ErrStateUsed)

	// Wrong key: the verifier does not open (and the state is used up).
	st3 := st
	st3.State = "st-3"
	require.NoError(t, s.CreateOAuthState(ctx, st3, box))
	_, err = s.ConsumeOAuthState(ctx, "st-3", now, testBox(t, 7))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), verifier)

	// Pruning drops what expired before the cutoff.
	st4 := st
	st4.State, st4.ExpiresAt = "st-4", now.Add(time.Hour)
	require.NoError(t, s.CreateOAuthState(ctx, st4, box))
	n, err := s.PruneOAuthStates(ctx, now.Add(30*time.Minute))
	require.NoError(t, err)
	assert.Equal(t, int64(3), n)
	_, err = s.ConsumeOAuthState(ctx, "st-1", now, box)
	assert.ErrorIs(t, err, ErrStateUnknown)
	got, err = s.ConsumeOAuthState(ctx, "st-4", now, box)
	require.NoError(t, err)
	assert.Equal(t, verifier, got.CodeVerifier)

	require.NoError(t, s.Close())
	for _, f := range []string{path, path + "-wal"} {
		data, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		assert.False(t, bytes.Contains(data, []byte("verifier-abcdefghijklmnop")), "%s holds a code verifier in clear text", f)
	}
}

// Two callbacks racing with one state: exactly one wins.
func TestOAuthStateConsumedOnceUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	box := testBox(t, 8)
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	require.NoError(t, s.CreateOAuthState(ctx, OAuthState{State: "race", Provider: "p", CustomerID: "c", CodeVerifier: "v-123456", RedirectURL: "r", ExpiresAt: now.Add(time.Minute)}, box))
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := s.ConsumeOAuthState(ctx, "race", now, box)
			errs <- err
		}()
	}
	ok := 0
	for range n {
		err := <-errs
		if err == nil {
			ok++
		} else {
			assert.ErrorIs(t, err, ErrStateUsed)
		}
	}
	assert.Equal(t, 1, ok)
}
