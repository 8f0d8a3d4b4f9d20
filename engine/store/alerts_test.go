package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/secret"
)

func addIntegration(t *testing.T, s *Store, id, customer string) {
	t.Helper()
	require.NoError(t, s.CreateIntegration(context.Background(), Integration{ID: id, CustomerID: customer, Provider: "demo-crm"}, nil, nil))
}

func TestAlertsAndDeliveries(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	at := time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)

	a := &Alert{CreatedAt: at, Kind: AlertSyncFailed, CustomerID: "acme", IntegrationID: "acme-crm", Provider: "demo-crm", Type: "contacts",
		RunID: 7, Class: "transient", Message: "HTTP 503"}
	require.NoError(t, s.CreateAlert(ctx, a, []NewDelivery{
		{Target: TargetOperator, URL: "https://ops.example/hook"},
		{Target: TargetCustomer, URL: "https://acme.example/hook", LastError: "not sent: no key", NextAttemptAt: at.Add(time.Second)},
	}))
	assert.NotZero(t, a.ID)
	require.Len(t, a.Deliveries, 2)
	assert.Equal(t, at, a.Deliveries[0].NextAttemptAt, "due at creation by default")

	b := &Alert{Kind: AlertRecovered, CustomerID: "globex", IntegrationID: "globex-crm", Provider: "demo-crm", Type: "accounts", RunID: 9, Message: "ok again"}
	require.NoError(t, s.CreateAlert(ctx, b, nil))
	assert.Equal(t, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), b.CreatedAt, "the store clock when not given")

	got, err := s.Alert(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, at, got.CreatedAt)
	assert.Equal(t, "contacts", got.Type)
	assert.Equal(t, int64(7), got.RunID)
	assert.Equal(t, "transient", got.Class)
	require.Len(t, got.Deliveries, 2)
	assert.Equal(t, TargetOperator, got.Deliveries[0].Target)
	assert.Equal(t, DeliveryPending, got.Deliveries[0].State())
	assert.Equal(t, "not sent: no key", got.Deliveries[1].LastError)

	_, err = s.Alert(ctx, 999)
	assert.True(t, errors.Is(err, ErrNotFound))

	all, err := s.ListAlerts(ctx, AlertFilter{})
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.Equal(t, b.ID, all[0].ID, "newest first")
	assert.Empty(t, all[0].Deliveries)
	assert.Len(t, all[1].Deliveries, 2)
	for _, f := range []AlertFilter{{IntegrationID: "acme-crm"}, {CustomerID: "acme"}, {Kind: AlertSyncFailed}} {
		l, err := s.ListAlerts(ctx, f)
		require.NoError(t, err)
		require.Len(t, l, 1, "%+v", f)
		assert.Equal(t, a.ID, l[0].ID)
	}
	l, err := s.ListAlerts(ctx, AlertFilter{Limit: 1})
	require.NoError(t, err)
	assert.Len(t, l, 1)

	// Due deliveries, by target and time.
	due, err := s.DueDeliveries(ctx, at, []string{TargetOperator, TargetCustomer}, 0)
	require.NoError(t, err)
	require.Len(t, due, 1)
	assert.Equal(t, TargetOperator, due[0].Target)
	due, err = s.DueDeliveries(ctx, at.Add(time.Second), []string{TargetCustomer}, 0)
	require.NoError(t, err)
	require.Len(t, due, 1)
	assert.Equal(t, TargetCustomer, due[0].Target)
	due, err = s.DueDeliveries(ctx, at.Add(time.Hour), nil, 0)
	require.NoError(t, err)
	assert.Empty(t, due)

	// A claim succeeds once.
	op := a.Deliveries[0]
	ok, err := s.ClaimDelivery(ctx, op, at.Add(2*time.Minute))
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = s.ClaimDelivery(ctx, op, at.Add(2*time.Minute))
	require.NoError(t, err)
	assert.False(t, ok, "another process claimed it first")
	due, err = s.DueDeliveries(ctx, at.Add(time.Minute), []string{TargetOperator}, 0)
	require.NoError(t, err)
	assert.Empty(t, due, "a claimed delivery is not due")

	// A failed attempt, then a delivered one.
	require.NoError(t, s.RecordDelivery(ctx, op.ID, DeliveryResult{Attempted: true, Error: "HTTP 500", At: at, NextAttemptAt: at.Add(time.Minute)}))
	require.NoError(t, s.RecordDelivery(ctx, op.ID, DeliveryResult{URL: "https://ops.example/new", Attempted: true, Delivered: true, At: at.Add(time.Minute)}))
	got, err = s.Alert(ctx, a.ID)
	require.NoError(t, err)
	d := got.Deliveries[0]
	assert.Equal(t, 2, d.Attempts)
	assert.Equal(t, DeliveryDelivered, d.State())
	assert.Equal(t, at.Add(time.Minute), d.DeliveredAt)
	assert.Equal(t, "https://ops.example/new", d.URL)
	assert.Equal(t, "HTTP 500", d.LastError, "the last failure is kept")
	assert.True(t, d.NextAttemptAt.IsZero())

	// Given up: no next attempt, not delivered.
	cu := got.Deliveries[1]
	require.NoError(t, s.RecordDelivery(ctx, cu.ID, DeliveryResult{Attempted: true, Error: "HTTP 404"}))
	got, err = s.Alert(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, DeliveryFailed, got.Deliveries[1].State())
	assert.Equal(t, 1, got.Deliveries[1].Attempts)

	assert.True(t, errors.Is(s.RecordDelivery(ctx, 12345, DeliveryResult{}), ErrNotFound))
}

func TestNextAttemptComparesAsTime(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	// 10:00:00 and 10:00:00.5 would compare the wrong way round as RFC 3339 Nano text.
	at := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)
	a := &Alert{Kind: AlertSyncFailed, CustomerID: "c", IntegrationID: "i", Message: "m"}
	require.NoError(t, s.CreateAlert(ctx, a, []NewDelivery{{Target: TargetOperator, URL: "http://x", NextAttemptAt: at.Add(500 * time.Millisecond)}}))
	due, err := s.DueDeliveries(ctx, at, []string{TargetOperator}, 0)
	require.NoError(t, err)
	assert.Empty(t, due)
	due, err = s.DueDeliveries(ctx, at.Add(time.Second), []string{TargetOperator}, 0)
	require.NoError(t, err)
	assert.Len(t, due, 1)
}

func TestIntegrationStatus(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	addIntegration(t, s, "acme-crm", "acme")

	st, err := s.IntegrationState(ctx, "acme-crm")
	require.NoError(t, err)
	assert.Equal(t, StatusEnabled, st.Status)
	assert.True(t, st.DisabledAt.IsZero())

	require.NoError(t, s.SetIntegrationStatus(ctx, "acme-crm", StatusDisabled, "maintenance"))
	st, err = s.IntegrationState(ctx, "acme-crm")
	require.NoError(t, err)
	assert.Equal(t, StatusDisabled, st.Status)
	assert.Equal(t, "maintenance", st.DisabledReason)
	assert.Equal(t, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), st.DisabledAt)
	in, err := s.Integration(ctx, "acme-crm")
	require.NoError(t, err)
	assert.Equal(t, StatusDisabled, in.Status)

	changed, err := s.DisableIntegration(ctx, "acme-crm", "again")
	require.NoError(t, err)
	assert.False(t, changed, "already disabled")
	st, _ = s.IntegrationState(ctx, "acme-crm")
	assert.Equal(t, "maintenance", st.DisabledReason, "the first reason stands")

	require.NoError(t, s.SetIntegrationStatus(ctx, "acme-crm", StatusEnabled, ""))
	st, err = s.IntegrationState(ctx, "acme-crm")
	require.NoError(t, err)
	assert.Equal(t, StatusEnabled, st.Status)
	assert.True(t, st.DisabledAt.IsZero())
	assert.Empty(t, st.DisabledReason)

	changed, err = s.DisableIntegration(ctx, "acme-crm", "HTTP 401")
	require.NoError(t, err)
	assert.True(t, changed)

	_, err = s.DisableIntegration(ctx, "nope", "x")
	assert.True(t, errors.Is(err, ErrNotFound))
	assert.True(t, errors.Is(s.SetIntegrationStatus(ctx, "nope", StatusEnabled, ""), ErrNotFound))
	assert.ErrorContains(t, s.SetIntegrationStatus(ctx, "acme-crm", "paused", ""), `unknown status "paused"`)

	addIntegration(t, s, "acme-zendesk", "acme")
	addIntegration(t, s, "globex-crm", "globex")
	sts, err := s.IntegrationStates(ctx, "acme")
	require.NoError(t, err)
	require.Len(t, sts, 2)
	assert.Equal(t, "acme-crm", sts[0].ID)
	assert.Equal(t, StatusDisabled, sts[0].Status)
	assert.Equal(t, "acme-zendesk", sts[1].ID)
	assert.Equal(t, StatusEnabled, sts[1].Status)
}

func TestCustomerWebhookIsSealed(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	box := testBox(t, 7)
	addIntegration(t, s, "acme-crm", "acme")
	addIntegration(t, s, "globex-crm", "globex")
	secretValue := []byte("whsec_TopSecretSigningValue42")

	u, sec, err := s.CustomerWebhook(ctx, "acme", box)
	require.NoError(t, err)
	assert.Empty(t, u)
	assert.Nil(t, sec)

	require.NoError(t, s.SetCustomerWebhook(ctx, "acme", "https://acme.example/hooks/intake", secretValue, box))
	u, sec, err = s.CustomerWebhook(ctx, "acme", box)
	require.NoError(t, err)
	assert.Equal(t, "https://acme.example/hooks/intake", u)
	assert.Equal(t, secretValue, sec)

	c, err := s.Customer(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, "https://acme.example/hooks/intake", c.WebhookURL)
	assert.True(t, c.HasWebhookSecret)
	assert.Equal(t, box.KeyID(), c.WebhookKeyID)
	assert.Equal(t, "acme", c.Name)

	// Without the key, or with another one, the secret does not open, and says why.
	_, _, err = s.CustomerWebhook(ctx, "acme", nil)
	assert.True(t, errors.Is(err, secret.ErrNoKey))
	_, _, err = s.CustomerWebhook(ctx, "acme", testBox(t, 8))
	assert.ErrorContains(t, err, "sealed with key "+box.KeyID())

	// The sealed value is bound to its customer: copied to another, it does not open.
	_, err = s.DB().ExecContext(ctx, `UPDATE customers SET webhook_url = 'https://globex.example/h', webhook_secret = (SELECT webhook_secret FROM customers WHERE id = 'acme'), webhook_key_id = ? WHERE id = 'globex'`, box.KeyID())
	require.NoError(t, err)
	_, _, err = s.CustomerWebhook(ctx, "globex", box)
	assert.ErrorContains(t, err, "cannot decrypt")

	assert.ErrorContains(t, s.SetCustomerWebhook(ctx, "acme", "https://acme.example/h", nil, box), "signing secret is required")
	assert.True(t, errors.Is(s.SetCustomerWebhook(ctx, "acme", "https://acme.example/h", secretValue, nil), secret.ErrNoKey))
	assert.True(t, errors.Is(s.SetCustomerWebhook(ctx, "nobody", "https://x.example/h", secretValue, box), ErrNotFound))
	_, err = s.Customer(ctx, "nobody")
	assert.True(t, errors.Is(err, ErrNotFound))
	_, _, err = s.CustomerWebhook(ctx, "nobody", box)
	assert.True(t, errors.Is(err, ErrNotFound))

	require.NoError(t, s.Close())
	for _, f := range []string{path, path + "-wal"} {
		data, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		assert.False(t, bytes.Contains(data, secretValue), "%s holds the webhook secret in clear text", f)
		assert.False(t, bytes.Contains(data, []byte("TopSecret")), "%s holds part of the webhook secret in clear text", f)
	}

	// Removing the webhook clears the URL and the secret.
	s2, err := Open(ctx, path)
	require.NoError(t, err)
	defer s2.Close()
	require.NoError(t, s2.SetCustomerWebhook(ctx, "acme", "", nil, nil))
	c, err = s2.Customer(ctx, "acme")
	require.NoError(t, err)
	assert.Empty(t, c.WebhookURL)
	assert.False(t, c.HasWebhookSecret)
	assert.Empty(t, c.WebhookKeyID)
}
