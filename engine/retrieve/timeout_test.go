package retrieve_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/spec"
)

// TestTimeoutIsPerRead: the connector timeout bounds the wait for the answer and each
// read of its body, not the whole exchange, so a large body streams for as long as it
// keeps arriving; a body that stops arriving fails the read and is asked for again.
func TestTimeoutIsPerRead(t *testing.T) {
	// slow writes the records one by one, pause apart: four pauses of 150ms make a
	// body that takes longer than the 300ms timeout to arrive, each read well within it.
	slow := func(w http.ResponseWriter, pause time.Duration, n int) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		for i := 1; i <= n; i++ {
			fmt.Fprintf(w, "{\"id\": \"r%02d\"}\n", i)
			w.(http.Flusher).Flush()
			if i < n {
				time.Sleep(pause)
			}
		}
	}
	t.Run("a body that keeps arriving outlasts the timeout", func(t *testing.T) {
		api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) { slow(w, 150*time.Millisecond, 5) })
		c, it := load(t, specOpts{Response: "{format: jsonl}", Records: ".", Timeout: "300ms"})
		start := time.Now()
		got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
		require.NoError(t, err)
		assert.Equal(t, ids(5), got)
		assert.Equal(t, 1, api.Count())
		assert.Greater(t, time.Since(start), 300*time.Millisecond, "the body took longer than the timeout")
	})
	t.Run("time the caller spends between reads does not count", func(t *testing.T) {
		api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
			_, _ = w.Write(bigJSON(3000, ""))
		})
		c, it := load(t, specOpts{Timeout: "200ms"})
		parts := 0
		err := newClient(t, c, api.URL, clientOpts{}).Pages(testCtx(t), it, retrieve.Query{}, func(p retrieve.Page) error {
			parts++
			time.Sleep(250 * time.Millisecond) // committing a part to a slow database
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, 3, parts)
		assert.Equal(t, 1, api.Count())
	})
	t.Run("a body that stops arriving fails and is asked for again", func(t *testing.T) {
		api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				slow(w, time.Second, 2) // stalls after the first line
				return
			}
			slow(w, 0, 2)
		})
		c, it := load(t, specOpts{Response: "{format: jsonl}", Records: ".", Timeout: "200ms", Retries: "1"})
		got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
		require.NoError(t, err)
		assert.Equal(t, ids(2), got)
		assert.Equal(t, 2, api.Count())
	})
	t.Run("stalling every time is a transient failure", func(t *testing.T) {
		api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) { slow(w, time.Second, 2) })
		c, it := load(t, specOpts{Timeout: "200ms", Retries: "1"})
		_, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "the response body stopped arriving (200ms)")
		assert.Equal(t, spec.ClassTransient, retrieve.Classify(err))
		assert.Equal(t, 2, api.Count())
	})
	t.Run("no answer in time", func(t *testing.T) {
		api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
			<-r.Context().Done()
		})
		c, it := load(t, specOpts{Timeout: "100ms", Retries: "0"})
		_, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "timeout: no answer in time (100ms)")
		assert.Equal(t, spec.ClassTransient, retrieve.Classify(err))
	})
}
