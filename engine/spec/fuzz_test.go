package spec_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/internal/fuzzseed"
)

// The fuzz targets of the spec loader and of override layering. Their seed corpora in
// testdata/fuzz/ run as ordinary tests; `make fuzz` mutates them. The seeds are the
// bundled connectors, the bad specs, the cookbook and override cases:
// go test ./engine/spec -run TestFuzzSeeds -seeds rewrites them from those files.

var writeSeeds = flag.Bool("seeds", false, "rewrite the seed-* files of testdata/fuzz from the bundled connectors and test fixtures")

// maxLoad bounds one load (or layering) of a fuzz input. A spec of a few kilobytes
// loads in milliseconds; the bound is far above that, so that a loaded machine or the
// race detector does not trip it, and far below a pathological input's hours.
const maxLoad = 10 * time.Second

// bounded runs fn and fails the test when it takes longer than maxLoad.
func bounded[T any](t *testing.T, what string, fn func() (T, error)) (T, error) {
	t.Helper()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-time.After(maxLoad):
		// The stacks say where it is stuck: a fuzz worker's own output is not shown.
		buf := make([]byte, 1<<20)
		t.Fatalf("%s took more than %v; goroutines:\n%s", what, maxLoad, buf[:runtime.Stack(buf, true)])
		panic("unreachable")
	}
}

// FuzzLoadSpec: spec.Load never panics or hangs on any bytes; every error names the
// file (FILE:LINE:COL: or FILE: at the start of each message) at a line of the file;
// and loading is deterministic: the same bytes give the same connector or the same
// errors.
func FuzzLoadSpec(f *testing.F) {
	const name = "fuzz.yaml"
	f.Fuzz(func(t *testing.T, data []byte) {
		load := func() (*spec.Connector, error) { return spec.Load(name, data) }
		c, err := bounded(t, "Load", load)
		c2, err2 := bounded(t, "Load", load)
		if err != nil {
			checkRefusal(t, err, map[string][]string{name: spec.YAMLLines(data)})
			if err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("loading the same bytes twice gave different errors:\n%v\n---\n%v", err, err2)
			}
			return
		}
		if c.File != name || c.Provider == "" {
			t.Fatalf("loaded connector has file %q and provider %q", c.File, c.Provider)
		}
		if err2 != nil {
			t.Fatalf("the same bytes loaded once and then failed: %v", err2)
		}
		if a, b := toJSON(t, c), toJSON(t, c2); a != b {
			t.Fatalf("loading the same bytes twice gave different connectors:\n%s\n---\n%s", a, b)
		}
	})
}

// overrideBases are the provider specs FuzzOverrideLayering layers onto, picked by its
// first argument: the override tests' bases and bundled connectors with customizable
// paths of their own.
var overrideBases = []string{
	"testdata/overrides/base/crm.yaml",
	"testdata/overrides/example-salesforce/base.yaml",
	"testdata/overrides/example-zendesk-vip/base.yaml",
	"testdata/overrides/replace-list/base.yaml",
	"connectors/zendesk.yaml",
	"connectors/hubspot.yaml",
	"connectors/postgres.yaml",
	"connectors/csv-files.yaml",
}

// overrideSep splits one fuzz input into several override files, applied in order.
const overrideSep = "\n#--- next override ---\n"

// FuzzOverrideLayering: parsing an override and applying it to a provider's spec never
// panics or hangs; errors name one of the files; an accepted override gives an
// effective spec that explain prints as a spec which loads to the same connector;
// applying an empty override changes nothing, and applying the last override again
// changes nothing (unless it creates types with extends, which may happen once).
func FuzzOverrideLayering(f *testing.F) {
	bases := make([]*spec.Connector, len(overrideBases))
	baseLines := make([][]string, len(overrideBases))
	for i, p := range overrideBases {
		data, err := os.ReadFile(filepath.Join(repoRoot, p))
		if err != nil {
			f.Fatal(err)
		}
		c, err := spec.Load(p, data)
		if err != nil {
			f.Fatal(err)
		}
		bases[i], baseLines[i] = c, spec.YAMLLines(data)
	}
	empty := func(provider string) *spec.Override {
		o, err := spec.ParseOverride("empty.yaml", []byte("customer: acme\nprovider: "+provider+"\n"))
		if err != nil {
			f.Fatal(err)
		}
		return o
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		base := bases[int(which)%len(bases)]
		files := map[string][]string{base.File: baseLines[int(which)%len(bases)]}
		var ovs []*spec.Override
		for i, part := range strings.Split(string(data), overrideSep) {
			name := "override-" + string(rune('1'+i)) + ".yaml"
			files[name] = spec.YAMLLines([]byte(part))
			o, err := bounded(t, "ParseOverride", func() (*spec.Override, error) { return spec.ParseOverride(name, []byte(part)) })
			if err != nil {
				checkRefusal(t, err, files)
				return
			}
			ovs = append(ovs, o)
		}
		apply := func(ovs ...*spec.Override) (*spec.Layers, error) {
			return bounded(t, "Apply", func() (*spec.Layers, error) { return spec.Apply(base, ovs...) })
		}
		l, err := apply(ovs...)
		if err != nil {
			checkRefusal(t, err, files)
			return
		}
		eff := toJSON(t, l.Connector)

		// Explain prints the effective spec with where each value came from; read back
		// as a spec, it is the same connector.
		out, err := l.Explain(nil, false)
		if err != nil {
			t.Fatalf("explain of an accepted override: %v", err)
		}
		back, err := spec.Load("explained.yaml", out)
		if err != nil {
			t.Fatalf("explain printed a spec that does not load: %v\n%s", err, out)
		}
		if got := toJSON(t, back); got != eff {
			t.Fatalf("explain printed a different spec:\n%s\n--- effective:\n%s\n--- explain:\n%s", got, eff, out)
		}
		if _, err := l.Explain(nil, true); err != nil {
			t.Fatalf("explain --diff of an accepted override: %v", err)
		}

		// An empty override is the identity, after the others as on the bare spec.
		le, err := apply(append(ovs, empty(base.Provider))...)
		if err != nil {
			t.Fatalf("adding an empty override made an accepted one fail: %v", err)
		}
		if got := toJSON(t, le.Connector); got != eff {
			t.Fatalf("an empty override changed the effective spec:\n%s\n---\n%s", got, eff)
		}
		// Maps merge by key, and scalars, lists and removals replace: applying the
		// last override twice is applying it once. A custom type is created once.
		if last := data[bytes.LastIndex(data, []byte(overrideSep))+1:]; !bytes.Contains(last, []byte("extends")) {
			l2, err := apply(append(ovs, ovs[len(ovs)-1])...)
			if err != nil {
				t.Fatalf("applying the last override again made it fail: %v", err)
			}
			if got := toJSON(t, l2.Connector); got != eff {
				t.Fatalf("applying the last override again changed the effective spec:\n%s\n---\n%s", got, eff)
			}
		}
	})
}

// TestEmptyOverrideIsIdentity: on every bundled connector, layering no override or an
// empty one gives the connector itself.
func TestEmptyOverrideIsIdentity(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot, "connectors", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no bundled connectors: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			base, err := spec.LoadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			o, err := spec.ParseOverride("empty.yaml", []byte("customer: acme\nprovider: "+base.Provider+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			want := toJSON(t, base)
			for _, ovs := range [][]*spec.Override{nil, {o}, {o, o}} {
				l, err := spec.Apply(base, ovs...)
				if err != nil {
					t.Fatalf("%d empty overrides: %v", len(ovs), err)
				}
				if got := toJSON(t, l.Connector); got != want {
					t.Errorf("%d empty overrides changed the spec:\n%s\n---\n%s", len(ovs), got, want)
				}
			}
		})
	}
}

// checkRefusal checks a refusal: an Errors list whose every message starts with one
// of the files, at a line and column inside it (files without lines: anywhere).
// Columns count characters, as YAML positions do.
func checkRefusal(t *testing.T, err error, files map[string][]string) {
	t.Helper()
	var es spec.Errors
	if !errors.As(err, &es) || len(es) == 0 {
		t.Fatalf("error is %T, not spec.Errors: %v", err, err)
	}
	for _, e := range es {
		lines, ok := files[e.File]
		if !ok {
			t.Fatalf("error names file %q, not one of the files: %v", e.File, e)
		}
		if !strings.HasPrefix(e.Error(), e.File+":") || e.Msg == "" {
			t.Fatalf("error does not start with FILE: or has no message: %q", e.Error())
		}
		if e.Line < 0 || (e.Line > 0 && e.Col < 1) {
			t.Fatalf("error at line %d, column %d: %v", e.Line, e.Col, e)
		}
		if lines == nil || e.Line == 0 {
			continue
		}
		if e.Line > len(lines) {
			t.Fatalf("error at line %d of a file of %d lines: %v", e.Line, len(lines), e)
		}
		if n := utf8.RuneCountInString(lines[e.Line-1]); e.Col > n+1 {
			t.Fatalf("error at column %d of line %d, %q (%d characters): %v", e.Col, e.Line, lines[e.Line-1], n, e)
		}
	}
}

func keys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func toJSON(t *testing.T, c *spec.Connector) string {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("connector to JSON: %v", err)
	}
	return string(b)
}

// TestFuzzSeeds rewrites the seed corpora with -seeds; without it, it checks that
// each target has seeds.
func TestFuzzSeeds(t *testing.T) {
	if !*writeSeeds {
		for _, target := range []string{"FuzzLoadSpec", "FuzzOverrideLayering"} {
			if m, _ := filepath.Glob(filepath.Join("testdata", "fuzz", target, "seed-*")); len(m) == 0 {
				t.Errorf("%s has no seeds: run go test ./engine/spec -run TestFuzzSeeds -seeds", target)
			}
		}
		return
	}
	read := func(pattern string) map[string][]byte {
		files, err := filepath.Glob(filepath.Join(repoRoot, pattern))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]byte{}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(repoRoot, f)
			out[rel] = data
		}
		return out
	}
	var load []fuzzseed.Seed
	add := func(files map[string][]byte) {
		for name, data := range files {
			load = append(load, fuzzseed.Seed{Name: strings.ReplaceAll(name, "/", "_"), Values: []any{data}})
		}
	}
	add(read("connectors/*.yaml"))
	add(read("connectors/examples/*.yaml"))
	add(read("testdata/specs/bad/*.yaml"))
	add(read("testdata/specs/examples/*.yaml"))
	add(read("testdata/overrides/*/base.yaml"))
	add(read("testdata/overrides/base/*.yaml"))
	// What the loader must refuse in bounded time: aliases inside themselves and
	// nested aliases that expand exponentially.
	load = append(load,
		fuzzseed.Seed{Name: "alias-cycle", Values: []any{[]byte("provider: p\ninteraction_types: &a {t: *a}\n")}},
		fuzzseed.Seed{Name: "alias-bomb", Values: []any{[]byte(aliasBomb(9))}},
	)
	if err := fuzzseed.Write("FuzzLoadSpec", load); err != nil {
		t.Fatal(err)
	}

	var layer []fuzzseed.Seed
	baseOf := func(dir string) uint8 {
		for i, b := range overrideBases {
			if b == "testdata/overrides/"+dir+"/base.yaml" {
				return uint8(i)
			}
		}
		return 0
	}
	dirs, err := filepath.Glob(filepath.Join(repoRoot, "testdata/overrides/*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		case_ := filepath.Base(dir)
		files := read("testdata/overrides/" + case_ + "/override*.yaml")
		if len(files) == 0 {
			continue
		}
		names := make([]string, 0, len(files))
		for n := range files {
			names = append(names, n)
		}
		sort.Strings(names) // override.yaml, or override-1.yaml, override-2.yaml, ...
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = string(files[n])
		}
		layer = append(layer, fuzzseed.Seed{Name: case_, Values: []any{baseOf(case_), []byte(strings.Join(parts, overrideSep))}})
	}
	for _, ex := range []struct {
		name  string
		which uint8
		data  string
	}{
		{"zendesk-rate-limit", 4, "customer: acme\nprovider: zendesk\nrate_limit: {requests: 30, per: 1m}\nsync_every: 15m\n"},
		{"zendesk-vip", 4, "customer: acme\nprovider: zendesk\ninteraction_types:\n  vip:\n    extends: tickets\n    filter: any(.tags[]?; . == \"vip\")\n  contacts:\n    fields: {phone: null, tier: .user_fields.tier}\n"},
		{"hubspot-fields", 5, "customer: acme\nprovider: hubspot\ninteraction_types:\n  contacts:\n    fields:\n      lifecycle: .properties.lifecyclestage\n    pagination: {limit: 50}\n"},
		{"postgres-where", 6, "customer: acme\nprovider: postgres\ninteraction_types:\n  contacts:\n    query: {where: \"region = 'eu'\", limit: 500}\n"},
		{"csv-files", 7, "customer: acme\nprovider: csv-files\ninteraction_types:\n  contacts:\n    files: {delimiter: ';'}\n"},
		{"alias-bomb", 0, "customer: acme\nprovider: crm\n" + aliasBomb(9)},
	} {
		layer = append(layer, fuzzseed.Seed{Name: ex.name, Values: []any{ex.which, []byte(ex.data)}})
	}
	if err := fuzzseed.Write("FuzzOverrideLayering", layer); err != nil {
		t.Fatal(err)
	}
}

// aliasBomb is a "billion laughs" YAML: levels of lists of nine aliases to the level
// below, 9^levels values once expanded.
func aliasBomb(levels int) string {
	var b strings.Builder
	b.WriteString("kinds: &l0 [x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= levels; i++ {
		ref := "*l" + string(rune('0'+i-1))
		b.WriteString("k" + string(rune('0'+i)) + ": &l" + string(rune('0'+i)) + " [" + strings.Repeat(ref+", ", 8) + ref + "]\n")
	}
	return b.String()
}
