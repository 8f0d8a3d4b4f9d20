package syncbuf

import (
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// Writes from several goroutines all land (run with -race), and a child's output
// copied in by exec does not swallow writes made while the child runs.
func TestConcurrentWrites(t *testing.T) {
	var b Buffer
	cmd := exec.Command("sh", "-c", "sleep 0.2; echo child")
	cmd.Stdout = &b
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				b.Write([]byte("x"))
			}
		})
	}
	wg.Wait()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	if n := strings.Count(got, "x"); n != 800 {
		t.Errorf("%d of 800 writes kept: %q", n, got)
	}
	if !strings.Contains(got, "child\n") {
		t.Errorf("the child's output is missing: %q", got)
	}
	if string(b.Bytes()) != got {
		t.Errorf("Bytes and String differ")
	}
}
