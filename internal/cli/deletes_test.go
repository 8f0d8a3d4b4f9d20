package cli

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/store"
)

// Records the provider deleted are listed with DELETED set, and --deleted hides them
// or lists only them; runs count them.
func TestInteractionsListDeleted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"items":[{"id":1,"title":"kept"},{"id":2,"title":"gone","archived":true},{"id":3,"title":"kept too"}]}`)
	}))
	defer srv.Close()
	env := testEnv(t)
	require.NoError(t, os.MkdirAll(env["INTAKE_CONNECTORS"], 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(env["INTAKE_CONNECTORS"], "notes.yaml"), []byte(`
provider: notes
config: {url: {}}
base_url: '${ .config.url }'
interaction_types:
  items:
    kind: item
    request: {path: /items}
    records: .items[]
    id: .id
    deletes: {flag: .archived}
`), 0o644))
	r := runEntities(t, env, "integrations", "add", "--customer", "acme", "--provider", "notes", "--config", "url="+srv.URL)
	require.Equal(t, 0, r.code, r.stderr)
	r = runEntities(t, env, "sync", "--integration", "acme-notes")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "3 new, 0 updated, 0 unchanged; 1 deleted at the source")

	r = runEntities(t, env, "interactions", "list")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 4)
	assert.Regexp(t, `^INTEGRATION\s+TYPE\s+EXTERNAL ID\s+KIND\s+UPDATED\s+DELETED\s+DATA$`, lines[0])
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if f[2] == "2" {
			assert.Regexp(t, `^\d{4}-\d\d-\d\dT`, f[5], "deleted_at")
		} else {
			assert.Equal(t, "-", f[5])
		}
	}

	ids := func(args ...string) []string {
		r := runEntities(t, env, append([]string{"interactions", "list", "--json"}, args...)...)
		require.Equal(t, 0, r.code, r.stderr)
		var out []string
		for _, it := range jsonLines[store.Interaction](t, r.stdout) {
			out = append(out, it.ExternalID)
			assert.Equal(t, it.ExternalID == "2", it.DeletedAt != "", "deleted_at of %s", it.ExternalID)
		}
		return out
	}
	assert.ElementsMatch(t, []string{"1", "2", "3"}, ids())
	assert.ElementsMatch(t, []string{"1", "3"}, ids("--deleted", "hide"))
	assert.ElementsMatch(t, []string{"2"}, ids("--deleted", "only"))
	r = runEntities(t, env, "interactions", "list", "--deleted", "yes")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `--deleted "yes": use show, hide or only`)

	r = runEntities(t, env, "runs", "list", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"records_deleted":1`)
}
