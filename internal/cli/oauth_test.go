package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/intakehq/intake/internal/syncbuf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const oauthSpec = `provider: acmecrm
config:
  region: {default: eu}
base_url: 'https://api.acmecrm.example'
auth:
  type: oauth2
  grant: authorization_code
  authorize_url: 'https://login.acmecrm.example/authorize'
  token_url: 'https://login.acmecrm.example/token'
  scopes: [read]
interaction_types:
  accounts:
    kind: account
    request: {path: /accounts}
    records: .records[]
    id: .id
`

// oauthEnv is testEnv with an authorization_code connector in the connectors dir.
func oauthEnv(t *testing.T) map[string]string {
	env := testEnv(t)
	require.NoError(t, os.MkdirAll(env["INTAKE_CONNECTORS"], 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(env["INTAKE_CONNECTORS"], "acmecrm.yaml"), []byte(oauthSpec), 0o644))
	return env
}

// runOAuth runs the CLI like Main does, with the oauth command added to the root when
// the root does not carry it (yet).
func runOAuth(ctx context.Context, env map[string]string, stdin string, stdout, stderr io.Writer, args ...string) int {
	a := &app{env: Env{Stdin: strings.NewReader(stdin), Stdout: stdout, Stderr: stderr,
		Getenv: func(k string) string { return env[k] }, IsTerminal: func(io.Writer) bool { return false }}}
	root := a.rootCmd()
	found := false
	for _, c := range root.Commands() {
		found = found || c.Name() == "oauth"
	}
	if !found {
		root.AddCommand(a.oauthCmd())
	}
	root.SetArgs(args)
	root.SetIn(a.env.Stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		fmt.Fprintln(stderr, "intake: "+err.Error())
		return 1
	}
	return 0
}

func oauthRun(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := runOAuth(context.Background(), env, stdin, &out, &errb, args...)
	return result{code, out.String(), errb.String()}
}

func TestOAuthAppSetAndList(t *testing.T) {
	env := oauthEnv(t)
	const sec = "cli-client-SECRET-9f8e7d"
	secretFile := filepath.Join(t.TempDir(), "secret.txt")
	require.NoError(t, os.WriteFile(secretFile, []byte(sec+"\n"), 0o600))

	r := oauthRun(t, env, "", "oauth", "app", "list")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "no OAuth apps yet")

	r = oauthRun(t, env, "", "oauth", "app", "set", "--provider", "acmecrm", "--client-id", "cid-123", "--client-secret-file", secretFile)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "saved the OAuth app of acmecrm: client id cid-123, client secret [REDACTED]")
	assert.Contains(t, r.stdout, "PUBLIC_URL/oauth/callback")
	assert.NotContains(t, r.stdout+r.stderr, sec)

	// From standard input, with its own redirect URL: replaces the app.
	r = oauthRun(t, env, sec+"-v2\n", "oauth", "app", "set", "--provider", "acmecrm", "--client-id", "cid-456", "--client-secret-file", "-", "--redirect-url", "https://connect.example.test/oauth/callback")
	require.Equal(t, 0, r.code, r.stderr)
	assert.NotContains(t, r.stdout+r.stderr, sec)

	r = oauthRun(t, env, "", "oauth", "app", "list")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "acmecrm")
	assert.Contains(t, r.stdout, "cid-456")
	assert.Contains(t, r.stdout, "[REDACTED]")
	assert.Contains(t, r.stdout, "https://connect.example.test/oauth/callback")
	assert.NotContains(t, r.stdout, "cid-123")
	assert.NotContains(t, r.stdout+r.stderr, sec)

	r = oauthRun(t, env, "", "oauth", "app", "list", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"client_secret":"[REDACTED]"`)
	assert.NotContains(t, r.stdout, sec)

	// The database holds the secret sealed.
	data, err := os.ReadFile(env["INTAKE_DB"])
	require.NoError(t, err)
	assert.False(t, bytes.Contains(data, []byte("SECRET-9f8e7d")))
	if wal, err := os.ReadFile(env["INTAKE_DB"] + "-wal"); err == nil {
		assert.False(t, bytes.Contains(wal, []byte("SECRET-9f8e7d")))
	}

	r = oauthRun(t, env, "", "oauth", "app", "remove", "--provider", "acmecrm")
	require.Equal(t, 0, r.code, r.stderr)
	r = oauthRun(t, env, "", "oauth", "app", "list")
	assert.Contains(t, r.stdout, "no OAuth apps yet")
}

func TestOAuthAppSetRefusals(t *testing.T) {
	env := oauthEnv(t)
	empty := filepath.Join(t.TempDir(), "empty.txt")
	require.NoError(t, os.WriteFile(empty, []byte("\n"), 0o600))
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"secret as a flag", "", []string{"--provider", "acmecrm", "--client-id", "x", "--client-secret", "flag-SECRET-1"}, "unknown flag: --client-secret"},
		{"no secret file", "", []string{"--provider", "acmecrm", "--client-id", "x"}, `"client-secret-file" not set`},
		{"empty secret", "", []string{"--provider", "acmecrm", "--client-id", "x", "--client-secret-file", empty}, "empty"},
		{"two lines", "flag-SECRET-1\nmore\n", []string{"--provider", "acmecrm", "--client-id", "x", "--client-secret-file", "-"}, "more than one line"},
		{"not an oauth provider", "flag-SECRET-1", []string{"--provider", "demo-crm", "--client-id", "x", "--client-secret-file", "-"}, "does not use auth type oauth2 with grant authorization_code"},
		{"unknown provider", "flag-SECRET-1", []string{"--provider", "nope", "--client-id", "x", "--client-secret-file", "-"}, `no connector for provider "nope"`},
		{"bad redirect", "flag-SECRET-1", []string{"--provider", "acmecrm", "--client-id", "x", "--client-secret-file", "-", "--redirect-url", "/cb"}, "--redirect-url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := oauthRun(t, env, tc.stdin, append([]string{"oauth", "app", "set"}, tc.args...)...)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.stderr, tc.want)
			assert.NotContains(t, r.stdout+r.stderr, "flag-SECRET-1")
		})
	}
}

func TestOAuthServe(t *testing.T) {
	env := oauthEnv(t)
	r := oauthRun(t, env, "s3cret-value", "oauth", "app", "set", "--provider", "acmecrm", "--client-id", "cid-123", "--client-secret-file", "-")
	require.Equal(t, 0, r.code, r.stderr)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncbuf.Buffer
	done := make(chan int, 1)
	go func() { done <- runOAuth(ctx, env, "", &out, &errb, "oauth", "serve", "--addr", "127.0.0.1:0") }()

	re := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	var base string
	require.Eventually(t, func() bool {
		m := re.FindStringSubmatch(out.String())
		if m != nil {
			base = m[1]
		}
		return m != nil && strings.Contains(out.String(), "Ctrl-C to stop")
	}, 10*time.Second, 20*time.Millisecond, "stdout: %s\nstderr: %s", &out, &errb)
	printed := out.String()
	assert.Contains(t, printed, base+"/oauth/PROVIDER/start?customer=CUSTOMER")
	assert.Contains(t, printed, "redirect URL:       "+base+"/oauth/callback")
	assert.Contains(t, printed, base+"/oauth/acmecrm/start?customer=CUSTOMER")

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(base + "/oauth/acmecrm/start?customer=acme")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "login.acmecrm.example", loc.Host)
	assert.Equal(t, base+"/oauth/callback", loc.Query().Get("redirect_uri"))
	assert.Equal(t, "cid-123", loc.Query().Get("client_id"))

	resp, err = client.Get(base + "/oauth/callback?state=" + loc.Query().Get("state") + "&error=access_denied")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, string(body), "access_denied")

	cancel()
	select {
	case code := <-done:
		assert.Equal(t, 0, code, errb.String())
	case <-time.After(10 * time.Second):
		t.Fatal("oauth serve did not stop within 10s of cancellation")
	}
	assert.Contains(t, out.String(), "stopped")
	assert.NotContains(t, out.String()+errb.String(), "s3cret-value")
}
