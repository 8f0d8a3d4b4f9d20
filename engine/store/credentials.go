package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/intakehq/intake/engine/secret"
)

// VersionedCredentials are an integration's credentials with the version that a
// compare-and-swap update must name.
type VersionedCredentials struct {
	Values  map[string]any
	Version int64
}

// LoadCredentials opens an integration's credentials with their version.
func (s *Store) LoadCredentials(ctx context.Context, id string, box *secret.Box) (VersionedCredentials, error) {
	var v int64
	if err := s.db.QueryRowContext(ctx, `SELECT credentials_version FROM integrations WHERE id = ?`, id).Scan(&v); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return VersionedCredentials{}, fmt.Errorf("integration %q: %w", id, ErrNotFound)
		}
		return VersionedCredentials{}, err
	}
	creds, err := s.Credentials(ctx, id, box)
	if err != nil {
		return VersionedCredentials{}, err
	}
	// The version is read before the values: a concurrent update makes the later CAS
	// fail rather than pass with stale values.
	return VersionedCredentials{Values: creds, Version: v}, nil
}

// ErrConflict means a compare-and-swap found a newer version than the one it named.
var ErrConflict = errors.New("credentials changed concurrently")

// SaveCredentials replaces the credentials if their version is still expect, bumps
// the version, and releases owner's refresh lock, in one statement.
func (s *Store) SaveCredentials(ctx context.Context, id string, creds map[string]any, expect int64, owner string, box *secret.Box) (int64, error) {
	sealed, keyID, err := seal(id, creds, box)
	if err != nil {
		return 0, fmt.Errorf("save credentials of %s: %w", id, err)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE integrations SET credentials = ?, key_id = ?, credentials_version = credentials_version + 1, updated_at = ?,
		refresh_lock_owner = CASE WHEN refresh_lock_owner = ? THEN NULL ELSE refresh_lock_owner END,
		refresh_lock_until = CASE WHEN refresh_lock_owner = ? THEN NULL ELSE refresh_lock_until END
		WHERE id = ? AND credentials_version = ?`, sealed, nullStr(keyID), s.ts(), owner, owner, id, expect)
	if err != nil {
		return 0, fmt.Errorf("save credentials of %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return 0, fmt.Errorf("save credentials of %s: %w", id, ErrConflict)
	}
	return expect + 1, nil
}

// AcquireRefreshLock takes the integration's refresh lease for owner until ttl from
// now, when it is free or expired. It reports whether owner holds it.
func (s *Store) AcquireRefreshLock(ctx context.Context, id, owner string, ttl time.Duration) (bool, error) {
	now := s.now()
	res, err := s.db.ExecContext(ctx, `UPDATE integrations SET refresh_lock_owner = ?, refresh_lock_until = ?
		WHERE id = ? AND (refresh_lock_owner IS NULL OR refresh_lock_owner = ? OR refresh_lock_until < ?)`,
		owner, formatTS(now.Add(ttl)), id, owner, formatTS(now))
	if err != nil {
		return false, fmt.Errorf("refresh lock of %s: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ReleaseRefreshLock gives up owner's refresh lease, if owner holds it.
func (s *Store) ReleaseRefreshLock(ctx context.Context, id, owner string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE integrations SET refresh_lock_owner = NULL, refresh_lock_until = NULL WHERE id = ? AND refresh_lock_owner = ?`, id, owner)
	if err != nil {
		return fmt.Errorf("release refresh lock of %s: %w", id, err)
	}
	return nil
}
