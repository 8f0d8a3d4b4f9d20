package cli

// The bundled provider connectors from the command line: `intake validate
// connectors/*.yaml` passes, and `intake preview` against each provider's offline mock
// (internal/providermock) prints mapped records, as docs/providers describes.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/internal/providermock"
)

func TestValidateBundledConnectors(t *testing.T) {
	files, err := filepath.Glob("../../connectors/*.yaml")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 8)
	r := run(t, nil, append([]string{"validate"}, files...)...)
	require.Equal(t, 0, r.code, r.stderr)
	for _, f := range files {
		assert.Contains(t, r.stdout, f+": ok (provider "+strings.TrimSuffix(filepath.Base(f), ".yaml")+",")
	}
}

func TestPreviewBundledProviders(t *testing.T) {
	for _, name := range providermock.Providers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m, err := providermock.New(name, providermock.Common{Now: func() time.Time { return time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC) }, RateLimit: -1})
			require.NoError(t, err)
			_, stop := providermock.Serve(m)
			t.Cleanup(stop)
			// The values file, as `providermock -values` writes it. The data clock is
			// fixed so that Stripe's seeded events are within its 30 days.
			vals := m.Values()
			keys := make([]string, 0, len(vals))
			for k := range vals {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var b strings.Builder
			for _, k := range keys {
				v, _ := json.Marshal(vals[k])
				fmt.Fprintf(&b, "%s: %s\n", k, v)
			}
			file := filepath.Join(t.TempDir(), name+".yaml")
			require.NoError(t, os.WriteFile(file, []byte(b.String()), 0o600))
			specFile := filepath.Join("..", "..", "connectors", name+".yaml")
			conn := loadSpec(t, specFile)
			// One type per run: each run starts with a fresh rate limiter, so even
			// Zendesk's 10 requests a minute lets the first request go at once.
			for _, typ := range conn.InteractionTypes.Keys {
				r := run(t, nil, "preview", "--connector", specFile, "--config-file", file, "--type", typ, "--limit", "2")
				require.Equal(t, 0, r.code, "%s: %s", typ, r.stderr)
				lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
				require.Len(t, lines, 2, "%s: %s", typ, r.stdout)
				for _, l := range lines {
					var rec struct {
						Type string         `json:"type"`
						ID   string         `json:"id"`
						Data map[string]any `json:"data"`
					}
					require.NoError(t, json.Unmarshal([]byte(l), &rec), l)
					assert.Equal(t, typ, rec.Type)
					assert.NotEmpty(t, rec.ID)
					assert.NotEmpty(t, rec.Data)
				}
				for _, k := range conn.Credentials.Keys {
					assert.NotContains(t, r.stdout+r.stderr, fmt.Sprint(vals[k]), "no credential in the output")
				}
			}
		})
	}
}

func loadSpec(t *testing.T, file string) *spec.Connector {
	t.Helper()
	c, err := spec.LoadFile(file)
	require.NoError(t, err)
	return c
}
