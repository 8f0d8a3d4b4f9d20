package retrieve_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/retrieve"
)

// TestStreamingKeepsMemoryFlat streams a response far larger than the heap it may use
// through Pages: the mock writes the body as it goes (it never exists whole), and the
// callback samples the heap after every part. Were the body read whole, or the records
// of a response kept, the heap would grow with the body.
func TestStreamingKeepsMemoryFlat(t *testing.T) {
	// Held whole, a body would take its size and its decoded records about three
	// times that: the bound is generous yet far below either.
	big, small, heapBound := 200<<20, 100<<20, int64(64<<20)
	if raceEnabled || testing.Short() {
		big, small, heapBound = 16<<20, 16<<20, 12<<20
	}
	// Less slack between collections makes the peak a measure of what is live.
	defer debug.SetGCPercent(debug.SetGCPercent(50))
	payload := strings.Repeat("x", 1000)
	formats := []struct {
		name, response, records string
		size                    int
		head, tail              string
		line                    func(i int) string
	}{
		{"JSON", "", ".data[]", big, `{"object": "list", "data": [`, `], "next": null}`,
			func(i int) string {
				sep := ","
				if i == 1 {
					sep = ""
				}
				return fmt.Sprintf(`%s{"id": "r%07d", "payload": "%s"}`, sep, i, payload)
			}},
		{"JSON Lines", "{format: jsonl}", ".", small, "", "",
			func(i int) string { return fmt.Sprintf("{\"id\": \"r%07d\", \"payload\": \"%s\"}\n", i, payload) }},
		{"CSV", "{format: csv}", ".", small, "id,payload\n", "",
			func(i int) string { return fmt.Sprintf("r%07d,%s\n", i, payload) }},
	}
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			n := f.size / (len(f.line(2)))
			api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, _ int) {
				bw := bufio.NewWriterSize(w, 64<<10)
				bw.WriteString(f.head)
				for i := 1; i <= n; i++ {
					bw.WriteString(f.line(i))
				}
				bw.WriteString(f.tail)
				_ = bw.Flush()
			})
			c, it := load(t, specOpts{Response: f.response, Records: f.records})
			cl := newClient(t, c, api.URL, clientOpts{})

			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			base := ms.HeapInuse
			var peak uint64
			got := 0
			err := cl.Pages(streamCtx(t), it, retrieve.Query{}, func(p retrieve.Page) error {
				for _, rec := range p.Records {
					got++
					if id := rec.(map[string]any)["id"]; id != fmt.Sprintf("r%07d", got) {
						return fmt.Errorf("record %d has id %v", got, id)
					}
				}
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
				return nil
			})
			require.NoError(t, err)
			assert.Equal(t, n, got)
			grew := int64(peak) - int64(base)
			t.Logf("%s: %d records, %d MiB streamed; heap in use grew by at most %d MiB", f.name, n, f.size>>20, grew>>20)
			assert.Less(t, grew, heapBound, "the heap grew with the body")
		})
	}
}

func streamCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
