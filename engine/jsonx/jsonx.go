// Package jsonx encodes the values a JSON decoder produces (maps, slices, strings,
// numbers, booleans, nil) byte for byte as encoding/json does, without its reflection:
// the engine marshals every record it stores (its raw copy, its mapped fields, an
// entity's attributes), and encoding/json's map-key sorting and reflection were a
// tenth of a sync's time. Anything else is handed to encoding/json.
package jsonx

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Marshal encodes v as json.Marshal does: compact, map keys sorted, HTML escaped.
func Marshal(v any) ([]byte, error) { return Append(nil, v, true) }

// MarshalNoHTML encodes v as a json.Encoder with SetEscapeHTML(false) does, without the
// trailing newline.
func MarshalNoHTML(v any) ([]byte, error) { return Append(nil, v, false) }

// Append appends v's encoding to b.
func Append(b []byte, v any, escapeHTML bool) ([]byte, error) {
	var small [32]member
	b, _, err := appendValue(b, v, escapeHTML, small[:0], nil)
	return b, err
}

// Encoder appends encodings as Append does, remembering the key sets of the objects
// it sorted: the records of one type mostly have the same keys, and sorting them
// again was most of the time encoding a record took. An object whose keys are a set
// it remembers is written in that order after a lookup of each key. Not safe for
// concurrent use; the zero value is ready.
type Encoder struct {
	EscapeHTML bool
	orders     keyOrders
}

// Append appends v's encoding to b.
func (e *Encoder) Append(b []byte, v any) ([]byte, error) {
	var small [32]member
	b, _, err := appendValue(b, v, e.EscapeHTML, small[:0], &e.orders)
	return b, err
}

// keyOrders are the sorted key sets of recent objects, most recent first.
type keyOrders struct{ sets [][]string }

// maxKeyOrders is how many key sets an Encoder keeps: a record's objects (itself,
// an address, a company, an owner) and a few variants of each.
const maxKeyOrders = 16

// members appends x's members to ms in the order of a remembered key set, if x's
// keys are one: a set of as many keys that x has all of is x's.
func (o *keyOrders) members(ms []member, x map[string]any) ([]member, bool) {
	start := len(ms)
next:
	for _, keys := range o.sets {
		if len(keys) != len(x) {
			continue
		}
		for _, k := range keys {
			v, ok := x[k]
			if !ok {
				clear(ms[start:])
				ms = ms[:start]
				continue next
			}
			ms = append(ms, member{k, v})
		}
		return ms, true
	}
	return ms, false
}

// remember keeps the sorted keys of members, dropping the oldest set when full.
func (o *keyOrders) remember(members []member) {
	keys := make([]string, len(members))
	for i, m := range members {
		keys[i] = m.key
	}
	if len(o.sets) < maxKeyOrders {
		o.sets = append(o.sets, nil)
	}
	copy(o.sets[1:], o.sets)
	o.sets[0] = keys
}

// appendValue appends v's encoding to b. ms holds the members of the objects being
// encoded, outermost first: an object sorts its own at the end of ms and drops them
// when done, so all of a record's objects share Append's array on the stack unless
// they hold more than 32 members between them. It returns ms, which may have moved
// to a larger array.
func appendValue(b []byte, v any, escapeHTML bool, ms []member, orders *keyOrders) ([]byte, []member, error) {
	var err error
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), ms, nil
	case bool:
		return strconv.AppendBool(b, x), ms, nil
	case string:
		return AppendString(b, x, escapeHTML), ms, nil
	case float64:
		b, err = appendFloat(b, x)
		return b, ms, err
	case int:
		return strconv.AppendInt(b, int64(x), 10), ms, nil
	case int64:
		return strconv.AppendInt(b, x, 10), ms, nil
	case json.Number:
		if x == "" {
			return append(b, '0'), ms, nil
		}
		if !json.Valid([]byte(x)) {
			b, err = fallback(b, v, escapeHTML)
			return b, ms, err
		}
		return append(b, x...), ms, nil
	case map[string]any:
		if x == nil {
			return append(b, "null"...), ms, nil
		}
		// Pairs, not keys: no value is looked up again. Key order is encoding/json's.
		start := len(ms)
		known := false
		if orders != nil && len(x) > 1 {
			ms, known = orders.members(ms, x)
		}
		if !known {
			for k, v := range x {
				ms = append(ms, member{k, v})
			}
			slices.SortFunc(ms[start:], func(p, q member) int { return strings.Compare(p.key, q.key) })
			if orders != nil && len(x) > 1 {
				orders.remember(ms[start:])
			}
		}
		end := len(ms)
		b = append(b, '{')
		for i := start; i < end; i++ {
			if i > start {
				b = append(b, ',')
			}
			b = AppendString(b, ms[i].key, escapeHTML)
			b = append(b, ':')
			if b, ms, err = appendValue(b, ms[i].value, escapeHTML, ms, orders); err != nil {
				return nil, ms, err
			}
		}
		clear(ms[start:end]) // nothing kept alive through the array
		return append(b, '}'), ms[:start], nil
	case []any:
		if x == nil {
			return append(b, "null"...), ms, nil
		}
		b = append(b, '[')
		for i, v := range x {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ms, err = appendValue(b, v, escapeHTML, ms, orders); err != nil {
				return nil, ms, err
			}
		}
		return append(b, ']'), ms, nil
	}
	b, err = fallback(b, v, escapeHTML)
	return b, ms, err
}

// member is one key of an object being encoded, with its value.
type member struct {
	key   string
	value any
}

func fallback(b []byte, v any, escapeHTML bool) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return append(b, bytes.TrimRight(buf.Bytes(), "\n")...), nil
}

// appendFloat formats as encoding/json does: the shortest repr, in exponent form only
// below 1e-6 or from 1e21, with a one-digit negative exponent written e-7, not e-07.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return fallback(b, f, true) // the same UnsupportedValueError
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		n := len(b) - start
		if n >= 4 && b[len(b)-4] == 'e' && b[len(b)-3] == '-' && b[len(b)-2] == '0' {
			b[len(b)-2] = b[len(b)-1]
			b = b[:len(b)-1]
		}
	}
	return b, nil
}

// AppendString appends s quoted as Append quotes a string, without boxing it in an
// interface. Plain printable ASCII, the common case, is copied as it is; the rest is
// escaped as encoding/json escapes it.
func AppendString(b []byte, s string, escapeHTML bool) []byte {
	b = append(b, '"')
	plain := &plainASCII
	if escapeHTML {
		plain = &plainASCIIHTML
	}
	start := 0
	for i := 0; i < len(s); {
		// One table lookup a byte for the bytes copied as they are.
		for i < len(s) && plain[s[i]] {
			i++
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 end lines in JavaScript.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hex = "0123456789abcdef"

// plainASCII and plainASCIIHTML say which bytes a string's encoding copies as they
// are: printable ASCII but the quote and the backslash (and, escaping HTML, <, >
// and &).
var plainASCII, plainASCIIHTML = plainTable(""), plainTable("<>&")

func plainTable(escaped string) (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && !strings.ContainsRune(escaped, rune(c))
	}
	return t
}
