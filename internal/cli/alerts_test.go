package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/store"
)

// attachAlertCommands adds the alert commands to root where it does not have them
// yet, so these tests run the same before and after they are wired into rootCmd.
func attachAlertCommands(a *app, root *cobra.Command) {
	has := func(parent *cobra.Command, name string) bool {
		for _, c := range parent.Commands() {
			if c.Name() == name {
				return true
			}
		}
		return false
	}
	for _, c := range a.alertCommands() {
		if !has(root, c.Name()) {
			root.AddCommand(c)
		}
	}
	for _, parent := range root.Commands() {
		if parent.Name() != "integrations" {
			continue
		}
		for _, c := range []*cobra.Command{a.integrationsEnableCmd(), a.integrationsDisableCmd()} {
			if !has(parent, c.Name()) {
				parent.AddCommand(c)
			}
		}
	}
}

// runIn is run (cli_test.go) with standard input and the alert commands attached.
func runIn(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{env: Env{
		Stdin:      strings.NewReader(stdin),
		Stdout:     &out,
		Stderr:     &errb,
		Getenv:     func(k string) string { return env[k] },
		IsTerminal: func(io.Writer) bool { return false },
	}}
	root := a.rootCmd()
	attachAlertCommands(a, root)
	root.SetArgs(args)
	root.SetIn(a.env.Stdin)
	root.SetOut(&out)
	root.SetErr(&errb)
	code := 0
	if err := root.ExecuteContext(context.Background()); err != nil {
		code = 1
		var ee exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		fmt.Fprintln(&errb, "intake: "+err.Error())
	}
	return result{code, out.String(), errb.String()}
}

func addDemoIntegration(t *testing.T, env map[string]string, customer string) {
	t.Helper()
	r := runIn(t, env, "", "integrations", "add", "--customer", customer, "--provider", "demo-crm", "--config", "api_url=http://127.0.0.1:1", "--config", "api_key=demo-key")
	require.Equal(t, 0, r.code, r.stderr)
}

func TestAlertsList(t *testing.T) {
	env := testEnv(t)
	addDemoIntegration(t, env, "acme")
	addDemoIntegration(t, env, "globex")

	r := runIn(t, env, "", "alerts", "list")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "no alerts")

	ctx := context.Background()
	db, err := store.Open(ctx, env["INTAKE_DB"])
	require.NoError(t, err)
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	failed := &store.Alert{CreatedAt: at, Kind: store.AlertSyncFailed, CustomerID: "acme", IntegrationID: "acme-demo-crm", Provider: "demo-crm",
		Type: "contacts", RunID: 3, Class: "auth", Message: "GET /v1/contacts: HTTP 401 Unauthorized"}
	require.NoError(t, db.CreateAlert(ctx, failed, []store.NewDelivery{{Target: store.TargetOperator, URL: "https://ops.example/hooks/T0KEN"}, {Target: store.TargetCustomer, URL: "https://acme.example/h"}}))
	require.NoError(t, db.RecordDelivery(ctx, failed.Deliveries[0].ID, store.DeliveryResult{Attempted: true, Delivered: true, At: at}))
	require.NoError(t, db.RecordDelivery(ctx, failed.Deliveries[1].ID, store.DeliveryResult{Attempted: true, Error: "POST https://acme.example: HTTP 503", NextAttemptAt: at.Add(time.Minute)}))
	disabled := &store.Alert{CreatedAt: at, Kind: store.AlertIntegrationDisabled, CustomerID: "acme", IntegrationID: "acme-demo-crm", Provider: "demo-crm",
		Type: "contacts", RunID: 3, Class: "auth", Message: "demo-crm refused the credentials (auth) while syncing contacts"}
	require.NoError(t, db.CreateAlert(ctx, disabled, nil))
	other := &store.Alert{CreatedAt: at.Add(time.Hour), Kind: store.AlertRecovered, CustomerID: "globex", IntegrationID: "globex-demo-crm", Provider: "demo-crm",
		Type: "accounts", RunID: 9, Message: "accounts of globex-demo-crm syncs again, after 2 failed runs"}
	require.NoError(t, db.CreateAlert(ctx, other, nil))
	require.NoError(t, db.Close())

	r = runIn(t, env, "", "alerts", "list")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 4)
	assert.Regexp(t, `^ID\s+CREATED\s+KIND\s+CUSTOMER\s+INTEGRATION\s+TYPE\s+CLASS\s+DELIVERY\s+MESSAGE`, lines[0])
	assert.Regexp(t, `^3\s+2026-03-01T11:00:00Z\s+recovered\s+globex\s+globex-demo-crm\s+accounts\s+-\s+-\s+accounts of globex`, lines[1])
	assert.Regexp(t, `^1\s+.*sync_failed\s+acme\s+acme-demo-crm\s+contacts\s+auth\s+operator delivered, customer pending \(1 tries\)\s+GET /v1/contacts: HTTP 401`, lines[3])
	assert.NotContains(t, r.stdout, "T0KEN", "webhook URLs are not listed")

	r = runIn(t, env, "", "alerts", "list", "--integration", "acme-demo-crm", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	lines = strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 2)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &got))
	assert.Equal(t, "sync_failed", got["kind"])
	assert.Equal(t, "acme", got["customer"])
	assert.Equal(t, "acme-demo-crm", got["integration"])
	assert.Equal(t, "demo-crm", got["provider"])
	assert.Equal(t, "contacts", got["interaction_type"])
	assert.EqualValues(t, 3, got["run_id"])
	assert.Equal(t, "auth", got["class"])
	assert.Equal(t, "2026-03-01T10:00:00Z", got["created_at"])
	ds := got["deliveries"].([]any)
	require.Len(t, ds, 2)
	assert.Equal(t, map[string]any{"target": "operator", "state": "delivered", "attempts": 1.0, "delivered_at": "2026-03-01T10:00:00Z"}, ds[0])
	assert.Equal(t, "pending", ds[1].(map[string]any)["state"])
	assert.Equal(t, "2026-03-01T10:01:00Z", ds[1].(map[string]any)["next_attempt_at"])

	r = runIn(t, env, "", "alerts", "list", "--customer", "globex", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, 1, strings.Count(r.stdout, "\n"))
	assert.Contains(t, r.stdout, `"kind":"recovered"`)

	r = runIn(t, env, "", "alerts", "list", "--limit", "1", "--kind", "integration_disabled")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "integration_disabled")
	assert.NotContains(t, r.stdout, "sync_failed")

	r = runIn(t, env, "", "alerts", "list", "--kind", "oops")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `--kind "oops": use sync_failed, integration_disabled or recovered`)
}

func TestIntegrationsDisableAndEnable(t *testing.T) {
	env := testEnv(t)
	addDemoIntegration(t, env, "acme")

	r := runIn(t, env, "", "integrations", "disable", "acme-demo-crm", "--reason", "customer is migrating")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "disabled integration acme-demo-crm: customer is migrating")
	assert.Contains(t, r.stdout, "intake integrations enable acme-demo-crm")

	r = runIn(t, env, "", "integrations", "list")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `acme-demo-crm\s+acme\s+demo-crm\s+disabled`, r.stdout)

	r = runIn(t, env, "", "sync", "--integration", "acme-demo-crm")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "acme-demo-crm is disabled")

	r = runIn(t, env, "", "customers", "show", "acme")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `acme-demo-crm\s+demo-crm\s+disabled\s+\d{4}-\d\d-\d\dT[\d:]+Z\s+customer is migrating`, r.stdout)

	r = runIn(t, env, "", "integrations", "disable", "acme-demo-crm")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "already disabled")

	r = runIn(t, env, "", "integrations", "enable", "acme-demo-crm")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "enabled integration acme-demo-crm (it was disabled since ")
	assert.Contains(t, r.stdout, ": customer is migrating)")

	r = runIn(t, env, "", "customers", "show", "acme", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var c map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &c))
	assert.Equal(t, []any{map[string]any{"id": "acme-demo-crm", "provider": "demo-crm", "status": "enabled"}}, c["integrations"])

	r = runIn(t, env, "", "integrations", "enable", "acme-demo-crm")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "already enabled")

	r = runIn(t, env, "", "integrations", "enable", "nope")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `integration "nope": not found`)
	r = runIn(t, env, "", "integrations", "disable")
	assert.Equal(t, 1, r.code)
}

func TestCustomersWebhook(t *testing.T) {
	env := testEnv(t)
	addDemoIntegration(t, env, "acme")
	const secretValue = "whsec_0123456789abcdefSECRETVALUE"
	file := filepath.Join(t.TempDir(), "acme.secret")
	require.NoError(t, os.WriteFile(file, []byte(secretValue+"\n"), 0o600))

	r := runIn(t, env, "", "customers", "show", "acme")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "customer:  acme")
	assert.Contains(t, r.stdout, "webhook:   none; set one with `intake customers set-webhook --customer acme")

	r = runIn(t, env, "", "customers", "set-webhook", "--customer", "acme", "--url", "https://acme.example/hooks/intake", "--secret-file", file)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "alerts of customer acme will be posted to https://acme.example/hooks/intake")
	assert.NotContains(t, r.stdout+r.stderr, secretValue)

	r = runIn(t, env, "", "customers", "show", "acme")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `webhook:\s+https://acme.example/hooks/intake \(signing secret \[REDACTED\], key [0-9a-f]+\)`, r.stdout)
	assert.Regexp(t, `acme-demo-crm\s+demo-crm\s+enabled`, r.stdout)
	assert.NotContains(t, r.stdout, secretValue)
	r = runIn(t, env, "", "customers", "show", "acme", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"webhook_url":"https://acme.example/hooks/intake"`)
	assert.Contains(t, r.stdout, `"webhook_secret":"[REDACTED]"`)
	assert.NotContains(t, r.stdout, secretValue)

	// The secret is stored sealed, and opens with the key.
	ctx := context.Background()
	db, err := store.Open(ctx, env["INTAKE_DB"])
	require.NoError(t, err)
	box, err := (&app{env: Env{Getenv: func(k string) string { return env[k] }}}).box()
	require.NoError(t, err)
	u, sec, err := db.CustomerWebhook(ctx, "acme", box)
	require.NoError(t, err)
	assert.Equal(t, "https://acme.example/hooks/intake", u)
	assert.Equal(t, secretValue, string(sec), "the final newline of the file is not part of the secret")
	require.NoError(t, db.Close())
	for _, f := range []string{env["INTAKE_DB"], env["INTAKE_DB"] + "-wal"} {
		data, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		assert.False(t, bytes.Contains(data, []byte(secretValue)), "%s holds the webhook secret in clear text", f)
	}

	// From standard input.
	r = runIn(t, env, "another-secret-from-stdin-0123456789\n", "customers", "set-webhook", "--customer", "acme", "--url", "https://acme.example/v2", "--secret-file", "-")
	require.Equal(t, 0, r.code, r.stderr)
	r = runIn(t, env, "", "customers", "show", "acme")
	assert.Contains(t, r.stdout, "https://acme.example/v2")

	// Refused: a secret on the command line, a short secret, a bad URL, no key, an unknown customer.
	r = runIn(t, env, "", "customers", "set-webhook", "--customer", "acme", "--url", "https://acme.example/h", "--secret", secretValue)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "unknown flag: --secret")
	r = runIn(t, env, "", "customers", "set-webhook", "--customer", "acme", "--url", "https://acme.example/h")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "--url and --secret-file are required")
	r = runIn(t, env, "short\n", "customers", "set-webhook", "--customer", "acme", "--url", "https://acme.example/h", "--secret-file", "-")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "at least 16 bytes")
	assert.NotContains(t, r.stderr, "short\n")
	r = runIn(t, env, "", "customers", "set-webhook", "--customer", "acme", "--url", "acme.example/h", "--secret-file", file)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "absolute http:// or https:// URL")
	r = runIn(t, env, "", "customers", "set-webhook", "--customer", "initech", "--url", "https://initech.example/h", "--secret-file", file)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `customer "initech": not found`)
	noKey := map[string]string{"INTAKE_DB": env["INTAKE_DB"], "INTAKE_SECRET_KEY_FILE": filepath.Join(t.TempDir(), "missing.key")}
	r = runIn(t, noKey, "", "customers", "set-webhook", "--customer", "acme", "--url", "https://acme.example/h", "--secret-file", file)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "secret key")
	r = runIn(t, env, "", "customers", "show", "initech")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `customer "initech": not found`)

	// Removed.
	r = runIn(t, env, "", "customers", "set-webhook", "--customer", "acme", "--clear")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "removed the alert webhook of customer acme")
	r = runIn(t, env, "", "customers", "show", "acme")
	assert.Contains(t, r.stdout, "webhook:   none")
	r = runIn(t, env, "", "customers", "set-webhook", "--customer", "acme", "--clear", "--url", "https://x.example")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "takes no --url")
}
