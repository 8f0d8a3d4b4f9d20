package process

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/intakehq/intake/engine/expr"
	"github.com/intakehq/intake/engine/match"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

// Keys computes the keys that resolve a mapped record to an Account or Contact; nil
// when the interaction type does not resolve to either. now stands in for the record's
// change time when the type is not incremental.
func (m *Mapper) Keys(ctx context.Context, mapped *Mapped, now time.Time) (*store.MatchKeys, error) {
	ms := m.it.Match
	if ms == nil || ms.Entity == spec.EntityNone {
		return nil, nil
	}
	fields, ok := mapped.Doc.(map[string]any)
	if !ok {
		return nil, &RecordError{ExternalID: mapped.ExternalID, Reason: "match: the mapped record is not an object"}
	}
	text := func(key string, e *spec.Expr) (string, error) {
		if e == nil {
			return "", nil
		}
		v, err := e.First(ctx, fields)
		if err != nil {
			return "", &RecordError{ExternalID: mapped.ExternalID, Reason: fmt.Sprintf("match.%s: %v", key, err)}
		}
		return expr.Text(v), nil
	}
	k := &store.MatchKeys{Entity: ms.Entity, Fields: fields, At: mapped.Cursor, Mode: ms.Mode}
	if k.At.IsZero() {
		k.At = now
	}
	var err error
	if k.Name, err = text("name", ms.Name); err != nil {
		return nil, err
	}
	switch ms.Entity {
	case spec.EntityAccount:
		d, err := text("domain", ms.Domain)
		if err != nil {
			return nil, err
		}
		k.Domain = match.CompanyDomain(d)
		if ms.ByName {
			k.NameKey = match.Name(k.Name)
		}
	case spec.EntityContact:
		e, err := text("email", ms.Email)
		if err != nil {
			return nil, err
		}
		k.Email = match.Email(e)
		k.EmailOrg = match.CompanyDomain(k.Email)
		if k.AccountRef, err = text("account_ref", ms.AccountRef); err != nil {
			return nil, err
		}
	}
	if ms.Fields.Len() > 0 {
		k.Rules = make(map[string]store.FieldRule, ms.Fields.Len())
		for _, f := range ms.Fields.Keys {
			if r := ms.Fields.Map[f]; r != nil {
				k.Rules[f] = store.FieldRule{Prefer: r.Prefer, FillOnlyEmpty: r.FillOnlyEmpty}
			}
		}
	}
	return k, nil
}

// Refs computes the accounts and contacts a mapped record refers to (the interaction
// type's links), keys normalised like match keys: nil when the type declares none or
// the record names none.
func (m *Mapper) Refs(ctx context.Context, mapped *Mapped) ([]store.Ref, error) {
	l := m.it.Links
	if l == nil {
		return nil, nil
	}
	fields, ok := mapped.Doc.(map[string]any)
	if !ok {
		return nil, &RecordError{ExternalID: mapped.ExternalID, Reason: "links: the mapped record is not an object"}
	}
	var out []store.Ref
	for _, role := range []string{spec.EntityAccount, spec.EntityContact} {
		ref := l.Account
		if role == spec.EntityContact {
			ref = l.Contact
		}
		if ref == nil {
			continue
		}
		text := func(key string, e *spec.Expr) (string, error) {
			if e == nil {
				return "", nil
			}
			v, err := e.First(ctx, fields)
			if err != nil {
				return "", &RecordError{ExternalID: mapped.ExternalID, Reason: fmt.Sprintf("links.%s.%s: %v", role, key, err)}
			}
			return strings.TrimSpace(expr.Text(v)), nil
		}
		r := store.Ref{Role: role, Type: ref.Type}
		if ref.ID != nil {
			v, err := ref.ID.First(ctx, fields)
			if err != nil {
				return nil, &RecordError{ExternalID: mapped.ExternalID, Reason: fmt.Sprintf("links.%s.id: %v", role, err)}
			}
			switch v.(type) {
			case nil, string, json.Number, int, float64:
				r.ID = strings.TrimSpace(expr.Text(v))
			default:
				// An object or a list is a spec that picks the wrong value (an
				// association list, not its first id): say so rather than match on it.
				return nil, &RecordError{ExternalID: mapped.ExternalID, Reason: fmt.Sprintf("links.%s.id: %s gave %s; it must yield a string, a number or null", role, ref.ID.Src, describe(v))}
			}
		}
		var err error
		if r.Name, err = text("name", ref.Name); err != nil {
			return nil, err
		}
		if role == spec.EntityAccount {
			d, err := text("domain", ref.Domain)
			if err != nil {
				return nil, err
			}
			r.Domain = match.CompanyDomain(d)
		} else {
			e, err := text("email", ref.Email)
			if err != nil {
				return nil, err
			}
			r.Email = match.Email(e)
		}
		if r.ID != "" || r.Domain != "" || r.Email != "" {
			out = append(out, r)
		}
	}
	return out, nil
}
