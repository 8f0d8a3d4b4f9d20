package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/intakehq/intake/engine/secret"
)

// Integration statuses.
const (
	StatusEnabled  = "enabled"
	StatusDisabled = "disabled"
)

// Integration is one customer's authorised connection to one provider.
type Integration struct {
	ID         string
	CustomerID string
	Provider   string
	Status     string
	Config     map[string]any
	KeyID      string // key that sealed the credentials; "" when there are none
	HasSecrets bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// LeaseOwner is the daemon syncing the integration while LeaseExpiresAt is in
	// the future; "" when none holds it.
	LeaseOwner     string
	LeaseExpiresAt time.Time
}

// ErrExists is returned when creating a row whose id is taken.
var ErrExists = errors.New("already exists")

// CreateIntegration stores a new integration, creating its customer if needed.
// Credentials are sealed with box, bound to the integration id.
func (s *Store) CreateIntegration(ctx context.Context, in Integration, creds map[string]any, box *secret.Box) error {
	cfg, err := json.Marshal(nonNil(in.Config))
	if err != nil {
		return fmt.Errorf("create integration %s: config: %w", in.ID, err)
	}
	sealed, keyID, err := seal(in.ID, creds, box)
	if err != nil {
		return fmt.Errorf("create integration %s: %w", in.ID, err)
	}
	if in.Status == "" {
		in.Status = StatusEnabled
	}
	now := s.ts()
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO customers (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`, in.CustomerID, in.CustomerID, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO integrations (id, customer_id, provider, status, config, credentials, key_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			in.ID, in.CustomerID, in.Provider, in.Status, string(cfg), sealed, nullStr(keyID), now, now)
		if isUniqueViolation(err) {
			return fmt.Errorf("integration %q: %w", in.ID, ErrExists)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("create integration %s: %w", in.ID, err)
	}
	if in.Status == StatusEnabled {
		s.notify(ctx)
	}
	return nil
}

// UpdateIntegration replaces the config and, when creds is not nil, the credentials.
func (s *Store) UpdateIntegration(ctx context.Context, id string, config map[string]any, creds map[string]any, box *secret.Box) error {
	cfg, err := json.Marshal(nonNil(config))
	if err != nil {
		return fmt.Errorf("update integration %s: config: %w", id, err)
	}
	var res sql.Result
	if creds != nil {
		sealed, keyID, err := seal(id, creds, box)
		if err != nil {
			return fmt.Errorf("update integration %s: %w", id, err)
		}
		res, err = s.db.ExecContext(ctx, `UPDATE integrations SET config = ?, credentials = ?, key_id = ?, updated_at = ? WHERE id = ?`, string(cfg), sealed, nullStr(keyID), s.ts(), id)
		if err != nil {
			return fmt.Errorf("update integration %s: %w", id, err)
		}
	} else {
		res, err = s.db.ExecContext(ctx, `UPDATE integrations SET config = ?, updated_at = ? WHERE id = ?`, string(cfg), s.ts(), id)
		if err != nil {
			return fmt.Errorf("update integration %s: %w", id, err)
		}
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update integration %s: %w", id, ErrNotFound)
	}
	return nil
}

func seal(id string, creds map[string]any, box *secret.Box) ([]byte, string, error) {
	if len(creds) == 0 {
		return nil, "", nil
	}
	if box == nil {
		return nil, "", fmt.Errorf("credentials: %w", secret.ErrNoKey)
	}
	plain, err := json.Marshal(creds)
	if err != nil {
		return nil, "", fmt.Errorf("credentials: %w", err)
	}
	sealed, err := box.Seal(plain, []byte("integration:"+id))
	if err != nil {
		return nil, "", fmt.Errorf("seal credentials: %w", err)
	}
	return sealed, box.KeyID(), nil
}

const integrationCols = `id, customer_id, provider, status, config, key_id, credentials IS NOT NULL, created_at, updated_at, lease_owner, lease_expires_at`

func scanIntegration(row interface{ Scan(...any) error }) (*Integration, error) {
	var in Integration
	var cfg string
	var keyID, created, updated, leaseOwner, leaseUntil sql.NullString
	if err := row.Scan(&in.ID, &in.CustomerID, &in.Provider, &in.Status, &cfg, &keyID, &in.HasSecrets, &created, &updated, &leaseOwner, &leaseUntil); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(cfg), &in.Config); err != nil {
		return nil, fmt.Errorf("integration %s: config: %w", in.ID, err)
	}
	in.KeyID = keyID.String
	in.CreatedAt, in.UpdatedAt = parseTS(created), parseTS(updated)
	in.LeaseOwner, in.LeaseExpiresAt = leaseOwner.String, parseTS(leaseUntil)
	return &in, nil
}

// Integration returns one integration without its credentials.
func (s *Store) Integration(ctx context.Context, id string) (*Integration, error) {
	in, err := scanIntegration(s.db.QueryRowContext(ctx, `SELECT `+integrationCols+` FROM integrations WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("integration %q: %w", id, ErrNotFound)
	}
	return in, err
}

// Integrations lists every integration, by customer then id.
func (s *Store) Integrations(ctx context.Context) ([]*Integration, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+integrationCols+` FROM integrations ORDER BY customer_id, id`)
	if err != nil {
		return nil, fmt.Errorf("list integrations: %w", err)
	}
	defer rows.Close()
	var out []*Integration
	for rows.Next() {
		in, err := scanIntegration(rows)
		if err != nil {
			return nil, fmt.Errorf("list integrations: %w", err)
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

// Credentials opens an integration's sealed credentials.
func (s *Store) Credentials(ctx context.Context, id string, box *secret.Box) (map[string]any, error) {
	var sealed []byte
	var keyID sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT credentials, key_id FROM integrations WHERE id = ?`, id).Scan(&sealed, &keyID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("integration %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read credentials of %s: %w", id, err)
	}
	if sealed == nil {
		return map[string]any{}, nil
	}
	if box == nil {
		return nil, fmt.Errorf("read credentials of %s: %w", id, secret.ErrNoKey)
	}
	if keyID.String != box.KeyID() {
		return nil, fmt.Errorf("read credentials of %s: they were sealed with key %s but the configured key is %s; set the key they were stored with", id, keyID.String, box.KeyID())
	}
	plain, err := box.Open(sealed, []byte("integration:"+id))
	if err != nil {
		return nil, fmt.Errorf("read credentials of %s: %w", id, err)
	}
	var creds map[string]any
	if err := json.Unmarshal(plain, &creds); err != nil {
		return nil, fmt.Errorf("read credentials of %s: %w", id, err)
	}
	return creds, nil
}

func nonNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func nullStr(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// nullID is a row id, NULL for 0.
func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

// textArg and idArg are nullStr and nullID as plain driver values, for the rows a page
// writes in batches: database/sql binds a sql.NullString through its Value method, two
// allocations more for each of hundreds of parameters a statement.
func textArg(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func idArg(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}
