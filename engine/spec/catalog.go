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

// OverrideFile reads the customer's override of a provider from CustomersDir, nil if
// there is none.
func (c *Catalog) OverrideFile(customer, provider string) (*Override, error) {
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
