package process

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/intakehq/intake/engine/spec"
)

// Cursor is an incremental cursor value: a time for the time formats (rfc3339, unix,
// unix_ms, a Go layout), an integer for format integer. The zero Cursor is "no
// cursor". Cursors of one interaction type are all of one sort and compare with
// Compare.
type Cursor struct {
	t     time.Time
	n     int64
	isInt bool
	set   bool
}

// TimeCursor is a time cursor.
func TimeCursor(t time.Time) Cursor { return Cursor{t: t.UTC(), set: true} }

// IntCursor is an integer cursor.
func IntCursor(n int64) Cursor { return Cursor{n: n, isInt: true, set: true} }

// IsZero reports whether c is no cursor at all.
func (c Cursor) IsZero() bool { return !c.set }

// IsInt reports whether c is an integer cursor.
func (c Cursor) IsInt() bool { return c.isInt }

// Time is a time cursor's time; zero for an integer cursor or no cursor.
func (c Cursor) Time() time.Time {
	if c.isInt {
		return time.Time{}
	}
	return c.t
}

// Int is an integer cursor's value.
func (c Cursor) Int() int64 { return c.n }

// Compare returns -1, 0 or +1 as c is before, equal to or after o. No cursor is
// before every cursor.
func (c Cursor) Compare(o Cursor) int {
	switch {
	case !c.set && !o.set:
		return 0
	case !c.set:
		return -1
	case !o.set:
		return 1
	case c.isInt:
		switch {
		case c.n < o.n:
			return -1
		case c.n > o.n:
			return 1
		}
		return 0
	}
	return c.t.Compare(o.t)
}

// After reports whether c is after o.
func (c Cursor) After(o Cursor) bool { return c.Compare(o) > 0 }

// Before reports whether c is before o.
func (c Cursor) Before(o Cursor) bool { return c.Compare(o) < 0 }

// String is the cursor as stored in integration_objects.cursor: RFC 3339 with
// nanoseconds in UTC for a time, a decimal for an integer, "" for no cursor.
func (c Cursor) String() string {
	switch {
	case !c.set:
		return ""
	case c.isInt:
		return strconv.FormatInt(c.n, 10)
	}
	return c.t.Format(time.RFC3339Nano)
}

// Add moves a time cursor by d; an integer cursor is unchanged.
func (c Cursor) Add(d time.Duration) Cursor {
	if !c.set || c.isInt {
		return c
	}
	return TimeCursor(c.t.Add(d))
}

// Send is the cursor formatted as the provider expects it (.cursor in templates,
// incremental.param): in the interaction type's format, one unit lower when its
// filter is exclusive, so records sharing the cursor's value are read again rather
// than lost. An integer cursor is a json.Number (a number in a JSON body); no cursor
// is nil.
func (c Cursor) Send(inc *spec.Incremental) any {
	if !c.set {
		return nil
	}
	exclusive := inc.Filter == spec.FilterExclusive
	if c.isInt {
		n := c.n
		if exclusive && n > math.MinInt64 {
			n--
		}
		return json.Number(strconv.FormatInt(n, 10))
	}
	t := c.t
	if exclusive {
		t = t.Add(-inc.Unit())
	}
	return spec.FormatTime(t, inc.Format)
}

// ParseCursor reads a stored cursor (Cursor.String) of an interaction type with the
// given format; "" is no cursor.
func ParseCursor(stored, format string) (Cursor, error) {
	if stored == "" {
		return Cursor{}, nil
	}
	if format == spec.FormatInteger {
		n, err := strconv.ParseInt(stored, 10, 64)
		if err != nil {
			return Cursor{}, fmt.Errorf("stored cursor %q is not an integer (the cursor has format integer)", stored)
		}
		return IntCursor(n), nil
	}
	t, err := time.Parse(time.RFC3339Nano, stored)
	if err != nil {
		return Cursor{}, fmt.Errorf("stored cursor %q is not a timestamp", stored)
	}
	return TimeCursor(t), nil
}

// ParseCursorValue reads a record's cursor value in the given format: a time (see
// spec.ParseTimeValue), or for format integer a JSON integer or a string of digits.
func ParseCursorValue(v any, format string) (Cursor, error) {
	if format != spec.FormatInteger {
		t, err := spec.ParseTimeValue(v, format)
		if err != nil {
			return Cursor{}, err
		}
		return TimeCursor(t), nil
	}
	var text string
	switch x := v.(type) {
	case string:
		text = strings.TrimSpace(x)
	case json.Number:
		text = x.String()
	case int:
		return IntCursor(int64(x)), nil
	case int64:
		return IntCursor(x), nil
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return Cursor{}, fmt.Errorf("cursor value %v is not an integer", x)
		}
		return IntCursor(int64(x)), nil
	case *big.Int:
		if !x.IsInt64() {
			return Cursor{}, fmt.Errorf("cursor value %s is out of range for format integer", x)
		}
		return IntCursor(x.Int64()), nil
	case nil:
		return Cursor{}, fmt.Errorf("cursor value is null")
	default:
		return Cursor{}, fmt.Errorf("cursor value %s is neither an integer nor a string of digits", describe(v))
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return Cursor{}, fmt.Errorf("cursor value %q is not an integer (format integer)", text)
	}
	return IntCursor(n), nil
}
