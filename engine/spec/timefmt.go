package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ParseTime reads a cursor value written by a provider in the given format (rfc3339,
// unix, unix_ms or a Go layout). RFC 3339 and plain dates are accepted whatever the
// format, because start dates in specs are written that way, and so is an ISO 8601
// offset without its colon (+0000), as Salesforce and Jira write it.
//
// For unix and unix_ms the value is a decimal written -?digits(.digits)? (no
// exponent, no NaN or Inf), read exactly: "1709634030.123" is 123ms past the second,
// to the nanosecond; digits beyond the nanosecond are dropped.
func ParseTime(s string, format string) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch format {
	case "unix", "unix_ms":
		if decimalRe.MatchString(s) {
			if t, ok := unixTime(s, format); ok {
				return t, nil
			}
		}
	case "rfc3339", "":
	default:
		if t, err := time.Parse(format, s); err == nil {
			return t.UTC(), nil
		}
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot read %q as a time in format %s", s, format)
}

// timeLayouts are read whatever the format. The one without a colon in the offset
// (2024-01-02T03:04:05.000+0000) is how Salesforce and Jira write datetimes; fractional
// seconds are accepted after the seconds even though the layouts do not name them.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05-0700", "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"}

var (
	// decimalRe is how a unix time is written as a string.
	decimalRe = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
	// jsonNumberRe is the JSON number grammar, exponent included.
	jsonNumberRe = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)
)

// maxExp bounds an exponent: a billion orders of magnitude past both the largest
// time and the nanosecond, whatever the number of digits before it.
const maxExp = 1 << 30

// unixTime reads a JSON number (decimal text, optionally with an exponent) as seconds
// (unix) or milliseconds (unix_ms) since the epoch, exactly to the nanosecond. It does
// not check the syntax: the caller matches decimalRe or jsonNumberRe first.
func unixTime(num string, format string) (time.Time, bool) {
	neg := strings.HasPrefix(num, "-")
	num = strings.TrimPrefix(num, "-")
	mant, exp := num, 0
	if i := strings.IndexAny(num, "eE"); i >= 0 {
		e, err := strconv.Atoi(num[i+1:])
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return time.Time{}, false
		}
		// Saturated far beyond any time (Atoi gives ±MaxInt64 on overflow), so that
		// adding the digit count below cannot wrap. Unsaturated, 1e9223372036854775807
		// was read as the epoch and 1e-99999999999999999999 as out of range.
		mant, exp = num[:i], max(-maxExp, min(e, maxExp))
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(intPart+frac, "0")
	// point is where the decimal point falls in digits, counted in seconds.
	point := len(digits) - len(frac) + exp
	if format == "unix_ms" {
		point -= 3
	}
	if digits == "" || point < -9 {
		return time.Unix(0, 0).UTC(), true // zero, or below the nanosecond
	}
	if point > 19 {
		return time.Time{}, false // beyond int64 seconds
	}
	var secDigits, nsDigits string
	if point <= 0 {
		nsDigits = strings.Repeat("0", -point) + digits
	} else if point >= len(digits) {
		secDigits = digits + strings.Repeat("0", point-len(digits))
	} else {
		secDigits, nsDigits = digits[:point], digits[point:]
	}
	var sec int64
	if secDigits != "" {
		var err error
		if sec, err = strconv.ParseInt(secDigits, 10, 64); err != nil {
			return time.Time{}, false
		}
	}
	if len(nsDigits) > 9 {
		nsDigits = nsDigits[:9]
	}
	ns, _ := strconv.ParseInt(nsDigits+strings.Repeat("0", 9-len(nsDigits)), 10, 64)
	if neg {
		sec, ns = -sec, -ns
	}
	return time.Unix(sec, ns).UTC(), true
}

// ParseTimeValue reads a record's cursor value: a string, or a number for unix formats.
// A json.Number is read from its exact text, never through a float64.
func ParseTimeValue(v any, format string) (time.Time, error) {
	switch x := v.(type) {
	case string:
		return ParseTime(x, format)
	case json.Number:
		return numericTime(string(x), jsonNumberRe.MatchString(string(x)), format)
	case float64:
		// The shortest decimal that reads back as x: 1709634030.123, not .12299990654.
		s := strconv.FormatFloat(x, 'f', -1, 64)
		return numericTime(s, decimalRe.MatchString(s), format)
	case int:
		return numericTime(strconv.Itoa(x), true, format)
	case int64:
		return numericTime(strconv.FormatInt(x, 10), true, format)
	case *big.Int: // jq arithmetic on large integers
		return numericTime(x.String(), true, format)
	case nil:
		return time.Time{}, fmt.Errorf("cursor value is null")
	}
	text := fmt.Sprint(v)
	if b, err := json.Marshal(v); err == nil {
		text = string(b)
	}
	return time.Time{}, fmt.Errorf("cursor value %s is neither a string nor a number", text)
}

// numericTime reads a number given as its text; valid tells whether the text is a
// number at all.
func numericTime(text string, valid bool, format string) (time.Time, error) {
	if !valid {
		return time.Time{}, fmt.Errorf("cursor value %s is not a valid number", text)
	}
	if format != "unix" && format != "unix_ms" {
		return time.Time{}, fmt.Errorf("cursor value %s is a number but the format is %s; use format unix or unix_ms", text, format)
	}
	t, ok := unixTime(text, format)
	if !ok {
		return time.Time{}, fmt.Errorf("cursor value %s is out of range for format %s", text, format)
	}
	return t, nil
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
