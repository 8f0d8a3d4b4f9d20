// Package process turns raw provider records into stored interactions: it maps each
// record with the spec's compiled jq, extracts its id and cursor, and hashes its
// content so unchanged records are not rewritten.
package process

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/intakehq/intake/engine/expr"
	"github.com/intakehq/intake/engine/spec"
)

// Mapped is one record after mapping.
type Mapped struct {
	ExternalID string
	Data       json.RawMessage // fields in spec order
	Raw        json.RawMessage
	Hash       string
	Cursor     time.Time // zero when the type is not incremental
	// Doc is Data decoded (json.Number for numbers): what schema validation and
	// matching read, decoded once here rather than by each of them.
	Doc any
}

// Mapper maps the records of one interaction type. It is safe for concurrent use.
type Mapper struct {
	it *spec.InteractionType
}

// NewMapper returns a mapper for it.
func NewMapper(it *spec.InteractionType) *Mapper { return &Mapper{it: it} }

// RecordError is a record that cannot be mapped; it is quarantined, not fatal.
type RecordError struct {
	ExternalID string
	Reason     string
}

func (e *RecordError) Error() string {
	if e.ExternalID != "" {
		return fmt.Sprintf("record %s: %s", e.ExternalID, e.Reason)
	}
	return "record: " + e.Reason
}

// Map maps one raw record.
func (m *Mapper) Map(ctx context.Context, raw any) (*Mapped, error) {
	rawJSON, err := marshal(raw)
	if err != nil {
		return nil, &RecordError{Reason: "cannot encode raw record: " + err.Error()}
	}
	id, err := m.it.ID.First(ctx, raw)
	if err != nil {
		return nil, &RecordError{Reason: "id: " + err.Error()}
	}
	ext, ok := externalID(id)
	if !ok {
		return nil, &RecordError{Reason: fmt.Sprintf("id: %s gave %s; it must yield a non-empty string or number", m.it.ID.Src, describe(id))}
	}
	out := &Mapped{ExternalID: ext, Raw: rawJSON}
	if out.Cursor, err = m.Cursor(ctx, raw); err != nil {
		return nil, &RecordError{ExternalID: ext, Reason: err.Error()}
	}
	if m.it.Fields.Len() == 0 {
		out.Data = rawJSON
	} else {
		var b bytes.Buffer
		b.WriteByte('{')
		for i, name := range m.it.Fields.Keys {
			v, err := m.it.Fields.Map[name].First(ctx, raw)
			if err != nil {
				return nil, &RecordError{ExternalID: ext, Reason: "fields." + name + ": " + err.Error()}
			}
			enc, err := marshal(v)
			if err != nil {
				return nil, &RecordError{ExternalID: ext, Reason: "fields." + name + ": " + err.Error()}
			}
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Quote(name))
			b.WriteByte(':')
			b.Write(enc)
		}
		b.WriteByte('}')
		out.Data = b.Bytes()
	}
	dec := json.NewDecoder(bytes.NewReader(out.Data))
	dec.UseNumber()
	if err := dec.Decode(&out.Doc); err != nil {
		return nil, &RecordError{ExternalID: ext, Reason: "cannot decode mapped record: " + err.Error()}
	}
	sum := sha256.New()
	sum.Write(out.Data)
	sum.Write([]byte{0})
	sum.Write(out.Raw)
	out.Hash = hex.EncodeToString(sum.Sum(nil))
	return out, nil
}

// Cursor reads a record's incremental cursor value; zero when the type is not
// incremental.
func (m *Mapper) Cursor(ctx context.Context, raw any) (time.Time, error) {
	inc := m.it.Incremental
	if inc == nil {
		return time.Time{}, nil
	}
	v, err := inc.Cursor.First(ctx, raw)
	if err != nil {
		return time.Time{}, fmt.Errorf("incremental.cursor: %w", err)
	}
	t, err := spec.ParseTimeValue(v, inc.Format)
	if err != nil {
		return time.Time{}, fmt.Errorf("incremental.cursor: %w", err)
	}
	return t, nil
}

// Keep reports whether a raw record passes the interaction type's filter.
func (m *Mapper) Keep(ctx context.Context, raw any) (bool, error) {
	if m.it.Filter == nil {
		return true, nil
	}
	ok, err := m.it.Filter.Truthy(ctx, raw)
	if err != nil {
		return false, &RecordError{Reason: "filter: " + err.Error()}
	}
	return ok, nil
}

func externalID(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, x != ""
	case json.Number, int, float64:
		return expr.Text(x), true
	}
	return "", false
}

func describe(v any) string {
	if v == nil {
		return "null"
	}
	b, _ := json.Marshal(v)
	if len(b) > 60 {
		b = append(b[:60], "…"...)
	}
	return string(b)
}

// marshal encodes compactly without HTML escaping; map keys come out sorted, so equal
// values always hash the same.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
