package oauthflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/intakehq/intake/engine/auth"
	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/store"
)

// connectTimeout bounds a code exchange and the saving of its integration.
const connectTimeout = 2 * time.Minute

// callback uses up the state, exchanges the code and stores the integration.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		h.page(w, http.StatusBadRequest, "Invalid callback", "The callback could not be read.", "")
		return
	}
	q := r.Form
	stateParam := q.Get("state")
	if stateParam == "" {
		h.log.Warn("oauth callback refused: no state")
		h.page(w, http.StatusBadRequest, "Invalid callback", "The callback carries no state, so it cannot be matched to a connection that was started here.", "Start again from the link you were given.")
		return
	}
	// The state is used up before anything else, whatever happens next: a callback
	// is honoured at most once.
	st, stateErr := h.store.ConsumeOAuthState(ctx, stateParam, h.now(), h.box)
	log := h.log
	if st != nil {
		log = log.With("provider", st.Provider, "customer", st.CustomerID)
	}

	if code := q.Get("error"); code != "" {
		desc := truncate(q.Get("error_description"), 300)
		log.Warn("oauth callback: the provider returned an error", "error", truncate(code, 100), "description", desc)
		msg := "The provider did not grant access (" + truncate(code, 100)
		if desc != "" {
			msg += ": " + desc
		}
		msg += ")."
		title := "Not connected"
		if code == "access_denied" {
			title = "Access was not granted"
		}
		h.page(w, http.StatusBadRequest, title, msg, "Nothing was connected. To try again, start again from the link you were given.")
		return
	}

	if stateErr != nil {
		var title, msg string
		switch {
		case errors.Is(stateErr, store.ErrStateUnknown):
			title, msg = "Unknown connection attempt", "This callback does not match any connection started here (unknown state)."
		case errors.Is(stateErr, store.ErrStateUsed):
			title, msg = "Link already used", "This connection attempt was already completed or abandoned (the state was already used); each one can be used only once."
		case errors.Is(stateErr, store.ErrStateExpired):
			title, msg = "Connection attempt expired", fmt.Sprintf("This connection attempt expired: it must be completed within %s of starting.", StateTTL)
		default:
			h.fail(w, log, "oauth callback: read state", stateErr)
			return
		}
		log.Warn("oauth callback refused", "reason", stateErr.Error())
		h.page(w, http.StatusBadRequest, title, msg, "Start again from the link you were given.")
		return
	}
	code := q.Get("code")
	if code == "" {
		log.Warn("oauth callback refused: no code")
		h.page(w, http.StatusBadRequest, "Invalid callback", "The provider sent no authorization code.", "Start again from the link you were given.")
		return
	}

	// The state is spent and the code is single-use at the provider: finish even if
	// the browser goes away, so that an issued token is never lost half-way.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), connectTimeout)
	defer cancel()
	id, created, err := h.connect(cctx, st, code, log)
	if err != nil {
		h.fail(w, log, "oauth callback", err)
		return
	}
	action := "updated"
	if created {
		action = "created"
	}
	log.Info("oauth connected", "integration", id, "action", action)
	h.page(w, http.StatusOK, "Connected",
		fmt.Sprintf("Connected %s for %s: integration %s. You can close this window.", st.Provider, st.CustomerID, id), "")
}

// connect exchanges the code and creates or updates the integration.
func (h *Handler) connect(ctx context.Context, st *store.OAuthState, code string, log *slog.Logger) (string, bool, error) {
	conn, err := h.catalog.Get(st.Provider)
	if err != nil {
		return "", false, fmt.Errorf("provider %s: %w", st.Provider, err)
	}
	app, err := h.store.OAuthApp(ctx, st.Provider, h.box)
	if err != nil {
		return "", false, err
	}
	creds := appCredentials(app)
	red := secret.NewRedactor(code, st.CodeVerifier, app.ClientSecret)
	oc, err := auth.OAuthConfig(ctx, conn, st.Config, creds, st.RedirectURL)
	if err != nil {
		return "", false, red.Error(err)
	}
	params, _, err := auth.TokenParams(ctx, conn, st.Config, creds)
	if err != nil {
		return "", false, red.Error(err)
	}
	capture := &captureTransport{base: h.client.Transport}
	if capture.base == nil {
		capture.base = http.DefaultTransport
	}
	client := *h.client
	client.Transport = capture
	opts := append([]oauth2.AuthCodeOption{oauth2.VerifierOption(st.CodeVerifier)}, params...)
	tok, err := oc.Exchange(context.WithValue(ctx, oauth2.HTTPClient, &client), code, opts...)
	if err != nil {
		return "", false, tokenFailure(st.Provider, err, red)
	}
	raw := capture.fields()
	red.Add(tok.AccessToken, tok.RefreshToken)
	if scope, ok := raw["scope"].(string); ok {
		log = log.With("scope", scope)
	}
	log.Debug("oauth token obtained", "has_refresh_token", tok.RefreshToken != "", "expires_at", tok.Expiry)

	id := st.IntegrationID
	if id == "" {
		id = defaultIntegrationID(st.CustomerID, st.Provider)
	}
	for range 3 {
		in, err := h.existing(ctx, id, st.CustomerID, st.Provider)
		if err != nil {
			return "", false, err
		}
		if in == nil {
			c := auth.WithToken(creds, auth.FromOAuth2(tok, "", raw))
			err = h.store.CreateIntegration(ctx, store.Integration{ID: id, CustomerID: st.CustomerID, Provider: st.Provider, Config: st.Config}, c, h.box)
			if errors.Is(err, store.ErrExists) {
				continue // created meanwhile: update it
			}
			if err != nil {
				return "", false, red.Error(err)
			}
			return id, true, nil
		}
		err = h.update(ctx, id, st.Config, creds, tok, raw)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile: create it
		}
		if err != nil {
			return "", false, red.Error(err)
		}
		return id, false, nil
	}
	return "", false, fmt.Errorf("integration %s kept changing while it was being saved", id)
}

// update replaces an existing integration's config and its token, keeping its other
// credentials and, when the provider sent none, its refresh token. Credentials are
// swapped by version, so a refresh running at the same time cannot overwrite them
// with its older token.
func (h *Handler) update(ctx context.Context, id string, config, appCreds map[string]any, tok *oauth2.Token, raw map[string]any) error {
	for range 5 {
		vc, err := h.store.LoadCredentials(ctx, id, h.box)
		if err != nil {
			return err
		}
		prevRefresh := ""
		if t, ok := auth.TokenFromCredentials(vc.Values); ok {
			prevRefresh = t.RefreshToken
		}
		merged := maps.Clone(vc.Values)
		if merged == nil {
			merged = map[string]any{}
		}
		maps.Copy(merged, appCreds)
		merged = auth.WithToken(merged, auth.FromOAuth2(tok, prevRefresh, raw))
		_, err = h.store.SaveCredentials(ctx, id, merged, vc.Version, "", h.box)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		if err := h.store.UpdateIntegration(ctx, id, config, nil, h.box); err != nil {
			return err
		}
		// Reconnecting is how a customer fixes credentials that failed: an integration
		// that auth failures disabled is enabled again.
		return h.store.SetIntegrationStatus(ctx, id, store.StatusEnabled, "")
	}
	return fmt.Errorf("integration %s: credentials kept changing while they were being saved", id)
}

// tokenFailure explains a failed code exchange without repeating any secret.
func tokenFailure(provider string, err error, red *secret.Redactor) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return &exchangeError{
			userError: userError{status: http.StatusBadGateway, title: "Could not complete the connection",
				msg:  fmt.Sprintf("intake could not obtain a token from %s.", provider),
				hint: "Try again in a few minutes; if it keeps failing, tell the operator of this service."},
			reason: red.String(err.Error()),
		}
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	code := truncate(re.ErrorCode, 100)
	desc := red.String(truncate(re.ErrorDescription, 300))
	detail := code
	if desc != "" {
		detail += ": " + desc
	}
	e := &exchangeError{
		userError: userError{status: http.StatusBadGateway},
		reason:    fmt.Sprintf("token endpoint answered HTTP %d", status),
	}
	if code != "" {
		e.reason += fmt.Sprintf(", error %q", code)
	}
	if desc != "" {
		e.reason += fmt.Sprintf(", description %q", desc)
	}
	switch {
	case code == "invalid_grant":
		e.title = "Authorization refused"
		e.msg = fmt.Sprintf("%s refused the authorization code (%s). It may have expired or been used already.", provider, detail)
		e.hint = "Start again from the link you were given."
	case code == "invalid_client" || code == "unauthorized_client":
		e.title = "Connection not set up correctly"
		e.msg = fmt.Sprintf("%s rejected this service's OAuth app (%s).", provider, detail)
		e.hint = "Please tell the operator of this service: the OAuth app's client id, secret or client authentication may be wrong."
	case code != "":
		e.title = "Could not complete the connection"
		e.msg = fmt.Sprintf("%s refused to issue a token (%s).", provider, detail)
		e.hint = "Start again from the link you were given."
	case status >= 500:
		e.title = "Provider unavailable"
		e.msg = fmt.Sprintf("%s's token endpoint failed (HTTP %d).", provider, status)
		e.hint = "Try again in a few minutes from the link you were given."
	default:
		e.title = "Could not complete the connection"
		e.msg = fmt.Sprintf("%s's token endpoint answered HTTP %d without a token.", provider, status)
		e.hint = "Try again in a few minutes; if it keeps failing, tell the operator of this service."
	}
	return e
}

// exchangeError is a token endpoint failure: a page for the browser, a reason for
// the log.
type exchangeError struct {
	userError
	reason string
}

func (e *exchangeError) Error() string { return e.reason }

// captureTransport keeps the token response's body, so that every field of it
// (instance_url, scope, ...) is kept with the token.
type captureTransport struct {
	base        http.RoundTripper
	mu          sync.Mutex
	body        []byte
	contentType string
}

func (c *captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.body, c.contentType = body, resp.Header.Get("Content-Type")
	c.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// fields decodes the captured token response as oauth2 does: a form when the
// provider says so, JSON otherwise.
func (c *captureTransport) fields() map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]any{}
	media, _, _ := mime.ParseMediaType(c.contentType)
	if media == "application/x-www-form-urlencoded" || media == "text/plain" {
		vals, err := url.ParseQuery(string(c.body))
		if err != nil {
			return nil
		}
		for k := range vals {
			out[k] = vals.Get(k)
		}
		return out
	}
	dec := json.NewDecoder(bytes.NewReader(c.body))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil
	}
	return out
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
