package spec

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseTime reads a cursor value written by a provider in the given format (rfc3339,
// unix, unix_ms or a Go layout). RFC 3339 and plain dates are accepted whatever the
// format, because start dates in specs are written that way.
func ParseTime(s string, format string) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch format {
	case "unix", "unix_ms":
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return fromUnix(f, format), nil
		}
	case "rfc3339", "":
	default:
		if t, err := time.Parse(format, s); err == nil {
			return t.UTC(), nil
		}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot read %q as a time in format %s", s, format)
}

func fromUnix(f float64, format string) time.Time {
	if format == "unix_ms" {
		return time.UnixMilli(int64(f)).UTC()
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

// ParseTimeValue reads a record's cursor value: a string, or a number for unix formats.
func ParseTimeValue(v any, format string) (time.Time, error) {
	switch x := v.(type) {
	case string:
		return ParseTime(x, format)
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return time.Time{}, err
		}
		return numericTime(f, format)
	case float64:
		return numericTime(x, format)
	case int:
		return numericTime(float64(x), format)
	case nil:
		return time.Time{}, fmt.Errorf("cursor value is null")
	}
	return time.Time{}, fmt.Errorf("cursor value %v is neither a string nor a number", v)
}

func numericTime(f float64, format string) (time.Time, error) {
	if format != "unix" && format != "unix_ms" {
		return time.Time{}, fmt.Errorf("cursor value %v is a number but the format is %s; use format unix or unix_ms", f, format)
	}
	return fromUnix(f, format), nil
}

// FormatTime writes a cursor in the format the provider expects.
func FormatTime(t time.Time, format string) string {
	t = t.UTC()
	switch format {
	case "rfc3339", "":
		return t.Format(time.RFC3339)
	case "unix":
		return strconv.FormatInt(t.Unix(), 10)
	case "unix_ms":
		return strconv.FormatInt(t.UnixMilli(), 10)
	default:
		return t.Format(format)
	}
}
