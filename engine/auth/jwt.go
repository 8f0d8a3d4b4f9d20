package auth

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"

	"github.com/intakehq/intake/engine/spec"
)

// jwtBearer obtains an access token with the JWT bearer grant (RFC 7523): an assertion
// signed with the integration's private key (RS256) is the whole of the request, so
// there is no refresh token; a new assertion gets a new token.
func (s *oauthSource) jwtBearer(ctx context.Context, creds map[string]any) (TokenState, error) {
	a := s.opts.Connector.Auth
	plain := map[string]any{"config": orEmpty(s.opts.Config)}
	vars := map[string]any{"config": orEmpty(s.opts.Config), "credentials": orEmpty(creds)}
	render := func(key string, t *spec.Template, vars map[string]any) (string, error) {
		if t == nil {
			return "", nil
		}
		v, err := t.RenderString(ctx, vars)
		if err != nil {
			return "", &Error{Permanent: true, Err: fmt.Errorf("render auth.%s: %w", key, err)}
		}
		return strings.TrimSpace(v), nil
	}
	fields := map[string]string{}
	for _, f := range []struct {
		key  string
		t    *spec.Template
		vars map[string]any
	}{{"token_url", a.TokenURL, plain}, {"issuer", a.Issuer, vars}, {"subject", a.Subject, vars}, {"audience", a.Audience, vars},
		{"private_key", a.PrivateKey, vars}, {"private_key_id", a.PrivateKeyID, vars}} {
		v, err := render(f.key, f.t, f.vars)
		if err != nil {
			return TokenState{}, err
		}
		fields[f.key] = v
	}
	if fields["issuer"] == "" {
		return TokenState{}, &Error{Permanent: true, Err: fmt.Errorf("auth.issuer is empty: supply the credential it reads (%s)", a.Issuer.Src)}
	}
	key, err := parsePrivateKey(fields["private_key"])
	if err != nil {
		return TokenState{}, &Error{Permanent: true, Err: err}
	}
	// Expires stays unset: golang.org/x/oauth2/jws then makes exp exactly an hour after
	// iat (backdated 10s for clock skew), the longest Google accepts.
	cfg := &jwt.Config{Email: fields["issuer"], PrivateKey: key, PrivateKeyID: fields["private_key_id"], Subject: fields["subject"],
		Scopes: a.Scopes, TokenURL: fields["token_url"], Audience: fields["audience"]}
	capture := &captureTransport{base: s.opts.HTTP.Transport}
	hc := *s.opts.HTTP
	hc.Transport = capture
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &hc)
	var lastErr error
	for attempt := 0; attempt <= s.opts.Retries; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, backoff(attempt)); err != nil {
				return TokenState{}, err
			}
		}
		tok, err := cfg.TokenSource(ctx).Token()
		if err == nil {
			return FromOAuth2(tok, "", capture.last()), nil
		}
		lastErr = err
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil {
			withErrorFields(re)
			if re.Response.StatusCode < 500 && re.Response.StatusCode != http.StatusTooManyRequests {
				// A refused assertion (wrong key, unknown issuer, clock skew) stays refused.
				return TokenState{}, &Error{Permanent: true, Err: describe(re)}
			}
			lastErr = describe(re)
		}
		if ctx.Err() != nil {
			return TokenState{}, ctx.Err()
		}
	}
	return TokenState{}, &Error{Err: lastErr}
}

// parsePrivateKey checks the key before it signs anything, so a pasted key that lost
// its line breaks is reported as such rather than as a token endpoint failure. It
// returns the PEM text, line breaks restored.
func parsePrivateKey(s string) ([]byte, error) {
	if !strings.Contains(s, "\n") && strings.Contains(s, `\n`) {
		// Copied out of a service account JSON file with its escapes.
		s = strings.ReplaceAll(s, `\n`, "\n")
	}
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("auth.private_key is not a PEM private key (-----BEGIN PRIVATE KEY----- ...)")
	}
	var err error
	var k any
	if k, err = x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("auth.private_key: not a PKCS#8 or PKCS#1 key: %w", err)
	}
	if _, ok := k.(*rsa.PrivateKey); !ok {
		return nil, fmt.Errorf("auth.private_key is a %T; the jwt_bearer grant signs with RS256, which needs an RSA key", k)
	}
	return []byte(s), nil
}

// withErrorFields reads error and error_description out of a refusal: the JWT flow of
// golang.org/x/oauth2 leaves them in the body.
func withErrorFields(re *oauth2.RetrieveError) {
	if re.ErrorCode != "" {
		return
	}
	var body struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if json.Unmarshal(re.Body, &body) == nil {
		re.ErrorCode, re.ErrorDescription = body.Error, body.ErrorDescription
	}
}
