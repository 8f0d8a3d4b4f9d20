package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/intakehq/intake/engine/secret"
)

// OAuthApp is the operator's OAuth app registration with one provider, used to
// connect customers with the authorization-code flow.
type OAuthApp struct {
	Provider string
	ClientID string
	// ClientSecret is filled only by OAuthApp (opened with the key); never by OAuthApps.
	ClientSecret string
	KeyID        string // key that sealed the client secret
	RedirectURL  string // "" means <public URL>/oauth/callback of the server
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func oauthAppAD(provider string) []byte { return []byte("oauth_app:" + provider) }

// SetOAuthApp creates or replaces the OAuth app of app.Provider, sealing its client
// secret with box.
func (s *Store) SetOAuthApp(ctx context.Context, app OAuthApp, box *secret.Box) error {
	if app.Provider == "" || app.ClientID == "" {
		return errors.New("set oauth app: provider and client id are required")
	}
	if app.ClientSecret == "" {
		return fmt.Errorf("set oauth app %s: the client secret is empty", app.Provider)
	}
	if box == nil {
		return fmt.Errorf("set oauth app %s: %w", app.Provider, secret.ErrNoKey)
	}
	sealed, err := box.Seal([]byte(app.ClientSecret), oauthAppAD(app.Provider))
	if err != nil {
		return fmt.Errorf("set oauth app %s: seal client secret: %w", app.Provider, err)
	}
	now := s.ts()
	_, err = s.db.ExecContext(ctx, `INSERT INTO oauth_apps (provider, client_id, client_secret, key_id, redirect_url, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (provider) DO UPDATE SET client_id = excluded.client_id, client_secret = excluded.client_secret,
			key_id = excluded.key_id, redirect_url = excluded.redirect_url, updated_at = excluded.updated_at`,
		app.Provider, app.ClientID, sealed, box.KeyID(), nullStr(app.RedirectURL), now, now)
	if err != nil {
		return fmt.Errorf("set oauth app %s: %w", app.Provider, err)
	}
	return nil
}

const oauthAppCols = `provider, client_id, key_id, redirect_url, created_at, updated_at`

func scanOAuthApp(row interface{ Scan(...any) error }, extra ...any) (*OAuthApp, error) {
	var app OAuthApp
	var redirect, created, updated sql.NullString
	dest := append([]any{&app.Provider, &app.ClientID, &app.KeyID, &redirect, &created, &updated}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	app.RedirectURL = redirect.String
	app.CreatedAt, app.UpdatedAt = parseTS(created), parseTS(updated)
	return &app, nil
}

// OAuthApp returns the OAuth app of a provider with its client secret opened.
// ErrNotFound when none is configured.
func (s *Store) OAuthApp(ctx context.Context, provider string, box *secret.Box) (*OAuthApp, error) {
	var sealed []byte
	app, err := scanOAuthApp(s.db.QueryRowContext(ctx, `SELECT `+oauthAppCols+`, client_secret FROM oauth_apps WHERE provider = ?`, provider), &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("oauth app of %q: %w", provider, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("oauth app of %s: %w", provider, err)
	}
	if box == nil {
		return nil, fmt.Errorf("oauth app of %s: %w", provider, secret.ErrNoKey)
	}
	if app.KeyID != box.KeyID() {
		return nil, fmt.Errorf("oauth app of %s: its client secret was sealed with key %s but the configured key is %s; set the key it was stored with, or set the app again", provider, app.KeyID, box.KeyID())
	}
	plain, err := box.Open(sealed, oauthAppAD(provider))
	if err != nil {
		return nil, fmt.Errorf("oauth app of %s: client secret: %w", provider, err)
	}
	app.ClientSecret = string(plain)
	return app, nil
}

// OAuthApps lists the OAuth apps by provider, without their client secrets.
func (s *Store) OAuthApps(ctx context.Context) ([]*OAuthApp, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+oauthAppCols+` FROM oauth_apps ORDER BY provider`)
	if err != nil {
		return nil, fmt.Errorf("list oauth apps: %w", err)
	}
	defer rows.Close()
	var out []*OAuthApp
	for rows.Next() {
		app, err := scanOAuthApp(rows)
		if err != nil {
			return nil, fmt.Errorf("list oauth apps: %w", err)
		}
		out = append(out, app)
	}
	return out, rows.Err()
}

// DeleteOAuthApp removes the OAuth app of a provider. Integrations already connected
// keep the client id and secret they were given.
func (s *Store) DeleteOAuthApp(ctx context.Context, provider string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM oauth_apps WHERE provider = ?`, provider)
	if err != nil {
		return fmt.Errorf("delete oauth app %s: %w", provider, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("oauth app of %q: %w", provider, ErrNotFound)
	}
	return nil
}

// OAuthState is one started authorization, waiting for its callback.
type OAuthState struct {
	State         string
	Provider      string
	CustomerID    string
	IntegrationID string // "" means the default id, CUSTOMER-PROVIDER
	Config        map[string]any
	CodeVerifier  string // PKCE (RFC 7636); sealed at rest
	RedirectURL   string
	CreatedAt     time.Time
	ExpiresAt     time.Time
}

// Why a state cannot be used.
var (
	ErrStateUnknown = errors.New("unknown state")
	ErrStateUsed    = errors.New("state already used")
	ErrStateExpired = errors.New("state expired")
)

func oauthStateAD(state string) []byte { return []byte("oauth_state:" + state) }

// CreateOAuthState stores a started authorization, sealing its code verifier.
func (s *Store) CreateOAuthState(ctx context.Context, st OAuthState, box *secret.Box) error {
	if st.State == "" || st.Provider == "" || st.CustomerID == "" || st.CodeVerifier == "" || st.RedirectURL == "" || st.ExpiresAt.IsZero() {
		return errors.New("create oauth state: state, provider, customer, code verifier, redirect URL and expiry are required")
	}
	if box == nil {
		return fmt.Errorf("create oauth state: %w", secret.ErrNoKey)
	}
	cfg, err := json.Marshal(nonNil(st.Config))
	if err != nil {
		return fmt.Errorf("create oauth state: config: %w", err)
	}
	sealed, err := box.Seal([]byte(st.CodeVerifier), oauthStateAD(st.State))
	if err != nil {
		return fmt.Errorf("create oauth state: seal code verifier: %w", err)
	}
	created := st.CreatedAt
	if created.IsZero() {
		created = s.now()
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO oauth_states (state, provider, customer_id, integration_id, config, code_verifier, redirect_url, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		st.State, st.Provider, st.CustomerID, nullStr(st.IntegrationID), string(cfg), sealed, st.RedirectURL, formatTS(created), formatTS(st.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create oauth state: %w", err)
	}
	return nil
}

// ConsumeOAuthState uses up a state: it returns the state with its code verifier
// opened, and marks it used (erasing the verifier) in the same transaction, so that
// a state is honoured at most once. A state already used is ErrStateUsed; one whose
// expiry is not after now is ErrStateExpired (and is used up all the same); one never
// created, or pruned, is ErrStateUnknown.
func (s *Store) ConsumeOAuthState(ctx context.Context, state string, now time.Time, box *secret.Box) (*OAuthState, error) {
	if box == nil {
		return nil, fmt.Errorf("use oauth state: %w", secret.ErrNoKey)
	}
	var (
		st                    OAuthState
		integration, used     sql.NullString
		cfg, created, expires string
		sealed                []byte
	)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT state, provider, customer_id, integration_id, config, code_verifier, redirect_url, created_at, expires_at, used_at
			FROM oauth_states WHERE state = ?`, state).
			Scan(&st.State, &st.Provider, &st.CustomerID, &integration, &cfg, &sealed, &st.RedirectURL, &created, &expires, &used)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrStateUnknown
		}
		if err != nil {
			return err
		}
		if used.Valid {
			return ErrStateUsed
		}
		res, err := tx.ExecContext(ctx, `UPDATE oauth_states SET used_at = ?, code_verifier = NULL WHERE state = ? AND used_at IS NULL`, formatTS(now), state)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrStateUsed
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("use oauth state: %w", err)
	}
	st.IntegrationID = integration.String
	st.CreatedAt, _ = time.Parse(time.RFC3339Nano, created)
	st.ExpiresAt, _ = time.Parse(time.RFC3339Nano, expires)
	if !now.Before(st.ExpiresAt) {
		return nil, fmt.Errorf("use oauth state: %w", ErrStateExpired)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(cfg)))
	dec.UseNumber()
	if err := dec.Decode(&st.Config); err != nil {
		return nil, fmt.Errorf("use oauth state: config: %w", err)
	}
	plain, err := box.Open(sealed, oauthStateAD(state))
	if err != nil {
		return nil, fmt.Errorf("use oauth state: code verifier: %w", err)
	}
	st.CodeVerifier = string(plain)
	return &st, nil
}

// PruneOAuthStates deletes the states that expired before before, used or not, and
// returns how many it deleted.
func (s *Store) PruneOAuthStates(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM oauth_states WHERE expires_at < ?`, formatTS(before))
	if err != nil {
		return 0, fmt.Errorf("prune oauth states: %w", err)
	}
	return res.RowsAffected()
}
