// Package fuzzseed writes the seed corpora of the engine's fuzz targets: the files
// under a package's testdata/fuzz/FuzzXxx/ that `go test` runs as ordinary test
// cases and `go test -fuzz` starts mutating from.
//
// Seeds are real-world inputs (bundled connectors, bad specs, overrides, provider
// Link headers, templates), so each package has a test that rewrites its seeds from
// those sources when run with -seeds. Files the fuzzer adds (crashers, named by
// their hash) are kept: only files named seed-* are rewritten.
package fuzzseed

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Seed is one corpus entry: a name (without the seed- prefix) and the values of the
// fuzz function's arguments, in order.
type Seed struct {
	Name   string
	Values []any
}

// Encode renders values in the corpus file format of `go test -fuzz` ("go test fuzz
// v1" and one Go literal per argument). Only the argument types the targets use are
// supported.
func Encode(values ...any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("go test fuzz v1\n")
	for _, v := range values {
		switch x := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", x)
		case string:
			fmt.Fprintf(&b, "string(%q)\n", x)
		case uint8:
			fmt.Fprintf(&b, "byte(%q)\n", x)
		case bool, int, int64, uint, uint64:
			fmt.Fprintf(&b, "%T(%v)\n", x, x)
		default:
			return nil, fmt.Errorf("fuzz seed: unsupported argument type %T", v)
		}
	}
	return b.Bytes(), nil
}

// Write replaces the seed-* files of testdata/fuzz/target (relative to the package
// directory, where tests run) with seeds, leaving every other file in place.
func Write(target string, seeds []Seed) error {
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("fuzz seeds of %s: %w", target, err)
	}
	old, err := filepath.Glob(filepath.Join(dir, "seed-*"))
	if err != nil {
		return fmt.Errorf("fuzz seeds of %s: %w", target, err)
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("fuzz seeds of %s: %w", target, err)
		}
	}
	seen := map[string]bool{}
	for _, s := range seeds {
		name := "seed-" + sanitize(s.Name)
		if seen[name] {
			return fmt.Errorf("fuzz seeds of %s: two seeds named %s", target, name)
		}
		seen[name] = true
		data, err := Encode(s.Values...)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("fuzz seeds of %s: %w", target, err)
		}
	}
	return nil
}

// sanitize makes a seed name a plain file name.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}
