package auth

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

func TestTokenStateRoundTrip(t *testing.T) {
	creds := map[string]any{"client_id": "c", "client_secret": "s"}
	state := TokenState{
		AccessToken:  "at-1",
		RefreshToken: "rt-1",
		TokenType:    "Bearer",
		Expiry:       time.Date(2026, 3, 1, 12, 30, 15, 123456789, time.FixedZone("CET", 3600)),
		Extra:        map[string]any{"instance_url": "https://eu1.example.com", "scope": "read write"},
	}
	with := WithToken(creds, state)
	assert.NotContains(t, creds, TokenKey, "WithToken copies; the input is untouched")
	assert.Equal(t, "s", with["client_secret"], "other credentials are kept")

	check := func(t *testing.T, m map[string]any) {
		t.Helper()
		got, ok := TokenFromCredentials(m)
		require.True(t, ok)
		assert.Equal(t, state.AccessToken, got.AccessToken)
		assert.Equal(t, state.RefreshToken, got.RefreshToken)
		assert.Equal(t, state.TokenType, got.TokenType)
		assert.True(t, state.Expiry.Equal(got.Expiry), "expiry %v, want %v", got.Expiry, state.Expiry)
		assert.Equal(t, state.Extra, got.Extra)
	}
	check(t, with)

	// The store keeps credentials as JSON: the state survives the trip.
	b, err := json.Marshal(with)
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var back map[string]any
	require.NoError(t, dec.Decode(&back))
	check(t, back)
	oauth, _ := back[TokenKey].(map[string]any)
	assert.Equal(t, "2026-03-01T11:30:15.123456789Z", oauth["expires_at"], "kept in UTC, RFC 3339")

	// Optional parts stay out when empty.
	bare := WithToken(nil, TokenState{AccessToken: "at-2"})
	assert.Equal(t, map[string]any{TokenKey: map[string]any{"access_token": "at-2"}}, bare)
	got, ok := TokenFromCredentials(bare)
	require.True(t, ok)
	assert.True(t, got.Expiry.IsZero())

	_, ok = TokenFromCredentials(map[string]any{"refresh_token": "rt"})
	assert.False(t, ok, "no engine-managed state")
	_, ok = TokenFromCredentials(map[string]any{TokenKey: map[string]any{}})
	assert.False(t, ok, "an empty state is no state")
	got, ok = TokenFromCredentials(map[string]any{TokenKey: map[string]any{"refresh_token": "rt-only"}})
	assert.True(t, ok, "a refresh token alone is a state to refresh from")
	assert.Equal(t, "rt-only", got.RefreshToken)
}

func TestTokenStateVarsAndFromOAuth2(t *testing.T) {
	exp := time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)
	tok := (&oauth2.Token{AccessToken: "at-9", TokenType: "bearer", Expiry: exp})
	raw := map[string]any{"access_token": "at-9", "token_type": "bearer", "expires_in": json.Number("3600"), "instance_url": "https://na1.example.com", "scope": "api"}
	st := FromOAuth2(tok, "rt-prev", raw)
	assert.Equal(t, "rt-prev", st.RefreshToken, "a refresh answer without a refresh token keeps the previous one")
	assert.Equal(t, map[string]any{"instance_url": "https://na1.example.com", "scope": "api"}, st.Extra, "standard fields are not extras")

	rotated := FromOAuth2(&oauth2.Token{AccessToken: "at-10", RefreshToken: "rt-new"}, "rt-prev", nil)
	assert.Equal(t, "rt-new", rotated.RefreshToken)
	assert.Nil(t, rotated.Extra)

	assert.Equal(t, map[string]any{
		"access_token": "at-9", "token_type": "bearer", "expires_at": "2026-03-01T13:00:00Z",
		"instance_url": "https://na1.example.com", "scope": "api",
	}, st.Vars())
	v := st.Vars()
	v["instance_url"] = "changed"
	assert.Equal(t, "https://na1.example.com", st.Extra["instance_url"], "Vars is a copy")
	assert.NotContains(t, st.Vars(), "refresh_token", ".auth never exposes the refresh token")
}
