package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEncodeSources(t *testing.T) {
	hub1 := attrSource{provider: "hubspot", at: "2026-01-01T00:00:00Z"}
	hub2 := attrSource{provider: "hubspot", at: "2026-01-02T00:00:00Z"}
	sf := attrSource{provider: "salesforce", at: "2025-12-31T00:00:00Z"}
	for _, tc := range []struct {
		name string
		in   map[string]attrSource
		want string
	}{
		{"none", nil, `[]`},
		{"one source: one group, fields sorted", map[string]attrSource{"title": hub1, "email": hub1, "name": hub1},
			`[{"at":"2026-01-01T00:00:00Z","fields":["email","name","title"],"provider":"hubspot"}]`},
		{"groups by provider, then time", map[string]attrSource{"owner": sf, "tier": hub2, "name": hub1, "phone": hub2},
			`[{"at":"2026-01-01T00:00:00Z","fields":["name"],"provider":"hubspot"},` +
				`{"at":"2026-01-02T00:00:00Z","fields":["phone","tier"],"provider":"hubspot"},` +
				`{"at":"2025-12-31T00:00:00Z","fields":["owner"],"provider":"salesforce"}]`},
		{"escaped as encoding/json does", map[string]attrSource{"a<b>": {provider: "x&y", at: "t"}},
			`[{"at":"t","fields":["a\u003cb\u003e"],"provider":"x\u0026y"}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := encodeSources(tc.in)
			assert.Equal(t, tc.want, got)
			back, err := decodeSources(got)
			require.NoError(t, err)
			assert.Equal(t, len(tc.in), len(back))
			for f, s := range tc.in {
				assert.Equal(t, s, back[f], f)
			}
		})
	}
}

// Rows written before the groups hold attribute → {provider, at}; they read the same.
func TestDecodeSourcesOlderForm(t *testing.T) {
	got, err := decodeSources(`{"email":{"at":"2026-01-01T00:00:00Z","provider":"hubspot"},"tier":{"provider":"salesforce","at":"2026-01-02T00:00:00Z"}}`)
	require.NoError(t, err)
	assert.Equal(t, map[string]attrSource{
		"email": {provider: "hubspot", at: "2026-01-01T00:00:00Z"},
		"tier":  {provider: "salesforce", at: "2026-01-02T00:00:00Z"},
	}, got)
	got, err = decodeSources(`{}`) // the column's default
	require.NoError(t, err)
	assert.Empty(t, got)
	for _, bad := range []string{``, `[{"fields":"email"}]`, `{"email":"hubspot"}`, `[1]`} {
		_, err := decodeSources(bad)
		assert.Error(t, err, bad)
	}

	attrs, err := attributes(`{"email":"ann@acme.com","tier":"gold"}`, `{"email":{"at":"2026-01-01T00:00:00Z","provider":"hubspot"}}`)
	require.NoError(t, err)
	assert.Equal(t, []string{"email", "tier"}, []string{attrs[0].Name, attrs[1].Name})
	assert.Equal(t, "hubspot", attrs[0].Provider)
	assert.Equal(t, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), attrs[0].At)
	assert.Equal(t, "", attrs[1].Provider, "an attribute sources does not name")
}

// A contact whose sources are in the older form is not changed, and puts nothing on
// the change feed, by a record that changes none of its attributes; one that does
// writes the groups.
func TestOlderSourcesFormIsNotAChange(t *testing.T) {
	f := newEntityFixture(t, "salesforce", "hubspot")
	f.commit("salesforce", "contacts", "003", &MatchKeys{Entity: EntityContact, Email: "ann@acme.com", At: at(5), Fields: map[string]any{"title": "CEO"}})
	older := `{"title":{"at":"2026-01-05T00:00:00Z","provider":"salesforce"}}`
	_, err := f.s.DB().Exec(`UPDATE contacts SET sources = ?`, older)
	require.NoError(t, err)
	updates := `SELECT COUNT(*) FROM changes WHERE entity = 'contact' AND op = 'update'`
	before := f.count(updates)

	// Older than salesforce's value: survivorship keeps it.
	f.commit("hubspot", "contacts", "h1", &MatchKeys{Entity: EntityContact, Email: "ann@acme.com", At: at(1), Fields: map[string]any{"title": "Founder"}})
	var data, sources string
	require.NoError(t, f.s.DB().QueryRow(`SELECT data, sources FROM contacts`).Scan(&data, &sources))
	assert.JSONEq(t, `{"title":"CEO"}`, data)
	assert.Equal(t, older, sources)
	assert.Equal(t, before, f.count(updates))

	f.commit("hubspot", "contacts", "h1", &MatchKeys{Entity: EntityContact, Email: "ann@acme.com", At: at(6), Fields: map[string]any{"title": "Founder", "phone": "+1 555"}})
	require.NoError(t, f.s.DB().QueryRow(`SELECT data, sources FROM contacts`).Scan(&data, &sources))
	assert.JSONEq(t, `{"phone":"+1 555","title":"Founder"}`, data)
	assert.Equal(t, `[{"at":"2026-01-06T00:00:00Z","fields":["phone","title"],"provider":"hubspot"}]`, sources)
	assert.Equal(t, before+1, f.count(updates))
}
