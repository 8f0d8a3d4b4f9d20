// Package auth obtains and keeps the tokens of token-based auth (OAuth2 grants and
// session logins): it refreshes them before they expire and after a 401, once per
// process and once across processes, and persists rotating refresh tokens before the
// new access token is used.
package auth

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"golang.org/x/oauth2"

	"github.com/intakehq/intake/engine/expr"
	"github.com/intakehq/intake/engine/spec"
)

// TokenKey is where an integration's credentials keep the engine-managed OAuth2 token
// state: {access_token, refresh_token, token_type, expires_at (RFC 3339), extra {...}}.
// The customer never supplies it; connecting (intake oauth serve) and refreshing write it.
const TokenKey = "_oauth"

// TokenState is the OAuth2 token of an integration.
type TokenState struct {
	AccessToken  string
	RefreshToken string
	TokenType    string
	Expiry       time.Time      // zero: unknown (valid until a 401)
	Extra        map[string]any // every other token-response field (instance_url, scope, ...)
}

// TokenFromCredentials reads the token state kept in credentials, if any.
func TokenFromCredentials(creds map[string]any) (TokenState, bool) {
	m, ok := creds[TokenKey].(map[string]any)
	if !ok {
		return TokenState{}, false
	}
	t := TokenState{
		AccessToken:  expr.Text(m["access_token"]),
		RefreshToken: expr.Text(m["refresh_token"]),
		TokenType:    expr.Text(m["token_type"]),
	}
	if s, ok := m["expires_at"].(string); ok && s != "" {
		t.Expiry, _ = time.Parse(time.RFC3339Nano, s)
	}
	if ex, ok := m["extra"].(map[string]any); ok {
		t.Extra = ex
	}
	return t, t.AccessToken != "" || t.RefreshToken != ""
}

// WithToken returns a copy of creds holding t.
func WithToken(creds map[string]any, t TokenState) map[string]any {
	out := maps.Clone(creds)
	if out == nil {
		out = map[string]any{}
	}
	m := map[string]any{"access_token": t.AccessToken}
	if t.RefreshToken != "" {
		m["refresh_token"] = t.RefreshToken
	}
	if t.TokenType != "" {
		m["token_type"] = t.TokenType
	}
	if !t.Expiry.IsZero() {
		m["expires_at"] = t.Expiry.UTC().Format(time.RFC3339Nano)
	}
	if len(t.Extra) > 0 {
		m["extra"] = t.Extra
	}
	out[TokenKey] = m
	return out
}

// standardFields are the token-response fields TokenState holds itself.
var standardFields = map[string]bool{"access_token": true, "refresh_token": true, "token_type": true, "expires_in": true, "expiry": true}

// FromOAuth2 converts a token from golang.org/x/oauth2, keeping every extra field of
// the token response (Salesforce's instance_url, say) and the previous refresh token
// when the provider did not send a new one.
func FromOAuth2(tok *oauth2.Token, previousRefresh string, raw map[string]any) TokenState {
	t := TokenState{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, TokenType: tok.TokenType, Expiry: tok.Expiry}
	if t.RefreshToken == "" {
		t.RefreshToken = previousRefresh
	}
	for k, v := range raw {
		if !standardFields[k] {
			if t.Extra == nil {
				t.Extra = map[string]any{}
			}
			t.Extra[k] = v
		}
	}
	return t
}

// Vars is what templates see as .auth: the extra fields, then the standard ones.
func (t TokenState) Vars() map[string]any {
	v := maps.Clone(t.Extra)
	if v == nil {
		v = map[string]any{}
	}
	v["access_token"] = t.AccessToken
	if t.TokenType != "" {
		v["token_type"] = t.TokenType
	}
	if !t.Expiry.IsZero() {
		v["expires_at"] = t.Expiry.UTC().Format(time.RFC3339)
	}
	return v
}

// OAuthConfig renders a connector's oauth2 settings for one integration. redirectURL
// is set only for the authorization_code flow.
func OAuthConfig(ctx context.Context, conn *spec.Connector, config, creds map[string]any, redirectURL string) (*oauth2.Config, error) {
	a := conn.Auth
	if a == nil || a.Type != spec.AuthOAuth2 {
		return nil, fmt.Errorf("provider %s does not use oauth2", conn.Provider)
	}
	plain := map[string]any{"config": orEmpty(config)}
	withCreds := map[string]any{"config": orEmpty(config), "credentials": orEmpty(creds)}
	render := func(key string, t *spec.Template, vars map[string]any) (string, error) {
		if t == nil {
			return "", nil
		}
		s, err := t.RenderString(ctx, vars)
		if err != nil {
			return "", fmt.Errorf("render auth.%s: %w", key, err)
		}
		return s, nil
	}
	tokenURL, err := render("token_url", a.TokenURL, plain)
	if err != nil {
		return nil, err
	}
	authURL, err := render("authorize_url", a.AuthorizeURL, plain)
	if err != nil {
		return nil, err
	}
	id, err := render("client_id", a.ClientID, withCreds)
	if err != nil {
		return nil, err
	}
	secret, err := render("client_secret", a.ClientSecret, withCreds)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, errors.New("auth.client_id is empty: supply the client id")
	}
	style := oauth2.AuthStyleInHeader
	if a.ClientAuth == spec.ClientSecretPost {
		style = oauth2.AuthStyleInParams
	}
	return &oauth2.Config{
		ClientID:     id,
		ClientSecret: secret,
		Endpoint:     oauth2.Endpoint{TokenURL: tokenURL, AuthURL: authURL, AuthStyle: style},
		RedirectURL:  redirectURL,
		Scopes:       a.Scopes,
	}, nil
}

// TokenParams renders the connector's extra token-request fields.
func TokenParams(ctx context.Context, conn *spec.Connector, config, creds map[string]any) ([]oauth2.AuthCodeOption, map[string]string, error) {
	vars := map[string]any{"config": orEmpty(config), "credentials": orEmpty(creds)}
	var opts []oauth2.AuthCodeOption
	params := map[string]string{}
	for _, k := range conn.Auth.TokenParams.Keys {
		v, err := conn.Auth.TokenParams.Map[k].RenderString(ctx, vars)
		if err != nil {
			return nil, nil, fmt.Errorf("render auth.token_params.%s: %w", k, err)
		}
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
		params[k] = v
	}
	return opts, params, nil
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
