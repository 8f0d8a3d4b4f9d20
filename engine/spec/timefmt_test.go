package spec_test

import (
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/intakehq/intake/engine/spec"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"30s", 30 * time.Second},
		{"500ms", 500 * time.Millisecond},
		{"5m", 5 * time.Minute},
		{"3h", 3 * time.Hour},
		{"7d", 7 * 24 * time.Hour},
		{"1h30m", 90 * time.Minute},
		{"1d12h", 36 * time.Hour},
		{"1.5d", 36 * time.Hour},
		{"2d3h4m5s", 51*time.Hour + 4*time.Minute + 5*time.Second},
		{"0.1d", 144 * time.Minute}, // exact, not through a float64
		{"1d0.5h", 24*time.Hour + 30*time.Minute},
		{"36h", 36 * time.Hour},
		{"0.5s", 500 * time.Millisecond},
		{"0s", 0},
		{"0", 0}, // as time.ParseDuration
	}
	for _, tc := range tests {
		got, err := spec.ParseDuration(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}

	for _, in := range []string{
		"3 hours", "3", "h", "d", "1x", "1d2", "-1d", " 1h", "1e3s", "1w", "soon",
		"", " ", "1d1d", "1h1d", "1d-1h", "1d+1h", "-1h", "+1h", "1dd", "d1h", "1.d", "1d ",
		"1h ", "1d\n", "999999999999d", "106752d1h", "1d9223372036854775807ns",
	} {
		got, err := spec.ParseDuration(in)
		if err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, got)
			continue
		}
		want := `invalid duration ` + strconv.Quote(in) + `: use a number and a unit (ms, s, m, h, d), e.g. 30s or 1h30m`
		if err.Error() != want {
			t.Errorf("ParseDuration(%q) error:\n got: %v\nwant: %s", in, err, want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{500 * time.Millisecond, "500ms"},
		{1500 * time.Millisecond, "1.5s"},
		{5 * time.Minute, "5m"},
		{3 * time.Hour, "3h"},
		{24 * time.Hour, "1d"},
		{7 * 24 * time.Hour, "7d"},
		{90 * time.Minute, "1h30m"},
		{36 * time.Hour, "36h"}, // not a whole number of days
		{25 * time.Hour, "25h"},
		{48 * time.Hour, "2d"},
		{30 * time.Second, "30s"},
		{10 * time.Second, "10s"},
		{90 * time.Second, "1m30s"},
		{70 * time.Second, "1m10s"},
		{time.Minute, "1m"},
		{10 * time.Minute, "10m"},
		{time.Hour, "1h"},
		{10 * time.Hour, "10h"},
		{2*time.Hour + 30*time.Second, "2h0m30s"},
		{24*time.Hour + 30*time.Minute, "24h30m"},
		{time.Hour + 500*time.Millisecond, "1h0m0.5s"},
		{time.Nanosecond, "1ns"},
	}
	for _, tc := range tests {
		if got := spec.FormatDuration(tc.in); got != tc.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tc.in, got, tc.want)
		}
		// What FormatDuration prints, ParseDuration reads back.
		if back, err := spec.ParseDuration(spec.FormatDuration(tc.in)); err != nil || back != tc.in {
			t.Errorf("ParseDuration(FormatDuration(%v)) = %v, %v", tc.in, back, err)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	js, err := json.Marshal(struct{ D spec.Duration }{spec.Duration(90 * time.Minute)})
	if err != nil || string(js) != `{"D":"1h30m"}` {
		t.Errorf("json = %s, %v", js, err)
	}
}

var (
	refTime   = time.Date(2024, 3, 5, 10, 20, 30, 0, time.UTC)
	refTimeMs = time.Date(2024, 3, 5, 10, 20, 30, 123e6, time.UTC)
)

func TestParseTime(t *testing.T) {
	tests := []struct {
		in, format string
		want       time.Time
	}{
		{"2024-03-05T10:20:30Z", "rfc3339", refTime},
		{"2024-03-05T12:20:30+02:00", "rfc3339", refTime},
		{"2024-03-05T10:20:30.123Z", "rfc3339", refTimeMs},
		{"2024-03-05T10:20:30Z", "", refTime},
		{" 2024-03-05T10:20:30Z\n", "rfc3339", refTime},
		{"1709634030", "unix", refTime},
		{"1709634030.25", "unix", refTime.Add(250 * time.Millisecond)},
		// Fractions are read exactly, to the nanosecond, not through a float64.
		{"1709634030.123", "unix", refTimeMs},
		{"1709634030.123456789", "unix", refTime.Add(123456789)},
		{"1709634030.1234567891", "unix", refTime.Add(123456789)}, // below the nanosecond is dropped
		{"1709634030.000000001", "unix", refTime.Add(1)},
		{"01709634030.5", "unix", refTime.Add(500 * time.Millisecond)},
		{"0", "unix", time.Unix(0, 0)},
		{"0.5", "unix", time.Unix(0, 5e8)},
		{"-1.5", "unix", time.Unix(-2, 5e8)},
		{"-0.25", "unix", time.Unix(0, -25e7)},
		{"9223372036854775807", "unix", time.Unix(math.MaxInt64, 0)},
		{"1709634030123", "unix_ms", refTimeMs},
		{"1709634030123.456789", "unix_ms", refTimeMs.Add(456789)},
		{"1709634030123.4567891", "unix_ms", refTimeMs.Add(456789)},
		{"0.5", "unix_ms", time.Unix(0, 5e5)},
		{"-1500.5", "unix_ms", time.Unix(-2, 5e8-5e5)},
		{" 1709634030\t", "unix", refTime},
		{"2024-03-05 10:20:30", "2006-01-02 15:04:05", refTime},
		{"05/03/2024 10:20", "02/01/2006 15:04", time.Date(2024, 3, 5, 10, 20, 0, 0, time.UTC)},
		{"Tue, 05 Mar 2024 12:20:30 +0200", time.RFC1123Z, refTime},
		// Start dates are written as RFC 3339 or plain dates whatever the format.
		{"2024-03-05", "rfc3339", time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)},
		{"2024-03-05", "unix", time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)},
		{"2024-03-05", "unix_ms", time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)},
		{"2024-03-05T10:20:30Z", "02/01/2006", refTime},
		{"2024-03-05 10:20:30", "rfc3339", refTime},
		{"2024-03-05T10:20:30", "unix", refTime},
		{"2024-03-05T10:20:30.123Z", "unix_ms", refTimeMs},
		// ISO 8601 offsets without a colon: Salesforce and Jira.
		{"2024-03-05T10:20:30.000+0000", "rfc3339", refTime},
		{"2024-03-05T11:20:30.123+0100", "rfc3339", refTimeMs},
		{"2024-03-05T05:20:30-0500", "rfc3339", refTime},
		{"2024-03-05T21:20:30.123+1100", "unix_ms", refTimeMs},
	}
	for _, tc := range tests {
		got, err := spec.ParseTime(tc.in, tc.format)
		if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q, %q) = %v, %v; want %v in UTC", tc.in, tc.format, got, err, tc.want)
		}
	}

	bad := []struct{ in, format string }{
		{"last tuesday", "rfc3339"},
		{"1709634030", "rfc3339"},
		{"yesterday", "unix"},
		{"2024-13-45", "unix_ms"},
		{"05/03/2024", "2006-01-02 15:04"},
		{"", "rfc3339"},
		{"2024-03-05T10:20:30+00", "rfc3339"},
		{"2024-03-05T10:20:30+000", "rfc3339"},
		{"2024-03-05T10:20:30 +0000", "rfc3339"},
		// A unix time is -?digits(.digits)?: no exponent, NaN, Inf or other forms.
		{"", "unix"},
		{"", "unix_ms"},
		{"1e3", "unix"},
		{"1.70963403e+09", "unix"},
		{"1709634030123E0", "unix_ms"},
		{"NaN", "unix"},
		{"Inf", "unix"},
		{"+Inf", "unix_ms"},
		{"-Infinity", "unix"},
		{"+1709634030", "unix"},
		{"1709634030.", "unix"},
		{".5", "unix"},
		{"-", "unix"},
		{"1_709_634_030", "unix"},
		{"0x65e6f2ae", "unix"},
		{"1709634030 123", "unix"},
		{"١٧٠٩٦٣٤٠٣٠", "unix"},
		{"99999999999999999999", "unix"}, // beyond int64 seconds
		{"99999999999999999999999", "unix_ms"},
	}
	for _, tc := range bad {
		got, err := spec.ParseTime(tc.in, tc.format)
		if err == nil {
			t.Errorf("ParseTime(%q, %q) = %v, want an error", tc.in, tc.format, got)
			continue
		}
		want := `cannot read "` + strings.TrimSpace(tc.in) + `" as a time in format ` + tc.format
		if err.Error() != want {
			t.Errorf("ParseTime(%q, %q) error:\n got: %v\nwant: %s", tc.in, tc.format, err, want)
		}
	}
}

func TestFormatTime(t *testing.T) {
	local := refTimeMs.In(time.FixedZone("CET", 3600))
	tests := []struct {
		format, want string
	}{
		{"rfc3339", "2024-03-05T10:20:30Z"},
		{"", "2024-03-05T10:20:30Z"},
		{"unix", "1709634030"},
		{"unix_ms", "1709634030123"},
		{"2006-01-02 15:04:05", "2024-03-05 10:20:30"},
		{"2006-01-02", "2024-03-05"},
		{time.RFC3339Nano, "2024-03-05T10:20:30.123Z"},
	}
	for _, tc := range tests {
		if got := spec.FormatTime(local, tc.format); got != tc.want {
			t.Errorf("FormatTime(%q) = %q, want %q", tc.format, got, tc.want)
		}
		if tc.format == time.RFC3339Nano {
			continue
		}
		// A formatted cursor reads back (to the precision of the format).
		back, err := spec.ParseTime(spec.FormatTime(local, tc.format), tc.format)
		want := refTime
		switch tc.format {
		case "unix_ms":
			want = refTimeMs
		case "2006-01-02":
			want = time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)
		}
		if err != nil || !back.Equal(want) {
			t.Errorf("round trip in %q = %v, %v; want %v", tc.format, back, err, want)
		}
	}
}

func TestParseTimeValue(t *testing.T) {
	tests := []struct {
		name   string
		in     any
		format string
		want   time.Time
	}{
		{"json.Number unix", json.Number("1709634030"), "unix", refTime},
		{"json.Number unix with fraction", json.Number("1709634030.25"), "unix", refTime.Add(250 * time.Millisecond)},
		{"json.Number unix_ms", json.Number("1709634030123"), "unix_ms", refTimeMs},
		// A json.Number is read from its text, exactly.
		{"json.Number unix with ms", json.Number("1709634030.123"), "unix", refTimeMs},
		{"json.Number unix with ns", json.Number("1709634030.123456789"), "unix", refTime.Add(123456789)},
		{"json.Number unix_ms with a fraction", json.Number("1709634030123.5"), "unix_ms", refTimeMs.Add(500 * time.Microsecond)},
		{"json.Number with an exponent", json.Number("1.70963403e+09"), "unix", refTime},
		{"json.Number with a negative exponent", json.Number("1709634030123e-3"), "unix", refTimeMs},
		{"json.Number unix_ms with an exponent", json.Number("1.709634030123E12"), "unix_ms", refTimeMs},
		{"json.Number tiny", json.Number("1e-10"), "unix", time.Unix(0, 0)},
		{"json.Number negative", json.Number("-1.5"), "unix", time.Unix(-2, 5e8)},
		{"float64 unix with ms", 1709634030.123, "unix", refTimeMs},
		{"float64 unix_ms", float64(1709634030123), "unix_ms", refTimeMs},
		{"int unix_ms", 1709634030123, "unix_ms", refTimeMs},
		{"int64 unix", int64(1709634030), "unix", refTime},
		{"big.Int unix", big.NewInt(1709634030), "unix", refTime},
		{"float64 unix", float64(1709634030), "unix", refTime},
		{"int unix", 1709634030, "unix", refTime},
		{"string rfc3339", "2024-03-05T10:20:30Z", "rfc3339", refTime},
		{"string unix", "1709634030", "unix", refTime},
		{"string layout", "2024-03-05 10:20:30", "2006-01-02 15:04:05", refTime},
	}
	for _, tc := range tests {
		got, err := spec.ParseTimeValue(tc.in, tc.format)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("%s: ParseTimeValue(%#v, %q) = %v, %v; want %v", tc.name, tc.in, tc.format, got, err, tc.want)
		}
	}

	bad := []struct {
		name   string
		in     any
		format string
		want   string // substring of the error
	}{
		{"null", nil, "rfc3339", "cursor value is null"},
		{"bool", true, "unix", "cursor value true is neither a string nor a number"},
		{"object", map[string]any{"t": 1}, "unix", "is neither a string nor a number"},
		{"number in rfc3339", json.Number("1709634030"), "rfc3339", "is a number but the format is rfc3339; use format unix or unix_ms"},
		{"number in a layout", float64(20240305), "2006-01-02", "is a number but the format is 2006-01-02"},
		{"bad json.Number", json.Number("12abc"), "unix", "12abc"},
		{"bad string", "soon", "unix", `cannot read "soon" as a time in format unix`},
		{"string with an exponent", "1e3", "unix", `cannot read "1e3" as a time in format unix`},
	}
	for _, tc := range bad {
		got, err := spec.ParseTimeValue(tc.in, tc.format)
		if err == nil {
			t.Errorf("%s: ParseTimeValue(%#v, %q) = %v, want an error", tc.name, tc.in, tc.format, got)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not contain %q", tc.name, err, tc.want)
		}
	}

	// Numbers in messages are printed as written, never with an exponent.
	messages := []struct {
		name   string
		in     any
		format string
		want   string
	}{
		{"json.Number", json.Number("1709634030"), "rfc3339",
			"cursor value 1709634030 is a number but the format is rfc3339; use format unix or unix_ms"},
		{"json.Number with a fraction", json.Number("1709634030.120"), "2006-01-02",
			"cursor value 1709634030.120 is a number but the format is 2006-01-02; use format unix or unix_ms"},
		{"float64", float64(1709634030), "rfc3339",
			"cursor value 1709634030 is a number but the format is rfc3339; use format unix or unix_ms"},
		{"large float64", 1.5e20, "rfc3339",
			"cursor value 150000000000000000000 is a number but the format is rfc3339; use format unix or unix_ms"},
		{"float64 layout", float64(20240305), "2006-01-02",
			"cursor value 20240305 is a number but the format is 2006-01-02; use format unix or unix_ms"},
		{"int", 1709634030, "rfc3339",
			"cursor value 1709634030 is a number but the format is rfc3339; use format unix or unix_ms"},
		{"json.Number out of range", json.Number("1e400"), "unix", "cursor value 1e400 is out of range for format unix"},
		{"float64 out of range", 1e30, "unix_ms", "cursor value 1000000000000000000000000000000 is out of range for format unix_ms"},
		{"NaN", math.NaN(), "unix", "cursor value NaN is not a valid number"},
		{"Inf", math.Inf(1), "unix", "cursor value +Inf is not a valid number"},
		{"json.Number NaN", json.Number("NaN"), "unix", "cursor value NaN is not a valid number"},
		{"json.Number with a plus", json.Number("+5"), "unix", "cursor value +5 is not a valid number"},
		{"bool", true, "unix", "cursor value true is neither a string nor a number"},
		{"object", map[string]any{"t": 1}, "unix", `cursor value {"t":1} is neither a string nor a number`},
	}
	for _, tc := range messages {
		_, err := spec.ParseTimeValue(tc.in, tc.format)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: ParseTimeValue(%#v, %q) error:\n got: %v\nwant: %s", tc.name, tc.in, tc.format, err, tc.want)
		}
	}
}
