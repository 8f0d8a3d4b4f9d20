package config_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/intakehq/intake/engine/config"
	"github.com/intakehq/intake/engine/spec"
)

// FuzzLoadConfig: config.Load never panics or hangs on any intake.yaml; every
// problem in the file is reported at a line of the file and a column of that line
// (as spec.YAMLLines numbers them); and loading is deterministic. The seeds are the
// files of testdata/config.
func FuzzLoadConfig(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join(repoRoot, badDir, "*.yml"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seeds in %s: %v", badDir, err)
	}
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(t.TempDir(), "intake.yaml")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		load := func() (string, error) {
			done := make(chan struct{})
			var c *config.Config
			var err error
			go func() {
				defer close(done)
				c, err = config.Load(config.Options{File: file, Getenv: noEnv})
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("config.Load took more than 10s on %q", data)
			}
			b, jerr := json.Marshal(c)
			if jerr != nil {
				t.Fatalf("the loaded configuration does not encode: %v", jerr)
			}
			return string(b), err
		}
		c1, err1 := load()
		c2, err2 := load()
		if fmt.Sprint(err1) != fmt.Sprint(err2) || c1 != c2 {
			t.Fatalf("loading the same bytes twice differed:\n%v\n%s\n---\n%v\n%s", err1, c1, err2, c2)
		}
		if err1 == nil {
			return
		}
		var errs spec.Errors
		if !errors.As(err1, &errs) {
			if strings.HasPrefix(err1.Error(), "read config:") {
				return
			}
			t.Fatalf("error is %T, not spec.Errors: %v", err1, err1)
		}
		lines := spec.YAMLLines(data)
		for _, e := range errs {
			if e.File != file || e.Line == 0 {
				continue // a flag, a variable or a file the config names
			}
			if e.Line < 0 || e.Line > len(lines) || e.Col < 1 {
				t.Fatalf("error at line %d, column %d of a file of %d lines: %v", e.Line, e.Col, len(lines), e)
			}
			if n := utf8.RuneCountInString(lines[e.Line-1]); e.Col > n+1 {
				t.Fatalf("error at column %d of line %d, %q (%d characters): %v", e.Col, e.Line, lines[e.Line-1], n, e)
			}
		}
	})
}
