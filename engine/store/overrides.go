package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
)

// SetIntegrationOverride attaches override text to an integration; "" detaches it.
func (s *Store) SetIntegrationOverride(ctx context.Context, id, text string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE integrations SET override = ?, updated_at = ? WHERE id = ?`, nullStr(text), s.ts(), id)
	if err != nil {
		return fmt.Errorf("set override of %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("integration %q: %w", id, ErrNotFound)
	}
	return nil
}

// IntegrationOverride returns the override attached to an integration, "" if none.
func (s *Store) IntegrationOverride(ctx context.Context, id string) (string, error) {
	var text sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT override FROM integrations WHERE id = ?`, id).Scan(&text)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("integration %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("read override of %s: %w", id, err)
	}
	return text.String, nil
}

// ResetCursors forgets the incremental cursor of an integration's objects (all of
// them when types is empty), so the next sync re-reads their history. It returns the
// types reset.
func (s *Store) ResetCursors(ctx context.Context, integrationID string, types []string) ([]string, error) {
	var reset []string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM integrations WHERE id = ?`, integrationID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("integration %q: %w", integrationID, ErrNotFound)
		}
		q := `SELECT interaction_type FROM integration_objects WHERE integration_id = ? AND cursor IS NOT NULL`
		rows, err := tx.QueryContext(ctx, q, integrationID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var t string
			if err := rows.Scan(&t); err != nil {
				rows.Close()
				return err
			}
			if len(types) == 0 || slices.Contains(types, t) {
				reset = append(reset, t)
			}
		}
		rows.Close()
		for _, t := range reset {
			if _, err := tx.ExecContext(ctx, `UPDATE integration_objects SET cursor = NULL, pending_cursor = NULL WHERE integration_id = ? AND interaction_type = ?`, integrationID, t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reset cursors of %s: %w", integrationID, err)
	}
	return reset, nil
}
