// Package oauthflow connects a customer's account to a provider with the OAuth2
// authorization-code flow (RFC 6749 section 4.1) and PKCE (RFC 7636), then stores the
// resulting integration with its token sealed in the credentials.
//
// The Handler serves two endpoints:
//
//	GET /oauth/{provider}/start?customer=C[&integration=ID][&config.KEY=VALUE...]
//	GET /oauth/callback?code=...&state=...     (also POST, for response_mode=form_post)
//
// Start records a single-use, short-lived state with a PKCE code verifier and
// redirects the browser to the provider's authorize URL. The callback uses up the
// state, exchanges the code for a token at the provider's token URL, and creates or
// updates the integration. Keeping the token fresh afterwards is the engine's job
// (engine/auth).
package oauthflow

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

// StateTTL is how long a started authorization may wait for its callback.
const StateTTL = 10 * time.Minute

// CallbackPath is the redirect URL's path, under the public URL.
const CallbackPath = "/oauth/callback"

// Options configure a Handler.
type Options struct {
	Store   *store.Store
	Box     *secret.Box   // seals the states' code verifiers and the integrations' credentials
	Catalog *spec.Catalog // where providers are found
	// PublicURL is where browsers reach this handler, e.g. https://connect.example.com;
	// the redirect URL is PublicURL + /oauth/callback unless the provider's OAuth app
	// names its own. When empty it is derived from each request's Host (local use only).
	PublicURL  string
	HTTPClient *http.Client // for the token endpoint; default: 30s timeout
	Logger     *slog.Logger // default: discard
	Now        func() time.Time
}

// Handler serves the start and callback endpoints. Mount it at the root of a mux
// (mux.Handle("/oauth/", h)): it routes on the full path.
type Handler struct {
	store     *store.Store
	box       *secret.Box
	catalog   *spec.Catalog
	publicURL string
	client    *http.Client
	log       *slog.Logger
	now       func() time.Time
	mux       *http.ServeMux
}

// New returns a Handler.
func New(opts Options) *Handler {
	h := &Handler{
		store:     opts.Store,
		box:       opts.Box,
		catalog:   opts.Catalog,
		publicURL: strings.TrimRight(opts.PublicURL, "/"),
		client:    opts.HTTPClient,
		log:       opts.Logger,
		now:       opts.Now,
	}
	if h.client == nil {
		h.client = &http.Client{Timeout: 30 * time.Second}
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("GET /oauth/{provider}/start", h.start)
	h.mux.HandleFunc("GET "+CallbackPath, h.callback)
	h.mux.HandleFunc("POST "+CallbackPath, h.callback)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.page(w, http.StatusNotFound, "Not found", "There is nothing here. Connection links look like /oauth/PROVIDER/start?customer=CUSTOMER.", "")
	})
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Codes and states travel in URLs: no page of ours may leak them onwards.
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

// StartURL returns the start link of a provider for a customer (no config), as
// served under publicURL.
func StartURL(publicURL, provider, customer string) string {
	return strings.TrimRight(publicURL, "/") + "/oauth/" + url.PathEscape(provider) + "/start?" + url.Values{"customer": {customer}}.Encode()
}

// redirectURL is where the provider sends the browser back.
func (h *Handler) redirectURL(r *http.Request, app *store.OAuthApp) string {
	if app.RedirectURL != "" {
		return app.RedirectURL
	}
	base := h.publicURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	return base + CallbackPath
}

// idRe is what customer and integration ids given in a link may look like.
var idRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$`)

func checkID(what, id string) error {
	if !idRe.MatchString(id) {
		return fmt.Errorf("%s must be 1 to 128 letters, digits, '.', '_', '@', ':' or '-', starting with a letter or digit", what)
	}
	return nil
}

// newState returns 32 random bytes, base64url without padding.
func newState() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// defaultIntegrationID is the id an integration gets when the link names none.
func defaultIntegrationID(customer, provider string) string { return customer + "-" + provider }

// existing returns the integration id a connection targets and, when it exists, the
// integration; an existing integration of another customer or provider is an error.
func (h *Handler) existing(ctx context.Context, id, customer, provider string) (*store.Integration, error) {
	in, err := h.store.Integration(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if in.CustomerID != customer || in.Provider != provider {
		return nil, &userError{status: http.StatusConflict, title: "Integration id taken",
			msg:  fmt.Sprintf("Integration %s exists and belongs to another customer or provider.", id),
			hint: "Use a link with another integration= id."}
	}
	return in, nil
}

// userError is a failure explained to the person in the browser.
type userError struct {
	status           int
	title, msg, hint string
}

func (e *userError) Error() string { return e.msg }
