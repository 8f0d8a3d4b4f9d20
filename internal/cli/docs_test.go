package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// docs/cli.md has a section for every command, and each command's flags are named
// in its section (the root's under "Global flags"), so a flag cannot ship
// undocumented.
func TestCLIDocs(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "cli.md"))
	if err != nil {
		t.Fatal(err)
	}
	sections := cliSections(string(doc))
	a := &app{env: Env{
		Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard,
		Getenv:     func(string) string { return "" },
		IsTerminal: func(io.Writer) bool { return false },
	}}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		text, ok := sections["Global flags"], true
		if c.HasParent() {
			text, ok = sectionOf(sections, c.CommandPath())
		}
		if !ok {
			t.Errorf("docs/cli.md has no section for %s", c.CommandPath())
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if !f.Hidden && f.Name != "help" && !strings.Contains(text, "--"+f.Name) {
				t.Errorf("docs/cli.md: the section of %s does not name --%s", c.CommandPath(), f.Name)
			}
		})
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(a.rootCmd())
}

// cliSections maps each "## " heading of docs/cli.md to its text. A heading naming
// two commands ("intake integrations enable ID / disable ID") is entered under both,
// the second completed with the first's leading words.
func cliSections(doc string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(doc, "\n## ")[1:] {
		head, _, _ := strings.Cut(part, "\n")
		alts := strings.Split(head, " / ")
		out[alts[0]] = part
		// The first heading's command words ("intake integrations enable"), up to
		// its first argument or flag.
		var cmd []string
		for _, w := range strings.Fields(alts[0]) {
			if w != strings.ToLower(w) || strings.HasPrefix(w, "-") || strings.HasPrefix(w, "[") {
				break
			}
			cmd = append(cmd, w)
		}
		for _, alt := range alts[1:] {
			if !strings.HasPrefix(alt, "intake ") && len(cmd) > 1 {
				alt = strings.Join(cmd[:len(cmd)-1], " ") + " " + alt
			}
			out[alt] = part
		}
	}
	return out
}

// sectionOf is the text of the section whose heading shares the most leading
// words with the command's path: its own, else its parent's.
func sectionOf(sections map[string]string, path string) (string, bool) {
	pw := strings.Fields(path)
	bestHead, best, bestN := "", "", 1 // "intake" alone is no match
	for head, text := range sections {
		hw := strings.Fields(head)
		n := 0
		for n < len(hw) && n < len(pw) && hw[n] == pw[n] {
			n++
		}
		if n > bestN || (n == bestN && n > 1 && head < bestHead) {
			bestHead, best, bestN = head, text, n
		}
	}
	return best, bestN > 1
}
