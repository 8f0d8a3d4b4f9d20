package process

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

// ticketMapper maps a ticket type with the given links section.
func ticketMapper(t *testing.T, links string) *Mapper {
	t.Helper()
	y := `provider: zendesk
base_url: http://x
interaction_types:
  organizations: {kind: account, request: {path: /o}, records: '.[]', id: .id}
  users: {kind: contact, request: {path: /u}, records: '.[]', id: .id}
  tickets:
    kind: ticket
    request: {path: /t}
    records: '.[]'
    id: .id
    fields:
      organization_id: .organization_id
      requester_id: .requester_id
      requester: .via.from
      assoc: .associations
    links:
` + links
	c, err := spec.Load("zendesk.yaml", []byte(y))
	require.NoError(t, err)
	return NewMapper(c.InteractionTypes.Map["tickets"])
}

func TestRefs(t *testing.T) {
	ctx := context.Background()
	m := ticketMapper(t, `      account: {id: .organization_id, domain: .requester.address, type: organizations}
      contact: {id: .requester_id, email: .requester.address, name: .requester.name, type: users}
`)
	refs := func(raw string) []store.Ref {
		t.Helper()
		mapped, err := m.Map(ctx, decode(t, raw))
		require.NoError(t, err)
		r, err := m.Refs(ctx, mapped)
		require.NoError(t, err)
		return r
	}
	// Keys are normalised like match keys: an exact id, a lower-case address, its
	// registrable domain.
	assert.Equal(t, []store.Ref{
		{Role: store.EntityAccount, Type: "organizations", ID: "9007199254740993", Domain: "acme.co.uk"},
		{Role: store.EntityContact, Type: "users", ID: "901", Email: "ana@eu.acme.co.uk", Name: "Ana"},
	}, refs(`{"id":1,"organization_id":9007199254740993,"requester_id":"901","via":{"from":{"address":" Ana@EU.Acme.co.uk ","name":"Ana"}}}`))
	// A mailbox address names the person, never a company.
	assert.Equal(t, []store.Ref{{Role: store.EntityContact, Type: "users", Email: "bob@gmail.com"}},
		refs(`{"id":2,"via":{"from":{"address":"bob@gmail.com"}}}`))
	// Nothing named: no references.
	assert.Empty(t, refs(`{"id":3,"organization_id":null,"requester_id":""}`))

	// Types without links have none.
	plain := mapper(t, "", "")
	mapped, err := plain.Map(ctx, decode(t, `{"id":1}`))
	require.NoError(t, err)
	r, err := plain.Refs(ctx, mapped)
	require.NoError(t, err)
	assert.Nil(t, r)
}

// An id that is a list or an object is a spec that picks the wrong value: the record
// is quarantined with the reason, not linked on a guess.
func TestRefsErrors(t *testing.T) {
	ctx := context.Background()
	cases := []struct{ name, links, rec, want string }{
		{"list id", "      account: {id: .assoc}\n", `{"id":1,"associations":[1,2]}`, "links.account.id: .assoc gave [1,2]; it must yield a string, a number or null"},
		{"jq error", "      contact: {email: .requester | ascii_downcase}\n", `{"id":1,"via":{"from":5}}`, "links.contact.email: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := ticketMapper(t, tc.links)
			mapped, err := m.Map(ctx, decode(t, tc.rec))
			require.NoError(t, err)
			_, err = m.Refs(ctx, mapped)
			var re *RecordError
			require.True(t, errors.As(err, &re), "%v", err)
			assert.Equal(t, "1", re.ExternalID)
			assert.Contains(t, re.Reason, tc.want)
		})
	}
}

// A match mode reaches the keys; the default is create.
func TestKeysMode(t *testing.T) {
	ctx := context.Background()
	for mode, want := range map[string]string{"": spec.ModeCreate, "update_only": spec.ModeUpdateOnly, "link_only": spec.ModeLinkOnly} {
		y := "provider: p\nbase_url: http://x\ninteraction_types:\n  t:\n    kind: contact\n    request: {path: /t}\n    records: .[]\n    id: .id\n"
		if mode != "" {
			y += "    match: {mode: " + mode + "}\n"
		}
		c, err := spec.Load("p.yaml", []byte(y))
		require.NoError(t, err)
		m := NewMapper(c.InteractionTypes.Map["t"])
		mapped, err := m.Map(ctx, decode(t, `{"id":1,"email":"a@b.example"}`))
		require.NoError(t, err)
		k, err := m.Keys(ctx, mapped, time.Now())
		require.NoError(t, err)
		assert.Equal(t, want, k.Mode, mode)
	}
}
