package config_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/config"
	"github.com/intakehq/intake/engine/spec"
)

var update = flag.Bool("update", false, "rewrite testdata/config/expected.golden from the current loader output")

const (
	repoRoot   = "../.."
	badDir     = "testdata/config"
	goldenFile = "testdata/config/expected.golden"
)

// badConfigs is the table of broken intake.yaml files: each file under
// testdata/config has one mistake (several_errors has several), and want is the full
// error text. The same messages are kept in testdata/config/expected.golden
// (go test ./engine/config -run TestBadConfigs -update rewrites it).
var badConfigs = []struct{ file, want string }{
	{"unknown_key.bad.yml", `testdata/config/unknown_key.bad.yml:3:1: wokers: unknown key "wokers" (did you mean "workers"?)`},
	{"unknown_nested_key.bad.yml", `testdata/config/unknown_nested_key.bad.yml:2:3: lease.duraton: unknown key "duraton" (did you mean "duration"?)`},
	{"unknown_key_no_match.bad.yml", `testdata/config/unknown_key_no_match.bad.yml:3:3: admin.port: unknown key "port" (allowed: listen, public_url, token)`},
	{"workers_not_a_number.bad.yml", `testdata/config/workers_not_a_number.bad.yml:1:10: workers: must be a whole number (got "four")`},
	{"workers_out_of_range.bad.yml", `testdata/config/workers_out_of_range.bad.yml:1:10: workers: must be between 1 and 1000 (got 0)`},
	{"bad_duration.bad.yml", `testdata/config/bad_duration.bad.yml:2:13: lease.duration: must be a duration such as 30s, 5m, 1h30m or 7d (got "2 minutes")`},
	{"heartbeat_too_slow.bad.yml", `testdata/config/heartbeat_too_slow.bad.yml:4:14: lease.heartbeat: (45s) must be at most half of lease.duration (1m), so that a lease survives one missed heartbeat`},
	{"missing_env.bad.yml", `testdata/config/missing_env.bad.yml:3:10: admin.token: environment variable INTAKE_TEST_UNSET_ADMIN_TOKEN is not set (write ${INTAKE_TEST_UNSET_ADMIN_TOKEN:-default} for a default)`},
	{"bad_interpolation.bad.yml", `testdata/config/bad_interpolation.bad.yml:1:26: store: ${DB PASSWORD}: write ${NAME} or ${NAME:-default} with NAME an environment variable name, or $${ for a literal ${`},
	{"unclosed_interpolation.bad.yml", `testdata/config/unclosed_interpolation.bad.yml:1:25: connectors: ${ without a closing }: write ${NAME}, or $${ for a literal ${`},
	{"store_scheme.bad.yml", `testdata/config/store_scheme.bad.yml:1:8: store: "mysql://intake@db/intake": use a SQLite file path or a postgres:// URL`},
	{"listen_not_host_port.bad.yml", `testdata/config/listen_not_host_port.bad.yml:2:11: admin.listen: "localhost" is not HOST:PORT (e.g. 127.0.0.1:8780, or :8780 for every interface)`},
	{"short_token.bad.yml", "testdata/config/short_token.bad.yml:2:10: admin.token: must be at least 16 characters (got 7); generate one with `openssl rand -hex 32`"},
	{"public_url.bad.yml", `testdata/config/public_url.bad.yml:2:15: admin.public_url: must be an absolute http:// or https:// URL (got "connect.example.com")`},
	{"log_level.bad.yml", `testdata/config/log_level.bad.yml:2:10: log.level: must be debug, info, warn or error (got "verbose")`},
	{"jitter_too_large.bad.yml", `testdata/config/jitter_too_large.bad.yml:2:11: schedule.jitter: must be a fraction of the frequency between 0 and 0.5 (got 0.9)`},
	{"retry_max_below_min.bad.yml", `testdata/config/retry_max_below_min.bad.yml:3:14: schedule.retry_max: (5m) must be at least schedule.retry_min (10m)`},
	{"provider_concurrency.bad.yml", `testdata/config/provider_concurrency.bad.yml:3:18: providers.hubspot.concurrency: must be at least 1 (got 0); remove the provider for no cap beyond workers`},
	{"webhook_without_secret.bad.yml", `testdata/config/webhook_without_secret.bad.yml:3:5: alerts.webhook: needs a signing secret: secret (e.g. ${INTAKE_ALERT_WEBHOOK_SECRET}) or secret_file`},
	{"webhook_two_secrets.bad.yml", `testdata/config/webhook_two_secrets.bad.yml:3:5: alerts.webhook: set secret or secret_file, not both`},
	{"webhook_bad_url.bad.yml", `testdata/config/webhook_bad_url.bad.yml:3:10: alerts.webhook.url: webhook URL must be an absolute http:// or https:// URL`},
	{"webhook_secret_file_missing.bad.yml", `testdata/config/webhook_secret_file_missing.bad.yml:4:18: alerts.webhook.secret_file: open testdata/config/no-such-webhook.secret: no such file or directory`},
	{"duplicate_key.bad.yml", `testdata/config/duplicate_key.bad.yml:3:1: workers: is set twice (first on line 1)`},
	{"list_for_mapping.bad.yml", `testdata/config/list_for_mapping.bad.yml:2:3: providers: must be a mapping of keys, not a list`},
	{"no_value.bad.yml", `testdata/config/no_value.bad.yml:1:9: workers: has no value; remove the key to use the default`},
	{"yaml_syntax.bad.yml", `testdata/config/yaml_syntax.bad.yml:3:2: invalid YAML: value is not allowed in this context`},
	{"two_documents.bad.yml", `testdata/config/two_documents.bad.yml:2:1: intake.yaml holds one YAML document; found a second one`},
	{"merge_key.bad.yml", "testdata/config/merge_key.bad.yml:1:1: defaults: unknown key \"defaults\" (allowed: admin, alerts, connectors, customers, key_file, lease, log, providers, schedule, shutdown_grace, store, workers)\n" +
		"testdata/config/merge_key.bad.yml:5:5: providers.hubspot: YAML merge keys (<<) are not supported; repeat the keys"},
	{"several_errors.bad.yml", "testdata/config/several_errors.bad.yml:2:10: workers: must be between 1 and 1000 (got -1)\n" +
		"testdata/config/several_errors.bad.yml:3:17: shutdown_grace: must be at least 1s (got 0s)\n" +
		"testdata/config/several_errors.bad.yml:5:11: log.format: must be text or json (got \"xml\")\n" +
		"testdata/config/several_errors.bad.yml:7:18: alerts.disable_after: must be 0 (never) or more (got -2)"},
}

func noEnv(string) string { return "" }

func TestBadConfigs(t *testing.T) {
	t.Chdir(repoRoot)
	files, err := filepath.Glob(badDir + "/*.bad.yml")
	require.NoError(t, err)
	inTable := map[string]bool{}
	var golden bytes.Buffer
	golden.WriteString("# config.Load output for each testdata/config/*.bad.yml in the badConfigs table of engine/config/config_test.go.\n")
	golden.WriteString("# Rewrite with: go test ./engine/config -run TestBadConfigs -update\n")
	for _, tc := range badConfigs {
		inTable[filepath.Join(badDir, tc.file)] = true
		_, err := config.Load(config.Options{File: filepath.Join(badDir, tc.file), Getenv: noEnv})
		require.Error(t, err, tc.file)
		fmt.Fprintf(&golden, "\n== %s\n%s\n", tc.file, err)
		t.Run(strings.TrimSuffix(tc.file, ".bad.yml"), func(t *testing.T) {
			assert.Equal(t, tc.want, err.Error())
			var errs spec.Errors
			require.True(t, errors.As(err, &errs), "error is %T, not spec.Errors", err)
			for _, e := range errs {
				assert.Equal(t, filepath.Join(badDir, tc.file), e.File)
				assert.Positive(t, e.Line, "every problem in a file has a line: %v", e)
			}
		})
	}
	for _, f := range files {
		assert.True(t, inTable[f], "%s is not in the badConfigs table", f)
	}
	if *update {
		require.NoError(t, os.WriteFile(goldenFile, golden.Bytes(), 0o644))
		return
	}
	want, err := os.ReadFile(goldenFile)
	require.NoError(t, err, "run with -update to create it")
	assert.Equal(t, string(want), golden.String(), "%s is out of date; rerun with -update once the change is right", goldenFile)
}

func TestDefaults(t *testing.T) {
	c, err := config.Load(config.Options{Getenv: noEnv})
	require.NoError(t, err)
	assert.Equal(t, "intake.db", c.Store)
	assert.Equal(t, "connectors", c.Connectors)
	assert.Equal(t, "customers", c.Customers)
	assert.Equal(t, 4, c.Workers)
	assert.Equal(t, 2*time.Minute, c.Lease.Duration.D())
	assert.Equal(t, 30*time.Second, c.Lease.Heartbeat.D())
	assert.Equal(t, time.Hour, c.Schedule.DefaultFrequency.D())
	assert.Equal(t, 0.1, c.Schedule.Jitter)
	assert.Equal(t, "127.0.0.1:8780", c.Admin.Listen)
	assert.Equal(t, "", c.Admin.Token)
	assert.Equal(t, 10, c.Alerts.DisableAfter)
	assert.Nil(t, c.Alerts.Webhook)
	assert.Equal(t, 30*time.Second, c.ShutdownGrace.D())
	assert.Equal(t, config.Log{Level: "info", Format: "text"}, c.Log)
	assert.Equal(t, "", c.File)
}

// full.yml sets every key; paths are relative to the file's directory.
func TestFullConfig(t *testing.T) {
	env := map[string]string{"INTAKE_ADMIN_TOKEN_FILE_VALUE": "", "PGPASSWORD_INTAKE": "s3cret", "INTAKE_ADMIN_TOKEN_V": "0123456789abcdef0123", "WEBHOOK_SECRET": "fedcba9876543210fedcba"}
	c, err := config.Load(config.Options{File: filepath.Join(repoRoot, "testdata/config/full.yml"), Getenv: func(k string) string { return env[k] }})
	require.NoError(t, err)
	dir := filepath.Join(repoRoot, "testdata/config")
	assert.Equal(t, "postgres://intake:s3cret@db.internal:5432/intake?sslmode=require", c.Store)
	assert.Equal(t, "postgres://intake:xxxxx@db.internal:5432/intake?sslmode=require", c.StoreShown())
	assert.Equal(t, filepath.Join(dir, "connectors"), c.Connectors)
	assert.Equal(t, "/etc/intake/customers", c.Customers)
	assert.Equal(t, filepath.Join(dir, "secret.key"), c.KeyFile)
	assert.Equal(t, 8, c.Workers)
	assert.Equal(t, config.Lease{Duration: config.Duration(3 * time.Minute), Heartbeat: config.Duration(45 * time.Second)}, c.Lease)
	assert.Equal(t, config.Schedule{DefaultFrequency: config.Duration(30 * time.Minute), Jitter: 0.2, RetryMin: config.Duration(30 * time.Second), RetryMax: config.Duration(2 * time.Hour)}, c.Schedule)
	assert.Equal(t, map[string]int{"hubspot": 2, "zendesk": 4}, c.ProviderCaps())
	assert.Equal(t, config.Admin{Listen: "0.0.0.0:8780", Token: "0123456789abcdef0123", PublicURL: "https://connect.example.com"}, c.Admin)
	require.NotNil(t, c.Alerts.Webhook)
	assert.Equal(t, "https://ops.example.com/hooks/intake", c.Alerts.Webhook.URL)
	hook, err := c.OperatorWebhook()
	require.NoError(t, err)
	assert.Equal(t, "fedcba9876543210fedcba", string(hook.Secret))
	assert.Equal(t, 5, c.Alerts.DisableAfter)
	assert.Equal(t, 2*time.Minute, c.Alerts.FlushEvery.D())
	assert.Equal(t, time.Minute, c.ShutdownGrace.D())
	assert.Equal(t, config.Log{Level: "debug", Format: "json"}, c.Log)
}

// Flags win over the file, the file over the environment, the environment over
// defaults.
func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "intake.yaml")
	require.NoError(t, os.WriteFile(file, []byte("workers: 6\nconnectors: specs\nlog:\n  level: debug\n"), 0o644))
	env := map[string]string{"INTAKE_DB": "/var/lib/intake/env.db", "INTAKE_CONNECTORS": "/env/connectors", "INTAKE_LOG_LEVEL": "warn", "INTAKE_LOG_FORMAT": "json"}
	getenv := func(k string) string { return env[k] }

	c, err := config.Load(config.Options{File: file, Getenv: getenv})
	require.NoError(t, err)
	assert.Equal(t, "/var/lib/intake/env.db", c.Store, "environment over default")
	assert.Equal(t, filepath.Join(dir, "specs"), c.Connectors, "file over environment, relative to the file")
	assert.Equal(t, "debug", c.Log.Level, "file over environment")
	assert.Equal(t, "json", c.Log.Format, "environment over default")
	assert.Equal(t, 6, c.Workers)

	workers, level, store := 2, "error", "other.db"
	c, err = config.Load(config.Options{File: file, Getenv: getenv, Flags: config.Flags{Workers: &workers, LogLevel: &level, Store: &store}})
	require.NoError(t, err)
	assert.Equal(t, 2, c.Workers, "flag over file")
	assert.Equal(t, "error", c.Log.Level, "flag over file")
	assert.Equal(t, "other.db", c.Store, "flag over environment, relative to the working directory")

	// A bad value from a flag or a variable is named as such.
	bad := 0
	_, err = config.Load(config.Options{Getenv: func(k string) string {
		if k == "INTAKE_LOG_LEVEL" {
			return "loud"
		}
		return ""
	}, Flags: config.Flags{Workers: &bad}})
	require.Error(t, err)
	assert.Equal(t, "flag --workers: workers: must be between 1 and 1000 (got 0)\n"+
		"environment variable INTAKE_LOG_LEVEL: log.level: must be debug, info, warn or error (got \"loud\")", err.Error())
}

func TestInterpolation(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "intake.yaml")
	write := func(text string) {
		require.NoError(t, os.WriteFile(file, []byte(text), 0o644))
	}
	env := map[string]string{"DB_PASSWORD": "p@ss$word", "WORKERS": "12", "TOKEN": "not-a-number-secret-value"}
	getenv := func(k string) string { return env[k] }

	write("store: postgres://intake:${DB_PASSWORD}@db/intake\nworkers: ${WORKERS}\nadmin:\n  listen: ${ADMIN_LISTEN:-127.0.0.1:9900}\n  public_url: https://x.example/$$path\n")
	c, err := config.Load(config.Options{File: file, Getenv: getenv})
	require.NoError(t, err)
	assert.Equal(t, "postgres://intake:p@ss$word@db/intake", c.Store)
	assert.Equal(t, 12, c.Workers)
	assert.Equal(t, "127.0.0.1:9900", c.Admin.Listen)
	assert.Equal(t, "https://x.example/$path", c.Admin.PublicURL)

	// A value read from the environment is never quoted in an error: it may be secret.
	write("workers: ${TOKEN}\n")
	_, err = config.Load(config.Options{File: file, Getenv: getenv})
	require.Error(t, err)
	assert.Equal(t, file+":1:10: workers: must be a whole number (got the value of $TOKEN)", err.Error())
	write("log:\n  level: '${TOKEN}'\n")
	_, err = config.Load(config.Options{File: file, Getenv: getenv})
	require.Error(t, err)
	assert.Equal(t, file+":2:10: log.level: must be debug, info, warn or error (got the value of $TOKEN)", err.Error())
}

func TestEnvironmentWebhook(t *testing.T) {
	env := map[string]string{"INTAKE_ALERT_WEBHOOK_URL": "https://ops.example.com/h", "INTAKE_ALERT_WEBHOOK_SECRET": "0123456789abcdef0123"}
	c, err := config.Load(config.Options{Getenv: func(k string) string { return env[k] }})
	require.NoError(t, err)
	hook, err := c.OperatorWebhook()
	require.NoError(t, err)
	assert.Equal(t, "https://ops.example.com/h", hook.URL)

	env["INTAKE_ALERT_WEBHOOK_SECRET"] = "short"
	_, err = config.Load(config.Options{Getenv: func(k string) string { return env[k] }})
	require.ErrorContains(t, err, "environment: alerts.webhook: operator webhook (INTAKE_ALERT_WEBHOOK_URL): webhook secret must be at least 16 bytes")
}

// docs/config.md documents every key, and its full example loads.
func TestConfigDocs(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs/config.md"))
	require.NoError(t, err)
	var keys []string
	var walk func(reflect.Type, string)
	walk = func(t reflect.Type, prefix string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() == reflect.Map {
			walk(t.Elem(), prefix+"NAME.")
			return
		}
		for i := range t.NumField() {
			tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			ft := t.Field(i).Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct || ft.Kind() == reflect.Map {
				walk(ft, prefix+tag+".")
				continue
			}
			keys = append(keys, prefix+tag)
		}
	}
	walk(reflect.TypeOf(config.Config{}), "")
	sort.Strings(keys)
	for _, k := range keys {
		assert.Contains(t, string(doc), "| `"+k+"` |", "docs/config.md has no table row for %s", k)
	}
	// The documented example is a valid file.
	m := regexp.MustCompile("(?s)<!-- example -->\n```yaml\n(.*?)```").FindSubmatch(doc)
	require.NotNil(t, m, "docs/config.md has no <!-- example --> yaml block")
	file := filepath.Join(t.TempDir(), "intake.yaml")
	require.NoError(t, os.WriteFile(file, m[1], 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(file), "webhook.secret"), []byte("0123456789abcdef0123456789abcdef\n"), 0o600))
	env := map[string]string{"INTAKE_DB_PASSWORD": "pw", "INTAKE_ADMIN_TOKEN": "0123456789abcdef0123456789abcdef"}
	_, err = config.Load(config.Options{File: file, Getenv: func(k string) string { return env[k] }})
	require.NoError(t, err)
}

// intake.yaml's syntax errors are placed as the spec loader places a connector's
// (spec.SyntaxError): inside the line they name, and, past a flow nesting of 100,
// with yaml.v3's own message instead of a second parse whose time grows with the
// square of the nesting.
func TestSyntaxErrorPositions(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		// The input FuzzLoadSpec found for the spec loader: goccy/go-yaml places
		// the error at column 15 of a 9-character line.
		{"after a multi-line scalar", "provider: helpdesk\ncredentialope  token:\n    description: AP token.\nbase_urlp httpses:\n  ti://api.helpdesk.ùexample/v2\nauth:\n  type: bearer\ninteracvion_types:\n  ticket:\n    kind: ticket\n    request:\n      path: /tickets\n    records: \".tickets[] | select(.status == \\\"s:\nn\\\"\t | ]\"\n    id: .id/",
			`intake.yaml:14:10: invalid YAML: value is not allowed in this context. map key-value is pre-defined`},
		{"deep flow nesting", "workers: " + strings.Repeat("[", 5000),
			`intake.yaml:1:1: invalid YAML: did not find expected node content`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "intake.yaml")
			require.NoError(t, os.WriteFile(file, []byte(tc.yaml), 0o600))
			_, err := config.Load(config.Options{File: file, Getenv: func(string) string { return "" }})
			require.Error(t, err)
			assert.Equal(t, tc.want, strings.ReplaceAll(err.Error(), file, "intake.yaml"))
		})
	}
}
