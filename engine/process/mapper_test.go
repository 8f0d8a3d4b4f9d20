package process

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/spec"
)

func mapper(t *testing.T, fields, incremental string) *Mapper {
	t.Helper()
	y := "provider: p\nbase_url: http://x\ninteraction_types:\n  t:\n    kind: contact\n    request: {path: /t}\n    records: .[]\n    id: .id\n"
	if fields != "" {
		y += "    fields:\n" + fields
	}
	if incremental != "" {
		y += "    incremental: " + incremental + "\n"
	}
	c, err := spec.Load("p.yaml", []byte(y))
	require.NoError(t, err)
	return NewMapper(c.InteractionTypes.Map["t"])
}

func decode(t *testing.T, s string) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	d.UseNumber()
	var v any
	require.NoError(t, d.Decode(&v))
	return v
}

func TestMapKeepsFieldOrderAndExactNumbers(t *testing.T) {
	m := mapper(t, "      zeta: .b\n      alpha: .a | ascii_downcase\n      missing: .nope\n      html: .h\n", "")
	got, err := m.Map(context.Background(), decode(t, `{"id": 9007199254740993, "a": "ANA@X.EXAMPLE", "b": 1.50, "h": "<b>&</b>"}`))
	require.NoError(t, err)
	assert.Equal(t, "9007199254740993", got.ExternalID, "ids beyond 2^53 stay exact")
	assert.Equal(t, `{"zeta":1.50,"alpha":"ana@x.example","missing":null,"html":"<b>&</b>"}`, string(got.Data))
	assert.Equal(t, `{"a":"ANA@X.EXAMPLE","b":1.50,"h":"<b>&</b>","id":9007199254740993}`, string(got.Raw))
	assert.Len(t, got.Hash, 64)
}

func TestMapWithoutFieldsStoresTheRecord(t *testing.T) {
	got, err := mapper(t, "", "").Map(context.Background(), decode(t, `{"id":"a1","x":[1,2]}`))
	require.NoError(t, err)
	assert.Equal(t, string(got.Raw), string(got.Data))
}

func TestHashChangesWithContentOnly(t *testing.T) {
	m := mapper(t, "      name: .name\n", "")
	ctx := context.Background()
	h := func(s string) string {
		got, err := m.Map(ctx, decode(t, s))
		require.NoError(t, err)
		return got.Hash
	}
	assert.Equal(t, h(`{"id":1,"name":"a","z":1}`), h(`{"z":1,"name":"a","id":1}`), "key order does not matter")
	assert.NotEqual(t, h(`{"id":1,"name":"a"}`), h(`{"id":1,"name":"b"}`), "a mapped field changed")
	assert.NotEqual(t, h(`{"id":1,"name":"a"}`), h(`{"id":1,"name":"a","extra":true}`), "an unmapped raw field changed")
}

func TestMapCursor(t *testing.T) {
	got, err := mapper(t, "", "{cursor: .ts, format: unix_ms}").Map(context.Background(), decode(t, `{"id":1,"ts":1767323045123}`))
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 1, 2, 3, 4, 5, 123e6, time.UTC), got.Cursor)
}

func TestRecordErrors(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name, fields, inc, rec, want string
	}{
		{"null id", "", "", `{"id":null}`, "id: .id gave null; it must yield a non-empty string or number"},
		{"empty id", "", "", `{"id":""}`, `id: .id gave ""; it must yield a non-empty string or number`},
		{"object id", "", "", `{"id":{"a":1}}`, `id: .id gave {"a":1}; it must yield a non-empty string or number`},
		{"field error", "      n: .name | ascii_downcase\n", "", `{"id":1,"name":5}`, "fields.n: "},
		{"bad cursor", "", "{cursor: .at}", `{"id":1,"at":"soon"}`, `incremental.cursor: cannot read "soon"`},
		{"null cursor", "", "{cursor: .at}", `{"id":1}`, "incremental.cursor: cursor value is null"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mapper(t, tc.fields, tc.inc).Map(ctx, decode(t, tc.rec))
			var re *RecordError
			require.True(t, errors.As(err, &re), "%v", err)
			assert.Contains(t, re.Reason, tc.want)
		})
	}
}
