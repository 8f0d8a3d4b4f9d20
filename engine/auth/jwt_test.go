package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/internal/googlemock"
)

func jwtConnector(t *testing.T, extra string) *spec.Connector {
	t.Helper()
	c, err := spec.Load("google.yaml", []byte(`
provider: google
config: {token_url: {}}
credentials: {client_email: {}, private_key: {}, private_key_id: {required: false}}
base_url: https://bigquery.googleapis.com
auth:
  type: oauth2
  grant: jwt_bearer
  token_url: '${ .config.token_url }'
  issuer: '${ .credentials.client_email }'
  private_key_id: '${ .credentials.private_key_id }'
  scopes: ['`+googlemock.Scope+`']`+extra+`
interaction_types:
  rows: {kind: row, request: {path: /x}, records: '.rows[]', id: .id}
`))
	require.NoError(t, err)
	return c
}

func jwtSource(t *testing.T, conn *spec.Connector, g *googlemock.Server, creds map[string]any) Source {
	t.Helper()
	src, err := NewSource(Options{Connector: conn, Config: map[string]any{"token_url": g.URL + "/token"}, Store: NewMemoryCredentials(creds), Owner: "t", HTTP: &http.Client{}, Retries: 1})
	require.NoError(t, err)
	return src
}

// The jwt_bearer grant signs an RS256 assertion with the service account's key; the
// token is reused until it expires or is refused, then a new assertion gets a new one.
func TestJWTBearerGrant(t *testing.T) {
	ctx := testCtx(t)
	g := googlemock.New()
	defer g.Close()
	creds := map[string]any{"client_email": g.ClientEmail, "private_key": g.PrivateKeyPEM(), "private_key_id": g.KeyID}
	src := jwtSource(t, jwtConnector(t, ""), g, creds)
	tok, err := src.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, "ya29.mock-1", tok.Value)
	assert.False(t, tok.Expiry.IsZero(), "expires_in is kept")
	again, err := src.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, tok.Value, again.Value, "a fresh token is reused")
	next, err := src.Refresh(ctx, tok)
	require.NoError(t, err)
	assert.Equal(t, "ya29.mock-2", next.Value, "a refused token is replaced by signing a new assertion")
	assert.Equal(t, 2, g.TokensIssued())

	// A key pasted out of the JSON key file with its \n escapes still works.
	escaped := map[string]any{"client_email": g.ClientEmail, "private_key": strings.ReplaceAll(g.PrivateKeyPEM(), "\n", `\n`)}
	_, err = jwtSource(t, jwtConnector(t, ""), g, escaped).Token(ctx)
	require.NoError(t, err)
}

func TestJWTBearerRefusals(t *testing.T) {
	ctx := testCtx(t)
	g := googlemock.New()
	defer g.Close()
	other := googlemock.New() // another service account's key
	defer other.Close()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(ec)
	require.NoError(t, err)
	ecPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	cases := []struct {
		name     string
		creds    map[string]any
		want     string
		requests int
	}{
		{"key of another account", map[string]any{"client_email": g.ClientEmail, "private_key": other.PrivateKeyPEM()}, "invalid_grant: Invalid JWT Signature.", 1},
		{"unknown issuer", map[string]any{"client_email": "someone@else.example", "private_key": g.PrivateKeyPEM()}, "invalid_grant: Invalid email or User ID", 1},
		{"not a key", map[string]any{"client_email": g.ClientEmail, "private_key": "MIIEvQIBADANBg..."}, "auth.private_key is not a PEM private key", 0},
		{"not an RSA key", map[string]any{"client_email": g.ClientEmail, "private_key": ecPEM}, "needs an RSA key", 0},
		{"no issuer", map[string]any{"client_email": "", "private_key": g.PrivateKeyPEM()}, "auth.issuer is empty", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := g.TokensIssued()
			_, err := jwtSource(t, jwtConnector(t, ""), g, tc.creds).Token(ctx)
			var ae *Error
			require.ErrorAs(t, err, &ae)
			assert.True(t, ae.Permanent, "a refused assertion is not retried")
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "MII", "no part of a key is echoed")
			assert.Equal(t, before, g.TokensIssued())
		})
	}
}

// The spec side: jwt_bearer reads no client id or secret, needs an issuer, and
// defaults private_key to credentials.private_key.
func TestJWTBearerSpec(t *testing.T) {
	c := jwtConnector(t, "\n  subject: 'ana@acme.example'\n  audience: 'https://login.example'")
	assert.Nil(t, c.Auth.ClientID)
	assert.Equal(t, "${ .credentials.private_key }", c.Auth.PrivateKey.Src)
	_, err := spec.Load("g.yaml", []byte(`
provider: g
credentials: {private_key: {}, client_id: {}}
auth: {type: oauth2, grant: jwt_bearer, token_url: 'https://oauth2.example/token', client_id: '${ .credentials.client_id }'}
interaction_types:
  rows: {kind: row, request: {path: 'https://api.example/x'}, records: '.rows[]', id: .id}
`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "auth: grant jwt_bearer needs issuer")
	assert.Contains(t, err.Error(), "auth.client_id: not used by auth type oauth2")
}
