package spec_test

import (
	"encoding/json"
	"math"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/intakehq/intake/engine/spec"
)

// jsonNumber is RFC 8259's number grammar.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// FuzzUnixTime checks the reading of unix and unix_ms cursors against exact
// rational arithmetic: a JSON number is the time it denotes, truncated toward zero to
// the nanosecond, or "out of range" when its seconds do not fit an int64; a string of
// plain decimal digits reads as the same number.
func FuzzUnixTime(f *testing.F) {
	for _, s := range []string{
		"1709634030", "1709634030.123", "1709634030.123456789123", "1.70963403e+09",
		"1709634030123e-3", "-1.5", "0", "-0", "1e-10", "0.000000001", "1e400",
		"9223372036854775807", "-9223372036854775807", "9223372036854775808",
		"-9223372036854775808", "1e9223372036854775807", "1e-9223372036854775808",
		"0.1e-9223372036854775808", "1e99999999999999999999", "1e-99999999999999999999",
		"12abc", "01", "1.", ".5", "1e", "NaN",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, num string, ms bool) {
		format := "unix"
		if ms {
			format = "unix_ms"
		}
		got, err := spec.ParseTimeValue(json.Number(num), format)
		if !jsonNumber.MatchString(num) {
			if err == nil {
				t.Fatalf("%q is no JSON number but read as %v", num, got)
			}
			return
		}
		want, inRange, known := exactUnix(num, ms)
		if !known {
			return
		}
		switch {
		case !inRange && err == nil:
			t.Fatalf("%s %q: got %v, want out of range", format, num, got)
		case !inRange && !strings.Contains(err.Error(), "out of range"):
			t.Fatalf("%s %q: got error %v, want out of range", format, num, err)
		case inRange && err != nil:
			t.Fatalf("%s %q: got error %v, want %v", format, num, err, want)
		case inRange && !got.Equal(want):
			t.Fatalf("%s %q: got %v (%d s %d ns), want %v (%d s %d ns)", format, num,
				got, got.Unix(), got.Nanosecond(), want, want.Unix(), want.Nanosecond())
		}
		// Plain decimal text in a string is the same number.
		if inRange && !strings.ContainsAny(num, "eE") {
			s, err := spec.ParseTimeValue(num, format)
			if err != nil || !s.Equal(want) {
				t.Fatalf("%s string %q: got %v, %v, want %v", format, num, s, err, want)
			}
		}
	})
}

// exactUnix is the time num (a JSON number of seconds, or of milliseconds when ms)
// denotes, truncated toward zero to the nanosecond; inRange is false when its seconds
// do not fit an int64. known is false for the few inputs (thousands of digits with
// an exponent as large) this oracle does not decide.
func exactUnix(num string, ms bool) (t time.Time, inRange, known bool) {
	neg := strings.HasPrefix(num, "-")
	mant, expText, _ := strings.Cut(strings.ToLower(strings.TrimPrefix(num, "-")), "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		return time.Unix(0, 0), true, true
	}
	exp := new(big.Int)
	if expText != "" {
		exp.SetString(strings.TrimPrefix(expText, "+"), 10)
	}
	// num is 0.digits × 10^mag seconds (× 10^-3 for ms).
	mag := new(big.Int).Add(exp, big.NewInt(int64(len(intPart)-(len(intPart+frac)-len(digits)))))
	if ms {
		mag.Sub(mag, big.NewInt(3))
	}
	switch {
	case mag.Cmp(big.NewInt(20)) > 0: // at least 10^20 seconds
		return time.Time{}, false, true
	case mag.Cmp(big.NewInt(-9)) < 0: // below a nanosecond
		return time.Unix(0, 0), true, true
	case len(digits) > 5000:
		return time.Time{}, false, false
	}
	// value = digits × 10^(mag - len(digits)), in nanoseconds × 10^9.
	v := new(big.Rat).SetInt(bigDecimal(digits))
	scale := mag.Int64() - int64(len(digits)) + 9
	p := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(abs(scale)), nil))
	if scale >= 0 {
		v.Mul(v, p)
	} else {
		v.Quo(v, p)
	}
	nanos := new(big.Int).Quo(v.Num(), v.Denom()) // truncated toward zero
	sec, ns := new(big.Int).QuoRem(nanos, big.NewInt(1e9), new(big.Int))
	if !sec.IsInt64() || sec.Int64() == math.MinInt64 {
		return time.Time{}, false, true
	}
	s, n := sec.Int64(), ns.Int64()
	if neg {
		s, n = -s, -n
	}
	return time.Unix(s, n), true, true
}

func bigDecimal(s string) *big.Int {
	n, _ := new(big.Int).SetString(s, 10)
	return n
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
