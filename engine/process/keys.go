package process

import (
	"context"
	"fmt"
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
	k := &store.MatchKeys{Entity: ms.Entity, Fields: fields, At: mapped.Cursor}
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
