package process

import (
	"encoding/json"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/spec"
)

func TestCursorSend(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 500_000_000, time.UTC)
	for _, tc := range []struct {
		format, filter string
		c              Cursor
		want           any
	}{
		{"rfc3339", "inclusive", TimeCursor(at), "2026-03-01T12:00:00Z"}, // floored: safe with >=
		{"rfc3339", "exclusive", TimeCursor(at), "2026-03-01T11:59:59Z"}, // one second less: > reads 12:00:00 again
		{"unix", "exclusive", TimeCursor(at), "1772366399"},              // 12:00:00 is 1772366400
		{"unix_ms", "exclusive", TimeCursor(at), "1772366400499"},        // one millisecond less
		{"2006-01-02", "exclusive", TimeCursor(at), "2026-02-28"},        // one day less
		{"integer", "inclusive", IntCursor(42), json.Number("42")},       // a number in a JSON body
		{"integer", "exclusive", IntCursor(42), json.Number("41")},       //
		{"rfc3339", "exclusive", Cursor{}, nil},                          // no cursor: nothing sent
	} {
		c, err := spec.Load("c.yaml", []byte(`
provider: c
base_url: https://c.example
interaction_types:
  items:
    kind: item
    request: {path: /items}
    records: .[]
    id: .id
    incremental: {cursor: .at, format: '`+tc.format+`', filter: `+tc.filter+`}
`))
		require.NoError(t, err)
		assert.Equal(t, tc.want, tc.c.Send(c.InteractionTypes.Map["items"].Incremental), "%s %s", tc.format, tc.filter)
	}
}

func TestCursorParseAndCompare(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want Cursor
		err  string
	}{
		{json.Number("17"), IntCursor(17), ""},
		{"  18 ", IntCursor(18), ""},
		{float64(19), IntCursor(19), ""},
		{big.NewInt(20), IntCursor(20), ""},
		{json.Number("1.5"), Cursor{}, `cursor value "1.5" is not an integer (format integer)`},
		{"abc", Cursor{}, `cursor value "abc" is not an integer (format integer)`},
		{nil, Cursor{}, "cursor value is null"},
		{true, Cursor{}, "cursor value true is neither an integer nor a string of digits"},
		{new(big.Int).Lsh(big.NewInt(1), 70), Cursor{}, "out of range"},
	} {
		got, err := ParseCursorValue(tc.v, spec.FormatInteger)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, "%v", tc.v)
			continue
		}
		require.NoError(t, err, "%v", tc.v)
		assert.Equal(t, tc.want, got)
	}

	stored, err := ParseCursor("123", spec.FormatInteger)
	require.NoError(t, err)
	assert.Equal(t, "123", stored.String())
	assert.True(t, IntCursor(124).After(stored))
	assert.True(t, Cursor{}.Before(stored), "no cursor is before every cursor")
	_, err = ParseCursor("2026-01-01T00:00:00Z", spec.FormatInteger)
	assert.ErrorContains(t, err, "is not an integer")
	_, err = ParseCursor("42", "rfc3339")
	assert.ErrorContains(t, err, "is not a timestamp")

	// Salesforce's SystemModstamp and Jira's updated carry an offset without a colon.
	sf, err := ParseCursorValue("2024-01-15T10:00:00.000+0000", "rfc3339")
	require.NoError(t, err)
	assert.Equal(t, "2024-01-15T10:00:00Z", sf.String())
	jira, err := ParseCursorValue("2024-01-15T20:30:41.015+1000", "unix_ms")
	require.NoError(t, err)
	assert.Equal(t, TimeCursor(time.Date(2024, 1, 15, 10, 30, 41, 15_000_000, time.UTC)), jira)

	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	tc, err := ParseCursor(TimeCursor(at).String(), "unix")
	require.NoError(t, err)
	assert.True(t, tc.Time().Equal(at), "the stored form keeps nanoseconds")
	assert.Equal(t, 0, tc.Compare(TimeCursor(at)))
	assert.Equal(t, "2026-01-02T03:04:05.000000006Z", tc.String())
}
