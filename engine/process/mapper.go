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
	"sync"
	"time"
	"unicode/utf8"

	"github.com/intakehq/intake/engine/expr"
	"github.com/intakehq/intake/engine/jsonx"
	"github.com/intakehq/intake/engine/spec"
)

// Mapped is one record after mapping.
type Mapped struct {
	ExternalID string
	Data       json.RawMessage // fields in spec order
	Raw        json.RawMessage
	Hash       string
	// Cursor is the record's change time: its incremental cursor value when that is a
	// time; zero when the type is not incremental or its cursor is an integer.
	Cursor time.Time
	// CursorValue is the record's incremental cursor value, whatever its format; zero
	// when the type is not incremental.
	CursorValue Cursor
	// Deleted: the type's deletes.flag says the source deleted the record.
	Deleted bool
	// Doc is Data decoded (json.Number for numbers): what schema validation and
	// matching read, decoded once here rather than by each of them.
	Doc any
}

// Mapper maps the records of one interaction type. It is safe for concurrent use.
type Mapper struct {
	it *spec.InteractionType
	// keys are the fields' names quoted, as each mapped record's JSON has them.
	keys [][]byte
}

// NewMapper returns a mapper for it.
func NewMapper(it *spec.InteractionType) *Mapper {
	m := &Mapper{it: it, keys: make([][]byte, len(it.Fields.Keys))}
	for i, name := range it.Fields.Keys {
		m.keys[i] = strconv.AppendQuote(nil, name)
	}
	return m
}

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

// Field is a named value added to mapped records (a parent's fields), already encoded.
type Field struct {
	Name  string
	Value json.RawMessage
}

// ParentFields evaluates a child type's parent.fields over the parent's raw record,
// once per parent; MapChild adds them to each child record.
func (m *Mapper) ParentFields(ctx context.Context, parent any) ([]Field, error) {
	pa := m.it.Parent
	if pa == nil {
		return nil, nil
	}
	out := make([]Field, 0, pa.Fields.Len())
	for _, name := range pa.Fields.Keys {
		v, err := pa.Fields.Map[name].First(ctx, parent)
		if err != nil {
			return nil, fmt.Errorf("parent.fields.%s: %w", name, err)
		}
		enc, err := marshal(v)
		if err != nil {
			return nil, fmt.Errorf("parent.fields.%s: %w", name, err)
		}
		out = append(out, Field{Name: name, Value: enc})
	}
	return out, nil
}

// Map maps one raw record.
func (m *Mapper) Map(ctx context.Context, raw any) (*Mapped, error) {
	return m.MapChild(ctx, raw, nil)
}

// MapChild maps one raw record and adds extra (a parent's fields) to the mapped
// record, after the type's own fields. Without fields (the raw record kept as is),
// extra is set on a copy of the raw object, replacing a key of the same name.
func (m *Mapper) MapChild(ctx context.Context, raw any, extra []Field) (*Mapped, error) {
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
	if out.CursorValue, err = m.Cursor(ctx, raw); err != nil {
		return nil, &RecordError{ExternalID: ext, Reason: err.Error()}
	}
	out.Cursor = out.CursorValue.Time()
	if out.Deleted, err = m.Deleted(ctx, raw); err != nil {
		return nil, &RecordError{ExternalID: ext, Reason: err.Error()}
	}
	switch {
	case m.it.Fields.Len() == 0 && len(extra) == 0:
		out.Data = rawJSON
	case m.it.Fields.Len() == 0:
		obj, ok := raw.(map[string]any)
		if !ok {
			return nil, &RecordError{ExternalID: ext, Reason: "parent.fields: the record is " + describe(raw) + ", not an object to add them to"}
		}
		cp := make(map[string]any, len(obj)+len(extra))
		for k, v := range obj {
			cp[k] = v
		}
		for _, f := range extra {
			cp[f.Name] = f.Value
		}
		if out.Data, err = marshal(cp); err != nil {
			return nil, &RecordError{ExternalID: ext, Reason: "parent.fields: " + err.Error()}
		}
	default:
		// In a reused buffer, copied out at its size, as marshal does.
		st := marshalStates.Get().(*marshalState)
		defer st.put()
		b := append(st.buf[:0], '{')
		// The document, built beside the JSON when every value has a plain form, so
		// that it need not be decoded again below.
		doc, docOK := make(map[string]any, m.it.Fields.Len()), len(extra) == 0
		for i, name := range m.it.Fields.Keys {
			v, err := m.it.Fields.Map[name].First(ctx, raw)
			if err != nil {
				return nil, &RecordError{ExternalID: ext, Reason: "fields." + name + ": " + err.Error()}
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, m.keys[i]...)
			b = append(b, ':')
			if b, err = jsonx.Append(b, v, false); err != nil {
				return nil, &RecordError{ExternalID: ext, Reason: "fields." + name + ": " + err.Error()}
			}
			if docOK {
				doc[name], docOK = docValue(v)
			}
		}
		if docOK {
			out.Doc = doc
		}
		for _, f := range extra {
			b = append(b, ',')
			b = strconv.AppendQuote(b, f.Name)
			b = append(b, ':')
			b = append(b, f.Value...)
		}
		b = append(b, '}')
		st.buf = b
		out.Data = bytes.Clone(b)
	}
	if out.Doc == nil {
		dec := json.NewDecoder(bytes.NewReader(out.Data))
		dec.UseNumber()
		if err := dec.Decode(&out.Doc); err != nil {
			return nil, &RecordError{ExternalID: ext, Reason: "cannot decode mapped record: " + err.Error()}
		}
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
func (m *Mapper) Cursor(ctx context.Context, raw any) (Cursor, error) {
	inc := m.it.Incremental
	if inc == nil {
		return Cursor{}, nil
	}
	v, err := inc.Cursor.First(ctx, raw)
	if err != nil {
		return Cursor{}, fmt.Errorf("incremental.cursor: %w", err)
	}
	c, err := ParseCursorValue(v, inc.Format)
	if err != nil {
		return Cursor{}, fmt.Errorf("incremental.cursor: %w", err)
	}
	return c, nil
}

// Deleted reports whether the type's deletes.flag marks a raw record as deleted at
// the source; false when deletions do not show as a flag.
func (m *Mapper) Deleted(ctx context.Context, raw any) (bool, error) {
	d := m.it.Deletes
	if d == nil || d.Flag == nil {
		return false, nil
	}
	ok, err := d.Flag.Truthy(ctx, raw)
	if err != nil {
		return false, fmt.Errorf("deletes.flag: %w", err)
	}
	return ok, nil
}

// ID reads a raw record's external id.
func (m *Mapper) ID(ctx context.Context, raw any) (string, error) {
	return externalIDOf(ctx, m.it.ID, raw)
}

// externalIDOf evaluates an id expression over a record.
func externalIDOf(ctx context.Context, id *spec.Expr, raw any) (string, error) {
	v, err := id.First(ctx, raw)
	if err != nil {
		return "", fmt.Errorf("id: %w", err)
	}
	ext, ok := externalID(v)
	if !ok {
		return "", fmt.Errorf("id: %s gave %s; it must yield a non-empty string or number", id.Src, describe(v))
	}
	return ext, nil
}

// DeletedID reads the external id of a record of the type's deleted-records endpoint
// (deletes.request).
func (m *Mapper) DeletedID(ctx context.Context, raw any) (string, error) {
	ep := m.it.Deletes.Endpoint()
	if ep == nil {
		return "", fmt.Errorf("%s has no deleted-records endpoint", m.it.Name)
	}
	ext, err := externalIDOf(ctx, ep.ID, raw)
	if err != nil {
		return "", fmt.Errorf("deletes.%w", err)
	}
	return ext, nil
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
	// Encoded in a reused buffer and copied out at its size: grown from nothing, a
	// 1 KB record cost four times its size in allocations.
	st := marshalStates.Get().(*marshalState)
	b, err := st.enc.Append(st.buf[:0], v)
	var out []byte
	if err == nil {
		out = bytes.Clone(b)
	}
	st.buf = b
	st.put()
	return out, err
}

// marshalState is a buffer to encode into, and an encoder that remembers the key
// sets of the records it encoded.
type marshalState struct {
	buf []byte
	enc jsonx.Encoder
}

// put returns st to marshalStates, unless its buffer grew past maxPooledBuf (a huge
// record), which is left to the collector rather than kept.
func (st *marshalState) put() {
	if cap(st.buf) <= maxPooledBuf {
		marshalStates.Put(st)
	}
}

var marshalStates = sync.Pool{New: func() any { return &marshalState{buf: make([]byte, 0, 4096)} }}

const maxPooledBuf = 256 << 10

// docValue is v as decoding its JSON with UseNumber gives it back, and false when v
// has no such plain form here (a string that is not UTF-8, a big integer, a type of
// its own): the caller then decodes the JSON.
func docValue(v any) (any, bool) {
	// v itself where it is kept: boxing x again would allocate.
	switch x := v.(type) {
	case nil, bool:
		return v, true
	case string:
		return v, utf8.ValidString(x)
	case float64, int, int64, json.Number:
		b, err := jsonx.Append(nil, x, false)
		if err != nil {
			return nil, false
		}
		return json.Number(b), true
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if !utf8.ValidString(k) {
				return nil, false
			}
			d, ok := docValue(e)
			if !ok {
				return nil, false
			}
			out[k] = d
		}
		return out, true
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			d, ok := docValue(e)
			if !ok {
				return nil, false
			}
			out[i] = d
		}
		return out, true
	}
	return nil, false
}
