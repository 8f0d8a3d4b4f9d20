package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// preview --trace says what pagination: auto found, and shows the parts of a
// response too large to hand over at once.
func TestPreviewTraceAutoDetectionAndParts(t *testing.T) {
	const total = 1203
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		from, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Query().Get("after"), "c"))
		to := min(from+1200, total)
		var data []map[string]any
		for i := from; i < to; i++ {
			data = append(data, map[string]any{"id": fmt.Sprintf("d%04d", i), "name": "Deal"})
		}
		body := map[string]any{"results": data}
		if to < total {
			body["paging"] = map[string]any{"next": map[string]any{"after": fmt.Sprintf("c%d", to)}}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(srv.Close)
	conn := filepath.Join(t.TempDir(), "deals.yaml")
	require.NoError(t, os.WriteFile(conn, []byte(`provider: deals
config: {url: {}}
base_url: '${ .config.url }'
interaction_types:
  deals:
    kind: deal
    request: {path: /deals}
    records: .results[]
    id: .id
    pagination: {type: auto}
`), 0o644))
	r := run(t, nil, "preview", "--connector", conn, "--config", "url="+srv.URL, "--limit", "0", "--trace")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, total, strings.Count(r.stdout, "\n"))
	assert.Contains(t, r.stderr, "  deals page 1 part 1: 1000 records\n")
	assert.Contains(t, r.stderr, "  deals page 1 part 2: 200 records\n")
	assert.Contains(t, r.stderr, "  deals pagination auto-detected: cursor: the next token from .paging.next.after, sent in query parameter after\n")
	assert.Contains(t, r.stderr, "  deals page 2: 3 records\n")
	assert.Contains(t, r.stderr, "/deals?after=c1200 200")
}
