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
