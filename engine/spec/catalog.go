package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Catalog is the set of connectors the engine knows: the bundled ones, replaced by
// same-named files from a connectors directory.
type Catalog struct {
	byProvider map[string]*Connector
	// Problems lists specs that failed to load; the rest of the catalog still works.
	Problems []error
	// CustomersDir holds override files: CustomersDir/CUSTOMER/PROVIDER.yaml.
	CustomersDir string
	// overrides, once SnapshotOverrides has run, holds every override file by
	// customer/provider; the files are then no longer read from disk.
	overrides map[string]snapshotOverride
}

type snapshotOverride struct {
	o   *Override
	err error
}

// LoadCatalog loads bundled specs from bundled (may be nil) and then *.yaml and *.yml
// from dir (may be "" or absent). A spec in dir replaces a bundled spec of the same
// provider; two specs in dir naming one provider is a problem.
func LoadCatalog(dir string, bundled fs.FS) *Catalog {
	cat := &Catalog{byProvider: map[string]*Connector{}}
	if bundled != nil {
		names, _ := fs.Glob(bundled, "*.yaml")
		for _, n := range names {
			c, err := LoadFS(bundled, n, "bundled:"+n)
			if err != nil {
				cat.Problems = append(cat.Problems, err)
				continue
			}
			cat.byProvider[c.Provider] = c
		}
	}
	if dir == "" {
		return cat
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return cat
	}
	if err != nil {
		cat.Problems = append(cat.Problems, fmt.Errorf("read connectors directory: %w", err))
		return cat
	}
	fromDir := map[string]string{}
	for _, e := range entries {
		ext := path.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		file := filepath.Join(dir, e.Name())
		c, err := LoadFile(file)
		if err != nil {
			cat.Problems = append(cat.Problems, err)
			continue
		}
		if prev, dup := fromDir[c.Provider]; dup {
			cat.Problems = append(cat.Problems, fmt.Errorf("%s: provider %q is already defined in %s", file, c.Provider, prev))
			continue
		}
		fromDir[c.Provider] = file
		cat.byProvider[c.Provider] = c
	}
	return cat
}

// Get returns the connector of a provider.
func (c *Catalog) Get(provider string) (*Connector, error) {
	if conn, ok := c.byProvider[provider]; ok {
		return conn, nil
	}
	msg := fmt.Sprintf("no connector for provider %q (known: %s)", provider, strings.Join(c.Providers(), ", "))
	if len(c.Problems) > 0 {
		return nil, fmt.Errorf("%s; some specs did not load:\n%w", msg, errors.Join(c.Problems...))
	}
	return nil, errors.New(msg)
}

// Providers lists the known provider names.
func (c *Catalog) Providers() []string {
	out := make([]string, 0, len(c.byProvider))
	for p := range c.byProvider {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// OverrideError is an override that cannot be applied. It fails one integration, never
// the catalog.
type OverrideError struct {
	Customer, Provider string
	Err                error
}

func (e *OverrideError) Error() string {
	return fmt.Sprintf("override of %s for customer %s: %v", e.Provider, e.Customer, e.Err)
}
func (e *OverrideError) Unwrap() error { return e.Err }

// OverrideFile reads the customer's override of a provider from CustomersDir (or
// from the snapshot, see SnapshotOverrides), nil if there is none.
func (c *Catalog) OverrideFile(customer, provider string) (*Override, error) {
	if c.overrides != nil {
		f := c.overrides[customer+"/"+provider]
		return f.o, f.err
	}
	return c.readOverride(customer, provider)
}

// SnapshotOverrides reads every override file under CustomersDir
// (CUSTOMER/PROVIDER.yaml or .yml) into memory and applies each to its provider's
// spec, returning every problem found. From then on the catalog serves overrides
// from memory: an edit on disk takes effect with a new catalog only, which a daemon
// can check before it replaces the one it runs with. A file with a problem still
// fails its integrations (with the same error) as it would without a snapshot.
func (c *Catalog) SnapshotOverrides() []error {
	c.overrides = map[string]snapshotOverride{}
	if c.CustomersDir == "" {
		return nil
	}
	customers, err := os.ReadDir(c.CustomersDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return []error{fmt.Errorf("read customers directory: %w", err)}
	}
	var problems []error
	for _, cd := range customers {
		if !cd.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(c.CustomersDir, cd.Name()))
		if err != nil {
			problems = append(problems, fmt.Errorf("read overrides of customer %s: %w", cd.Name(), err))
			continue
		}
		for _, f := range files {
			ext := path.Ext(f.Name())
			if f.IsDir() || (ext != ".yaml" && ext != ".yml") {
				continue
			}
			customer, provider := cd.Name(), strings.TrimSuffix(f.Name(), ext)
			key := customer + "/" + provider
			if _, done := c.overrides[key]; done {
				continue // .yaml and .yml: the first read (.yaml) is the one used
			}
			o, err := c.readOverride(customer, provider)
			if err == nil && o != nil {
				if base, gerr := c.Get(provider); gerr != nil {
					err = fmt.Errorf("%s: no connector for provider %q", filepath.Join(c.CustomersDir, customer, f.Name()), provider)
				} else if _, aerr := Apply(base, o); aerr != nil {
					err = aerr
				}
			}
			c.overrides[key] = snapshotOverride{o: o, err: err}
			if err != nil {
				problems = append(problems, err)
			}
		}
	}
	return problems
}

func (c *Catalog) readOverride(customer, provider string) (*Override, error) {
	if c.CustomersDir == "" {
		return nil, nil
	}
	for _, ext := range []string{".yaml", ".yml"} {
		file := filepath.Join(c.CustomersDir, customer, provider+ext)
		data, err := os.ReadFile(file)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		o, err := ParseOverride(file, data)
		if err != nil {
			return nil, err
		}
		if o.Customer != customer {
			return nil, Errors{{File: file, Line: o.custLine, Col: o.custCol, Path: "customer", Msg: fmt.Sprintf("is %q, but the file is in the folder of customer %q", o.Customer, customer)}}
		}
		return o, nil
	}
	return nil, nil
}

// Effective returns a customer's view of a provider: the provider's spec with the
// customer's override file and then attached (an override attached to one
// integration, "" for none, named attachedName in errors) applied. Layers is nil when
// there is nothing to apply.
func (c *Catalog) Effective(customer, provider, attached, attachedName string) (*Connector, *Layers, error) {
	base, err := c.Get(provider)
	if err != nil {
		return nil, nil, err
	}
	var layers []*Override
	o, err := c.OverrideFile(customer, provider)
	if err != nil {
		return nil, nil, &OverrideError{Customer: customer, Provider: provider, Err: err}
	}
	if o != nil {
		layers = append(layers, o)
	}
	if attached != "" {
		a, err := ParseOverride(attachedName, []byte(attached))
		if err != nil {
			return nil, nil, &OverrideError{Customer: customer, Provider: provider, Err: err}
		}
		layers = append(layers, a)
	}
	if len(layers) == 0 {
		return base, nil, nil
	}
	l, err := Apply(base, layers...)
	if err != nil {
		return nil, nil, &OverrideError{Customer: customer, Provider: provider, Err: err}
	}
	return l.Connector, l, nil
}
