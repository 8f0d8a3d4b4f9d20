package spec_test

import (
	"os"
	"strings"
	"testing"

	"github.com/intakehq/intake/engine/spec"
)

// TestCookbookPaginationAndBodies loads every YAML example of the Pagination and
// Response bodies sections of docs/cookbook.md: each is a complete connector spec.
func TestCookbookPaginationAndBodies(t *testing.T) {
	data, err := os.ReadFile(repoRoot + "/docs/cookbook.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]bool{"## Pagination": true, "## Response bodies": true}
	var section, block string
	inBlock, n := false, 0
	for i, line := range strings.Split(string(data), "\n") {
		switch {
		case !inBlock && strings.HasPrefix(line, "## "):
			section = line
		case !inBlock && line == "```yaml" && sections[section]:
			inBlock, block = true, ""
		case inBlock && line == "```":
			inBlock = false
			n++
			name := "docs/cookbook.md#" + strings.TrimPrefix(section, "## ") + "@" + strings.TrimSpace(strings.Split(block, "\n")[0])
			if _, err := spec.Load(name, []byte(block)); err != nil {
				t.Errorf("the example ending on line %d does not load:\n%v", i+1, err)
			}
		case inBlock:
			block += line + "\n"
		}
	}
	if n < 15 {
		t.Errorf("found %d examples; the two sections hold at least 15", n)
	}
}

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
