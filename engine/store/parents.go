package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
)

// What a child interaction type (spec key parent) reads of its parent type's stored
// records. The parents come from the store, not from the provider again: the parent's
// own sync has already paged through every page of them, and the change feed says
// which ones changed since the child last synced.

// Statements (also run on PostgreSQL by deletes_postgres_test.go).
const (
	changedInteractionsSQL = `SELECT entity_id, MAX(seq) AS last FROM changes
		WHERE integration_id = ? AND interaction_type = ? AND entity = ? AND seq > ? AND seq <= ?
		GROUP BY entity_id ORDER BY last`
	scanInteractionsSQL  = `SELECT id FROM interactions WHERE integration_object_id = ? AND id > ? AND deleted_at IS NULL ORDER BY id LIMIT ?`
	interactionRecordSQL = `SELECT id, integration_object_id, external_id, raw, deleted_at IS NOT NULL FROM interactions WHERE id = ?`
)

// ParentRef is a stored record of a parent type, in the order a child visits them.
type ParentRef struct {
	ID  int64 // row id in interactions
	Seq int64 // ChangedInteractions: the position of the row's latest change; else 0
}

// ChangedInteractions lists the rows of an integration object's interaction type that
// changed (insert, update or delete in the change feed) after position after and up
// to position upto, one per row, ordered by the position of the row's latest change
// in that range (through the changes_object index).
func (s *Store) ChangedInteractions(ctx context.Context, integrationID, typ string, after, upto int64) ([]ParentRef, error) {
	rows, err := s.db.QueryContext(ctx, changedInteractionsSQL, integrationID, typ, EntityInteraction, after, upto)
	if err != nil {
		return nil, fmt.Errorf("changed %s/%s after %d: %w", integrationID, typ, after, err)
	}
	defer rows.Close()
	var out []ParentRef
	for rows.Next() {
		var r ParentRef
		if err := rows.Scan(&r.ID, &r.Seq); err != nil {
			return nil, fmt.Errorf("changed %s/%s after %d: %w", integrationID, typ, after, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ScanInteractions lists up to limit live (not deleted) rows of an integration object
// with a row id above afterID, by row id (through interactions_object_id): every
// stored parent, a batch at a time.
func (s *Store) ScanInteractions(ctx context.Context, objectID, afterID int64, limit int) ([]ParentRef, error) {
	rows, err := s.db.QueryContext(ctx, scanInteractionsSQL, objectID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("scan interactions of object %d after %d: %w", objectID, afterID, err)
	}
	defer rows.Close()
	var out []ParentRef
	for rows.Next() {
		var r ParentRef
		if err := rows.Scan(&r.ID); err != nil {
			return nil, fmt.Errorf("scan interactions of object %d after %d: %w", objectID, afterID, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// StoredRecord is a stored interaction's identity and raw record.
type StoredRecord struct {
	ID         int64
	ObjectID   int64
	ExternalID string
	Raw        json.RawMessage // as the provider sent it
	Deleted    bool            // deleted_at is set
}

// InteractionRecord returns one stored interaction's raw record; ErrNotFound when the
// row does not exist.
func (s *Store) InteractionRecord(ctx context.Context, id int64) (*StoredRecord, error) {
	var r StoredRecord
	var raw string
	err := s.db.QueryRowContext(ctx, interactionRecordSQL, id).
		Scan(&r.ID, &r.ObjectID, &r.ExternalID, &raw, &r.Deleted)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("interaction %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("interaction %d: %w", id, err)
	}
	r.Raw = json.RawMessage(raw)
	return &r, nil
}
