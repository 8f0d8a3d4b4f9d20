package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// UnresolvedFilter narrows ListUnresolved and CountUnresolved; zero fields match
// everything.
type UnresolvedFilter struct {
	CustomerID    string
	IntegrationID string // the integration of the record that holds the reference
	Type          string // its interaction type
	Reason        string // one of Reasons
	Limit         int    // ListUnresolved: 0 means all
}

// UnresolvedLink is a reference of a stored record that resolves to no account or
// contact (yet): what it named and why nothing matched.
type UnresolvedLink struct {
	ID            int64
	CustomerID    string
	IntegrationID string
	Provider      string
	Type          string // interaction type of the record
	InteractionID int64
	ExternalID    string // of the record
	Role          string // EntityAccount or EntityContact: what it refers to
	Origin        string // OriginRef, OriginContact, OriginCompany or OriginSelf
	RefType       string // the interaction type of RefID, when the spec says
	RefID         string
	RefEmail      string
	RefDomain     string
	RefName       string
	Reason        string // one of Reasons
	Detail        string // what was looked for, e.g. "no contact with email ana@acme.com"
	UpdatedAt     time.Time
}

// ReasonCount is how many unresolved references have one reason.
type ReasonCount struct {
	Reason string
	Count  int
}

// unresolvedWhere is the FROM and WHERE of the unresolved references that match f
// (interaction_links_unresolved, then the record's object by primary keys).
func unresolvedWhere(f UnresolvedFilter, withReason bool) (string, []any) {
	q := ` FROM interaction_links k JOIN interactions i ON i.id = k.interaction_id JOIN integration_objects o ON o.id = i.integration_object_id
		JOIN integrations g ON g.id = o.integration_id
		WHERE k.entity_id IS NULL`
	var args []any
	if f.CustomerID != "" {
		q += ` AND k.customer_id = ?`
		args = append(args, f.CustomerID)
	}
	if f.IntegrationID != "" {
		q += ` AND o.integration_id = ?`
		args = append(args, f.IntegrationID)
	}
	if f.Type != "" {
		q += ` AND o.interaction_type = ?`
		args = append(args, f.Type)
	}
	if withReason && f.Reason != "" {
		q += ` AND k.reason = ?`
		args = append(args, f.Reason)
	}
	return q, args
}

// ListUnresolved returns the unresolved references that match f, oldest first.
func (s *Store) ListUnresolved(ctx context.Context, f UnresolvedFilter) ([]*UnresolvedLink, error) {
	where, args := unresolvedWhere(f, true)
	q := `SELECT k.id, k.customer_id, o.integration_id, g.provider, o.interaction_type, k.interaction_id, i.external_id, k.role, k.origin,
		COALESCE(k.ref_type, ''), COALESCE(k.ref_id, ''), COALESCE(k.ref_email, ''), COALESCE(k.ref_domain, ''), COALESCE(k.ref_name, ''),
		COALESCE(k.reason, ''), COALESCE(k.detail, ''), k.updated_at` + where + ` ORDER BY k.id`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list unresolved links: %w", err)
	}
	defer rows.Close()
	out := []*UnresolvedLink{}
	for rows.Next() {
		var u UnresolvedLink
		var updated sql.NullString
		if err := rows.Scan(&u.ID, &u.CustomerID, &u.IntegrationID, &u.Provider, &u.Type, &u.InteractionID, &u.ExternalID, &u.Role, &u.Origin,
			&u.RefType, &u.RefID, &u.RefEmail, &u.RefDomain, &u.RefName, &u.Reason, &u.Detail, &updated); err != nil {
			return nil, fmt.Errorf("list unresolved links: %w", err)
		}
		u.UpdatedAt = parseTS(updated)
		out = append(out, &u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list unresolved links: %w", err)
	}
	return out, nil
}

// CountUnresolved counts the unresolved references that match f by reason, sorted by
// reason; f.Reason and f.Limit are ignored, so the counts show every reason.
func (s *Store) CountUnresolved(ctx context.Context, f UnresolvedFilter) ([]ReasonCount, error) {
	where, args := unresolvedWhere(f, false)
	rows, err := s.db.QueryContext(ctx, `SELECT COALESCE(k.reason, ''), COUNT(*)`+where+` GROUP BY k.reason ORDER BY 1`, args...)
	if err != nil {
		return nil, fmt.Errorf("count unresolved links: %w", err)
	}
	defer rows.Close()
	out := []ReasonCount{}
	for rows.Next() {
		var c ReasonCount
		if err := rows.Scan(&c.Reason, &c.Count); err != nil {
			return nil, fmt.Errorf("count unresolved links: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
