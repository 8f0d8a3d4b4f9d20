package oauthflow

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"sort"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/intakehq/intake/engine/auth"
	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

const configPrefix = "config."

// start records a state and sends the browser to the provider's authorize URL.
func (h *Handler) start(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	provider := r.PathValue("provider")
	log := h.log.With("provider", provider)

	conn, err := h.catalog.Get(provider)
	if err != nil {
		log.Warn("oauth start refused: unknown provider")
		h.page(w, http.StatusNotFound, "Unknown provider", fmt.Sprintf("intake has no connector for provider %q.", provider), "Check the link you followed.")
		return
	}
	if a := conn.Auth; a == nil || a.Type != spec.AuthOAuth2 || a.Grant != spec.GrantAuthorizationCode {
		log.Warn("oauth start refused: provider does not use the authorization_code grant")
		h.page(w, http.StatusBadRequest, "Not an OAuth provider", fmt.Sprintf("Provider %s is not connected through an OAuth authorization (its spec does not use auth type oauth2 with grant authorization_code).", provider), "")
		return
	}
	q := r.URL.Query()
	customer, integration, pairs, uerr := parseStartQuery(conn, q)
	if uerr != nil {
		log.Warn("oauth start refused: bad link", "reason", uerr.msg)
		h.page(w, uerr.status, uerr.title, uerr.msg, uerr.hint)
		return
	}
	log = log.With("customer", customer)

	id := integration
	if id == "" {
		id = defaultIntegrationID(customer, provider)
	}
	in, err := h.existing(ctx, id, customer, provider)
	if err != nil {
		h.fail(w, log, "oauth start", err)
		return
	}

	// A reconnect keeps the integration's config; values in the link replace it.
	vals := map[string]any{}
	if in != nil {
		for k, v := range in.Config {
			if _, ok := conn.Config.Get(k); ok {
				vals[k] = v
			}
		}
	}
	given, err := conn.ConvertPairs(pairs)
	if err != nil {
		log.Warn("oauth start refused: bad config", "reason", err.Error())
		h.page(w, http.StatusBadRequest, "Invalid configuration", err.Error()+".", "")
		return
	}
	maps.Copy(vals, given)
	config, err := resolveConfig(conn, vals)
	if err != nil {
		log.Warn("oauth start refused: bad config", "reason", err.Error())
		h.page(w, http.StatusBadRequest, "Invalid configuration", err.Error()+".", "Add the missing values to the link as config.KEY=VALUE.")
		return
	}

	app, err := h.store.OAuthApp(ctx, provider, h.box)
	if errors.Is(err, store.ErrNotFound) {
		log.Error("oauth start: no OAuth app configured; run `intake oauth app set --provider " + provider + "`")
		h.page(w, http.StatusServiceUnavailable, "Not set up yet", fmt.Sprintf("Connecting %s is not set up yet: intake has no OAuth app for it.", provider), "Please tell the operator of this service.")
		return
	}
	if err != nil {
		h.fail(w, log, "oauth start: read OAuth app", err)
		return
	}
	redirect := h.redirectURL(r, app)
	oc, err := auth.OAuthConfig(ctx, conn, config, appCredentials(app), redirect)
	if err == nil && oc.Endpoint.AuthURL == "" {
		err = errors.New("auth.authorize_url rendered empty")
	}
	if err != nil {
		h.fail(w, log, "oauth start: render OAuth settings", secret.NewRedactor(app.ClientSecret).Error(err))
		return
	}

	state, err := newState()
	if err != nil {
		h.fail(w, log, "oauth start: random state", err)
		return
	}
	verifier := oauth2.GenerateVerifier()
	now := h.now()
	// Expired states are of no use: drop them as new ones come (used ones stay an
	// hour so that a replay is reported as such).
	if _, err := h.store.PruneOAuthStates(ctx, now.Add(-time.Hour)); err != nil {
		log.Warn("oauth start: prune expired states", "error", err.Error())
	}
	err = h.store.CreateOAuthState(ctx, store.OAuthState{
		State: state, Provider: provider, CustomerID: customer, IntegrationID: integration,
		Config: config, CodeVerifier: verifier, RedirectURL: redirect,
		CreatedAt: now, ExpiresAt: now.Add(StateTTL),
	}, h.box)
	if err != nil {
		h.fail(w, log, "oauth start: save state", err)
		return
	}
	log.Info("oauth start: redirecting to the provider", "integration", id, "redirect_url", redirect)
	http.Redirect(w, r, oc.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.AccessTypeOffline), http.StatusFound)
}

// parseStartQuery reads customer=, integration= and config.KEY= from a start link.
// Credentials are never accepted in a link: URLs end up in browser histories and logs.
func parseStartQuery(conn *spec.Connector, q map[string][]string) (customer, integration string, pairs []string, uerr *userError) {
	bad := func(msg, hint string) (string, string, []string, *userError) {
		return "", "", nil, &userError{status: http.StatusBadRequest, title: "Invalid link", msg: msg, hint: hint}
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if len(q[k]) > 1 {
			return bad(fmt.Sprintf("%s is given %d times.", k, len(q[k])), "Give each parameter once.")
		}
		v := q[k][0]
		switch {
		case k == "customer":
			customer = v
		case k == "integration":
			integration = v
		case strings.HasPrefix(k, configPrefix):
			key := strings.TrimPrefix(k, configPrefix)
			if _, ok := conn.Config.Get(key); !ok {
				if _, isCred := conn.Credentials.Get(key); isCred {
					return bad(fmt.Sprintf("%s is a credential of %s; credentials are never accepted in a link.", key, conn.Provider), "")
				}
				return bad(fmt.Sprintf("%s does not declare config %q (config: %s).", conn.Provider, key, orNone(conn.Config.Keys)), "")
			}
			pairs = append(pairs, key+"="+v)
		default:
			return bad(fmt.Sprintf("Unknown parameter %q.", k), "A link takes customer=, integration= and config.KEY= parameters.")
		}
	}
	if customer == "" {
		return bad("The link names no customer.", "Add customer=CUSTOMER to the link.")
	}
	if err := checkID("customer", customer); err != nil {
		return bad(err.Error()+".", "")
	}
	if integration != "" {
		if err := checkID("integration", integration); err != nil {
			return bad(err.Error()+".", "")
		}
	}
	return customer, integration, pairs, nil
}

// resolveConfig checks config values against the spec's config fields, applies
// defaults and reports missing required ones. Credentials are not its concern: the
// flow supplies them.
func resolveConfig(conn *spec.Connector, vals map[string]any) (map[string]any, error) {
	out := map[string]any{}
	var missing []string
	for _, k := range conn.Config.Keys {
		f := conn.Config.Map[k]
		v, ok := vals[k]
		if !ok {
			if f.Default != nil {
				out[k] = f.Default
			} else if f.IsRequired() {
				missing = append(missing, "config."+k)
			}
			continue
		}
		if err := f.Check(v); err != nil {
			return nil, fmt.Errorf("config.%s: %w", k, err)
		}
		out[k] = v
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s needs %s", conn.Provider, strings.Join(missing, ", "))
	}
	return out, nil
}

func orNone(keys []string) string {
	if len(keys) == 0 {
		return "none"
	}
	return strings.Join(keys, ", ")
}

// appCredentials are what an integration connected with app gets besides its token.
func appCredentials(app *store.OAuthApp) map[string]any {
	return map[string]any{"client_id": app.ClientID, "client_secret": app.ClientSecret}
}
