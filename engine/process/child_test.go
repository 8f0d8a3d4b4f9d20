package process

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/spec"
)

func TestMapChildAddsParentFields(t *testing.T) {
	c, err := spec.Load("c.yaml", []byte(`
provider: c
base_url: https://c.example
interaction_types:
  tickets: {kind: ticket, request: {path: /t}, records: '.[]', id: .id}
  comments:
    kind: note
    request: {path: '/t/${ .parent.id }/c'}
    records: '.[]'
    id: .id
    parent: {type: tickets, fields: {ticket_id: .id, ticket_subject: .subject}}
    deletes: {flag: .deleted}
    fields: {body: .body}
  raw_comments:
    kind: note
    request: {path: '/t/${ .parent.id }/c'}
    records: '.[]'
    id: .id
    parent: {type: tickets, fields: {ticket_id: .id}}
`))
	require.NoError(t, err)
	ctx := context.Background()
	parent := map[string]any{"id": 7, "subject": "Printer on fire"}
	child := map[string]any{"id": 70, "body": "have you tried water", "ticket_id": "overwritten", "deleted": true}

	m := NewMapper(c.InteractionTypes.Map["comments"])
	fields, err := m.ParentFields(ctx, parent)
	require.NoError(t, err)
	got, err := m.MapChild(ctx, child, fields)
	require.NoError(t, err)
	assert.JSONEq(t, `{"body":"have you tried water","ticket_id":7,"ticket_subject":"Printer on fire"}`, string(got.Data))
	assert.True(t, got.Deleted)

	raw := NewMapper(c.InteractionTypes.Map["raw_comments"])
	fields, err = raw.ParentFields(ctx, parent)
	require.NoError(t, err)
	got, err = raw.MapChild(ctx, child, fields)
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":70,"body":"have you tried water","ticket_id":7,"deleted":true}`, string(got.Data), "set on a copy of the raw record")
	assert.JSONEq(t, `{"id":70,"body":"have you tried water","ticket_id":"overwritten","deleted":true}`, string(got.Raw), "the raw record is as sent")
	assert.False(t, got.Deleted, "no deletes section")

	_, err = raw.MapChild(ctx, []any{1}, fields)
	var re *RecordError
	require.ErrorAs(t, err, &re)
}
