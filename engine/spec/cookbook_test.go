package spec_test

import (
	"os"
	"strings"
	"testing"

	"github.com/intakehq/intake/engine/spec"
)

// TestCookbookExamples loads every whole spec in docs/cookbook.md (a yaml block that
// starts with provider:), so the documented examples stay valid.
func TestCookbookExamples(t *testing.T) {
	data, err := os.ReadFile("../../docs/cookbook.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, block := range strings.Split(string(data), "```yaml\n")[1:] {
		body, _, ok := strings.Cut(block, "```")
		if !ok {
			t.Fatalf("yaml block %d is not closed", i+1)
		}
		if !strings.HasPrefix(body, "provider:") {
			continue
		}
		n++
		if _, err := spec.Load("docs/cookbook.md#"+strings.TrimSpace(strings.SplitN(body, "\n", 2)[0]), []byte(body)); err != nil {
			t.Errorf("%v", err)
		}
	}
	if n < 10 {
		t.Errorf("only %d whole specs in the cookbook", n)
	}
}
