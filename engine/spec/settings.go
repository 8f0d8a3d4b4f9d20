package spec

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Settings are the values an integration supplies, split by section.
type Settings struct {
	Config      map[string]any
	Credentials map[string]any
}

// ParseSettings reads KEY=VALUE pairs (from the command line) into config and
// credentials by the names the spec declares, converting each to its declared type,
// applying defaults and checking required fields, patterns and enums. A key the spec
// does not declare is an error, so a typo never passes silently.
func (c *Connector) ParseSettings(pairs []string) (Settings, error) {
	vals, err := c.ConvertPairs(pairs)
	if err != nil {
		return Settings{}, err
	}
	return c.ResolveSettings(vals)
}

// ConvertPairs reads KEY=VALUE pairs into values of the declared types, without
// checking that every required field is present. A later pair for the same key
// replaces an earlier one. Errors never repeat a value, nor the text of a pair that
// is not KEY=VALUE: it may be a secret pasted without its key.
func (c *Connector) ConvertPairs(pairs []string) (map[string]any, error) {
	raw := map[string]string{}
	var keys []string // in the order given, so that the first bad pair is reported
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return nil, fmt.Errorf(`a setting must be KEY=VALUE; got one without "=" (not shown, it may be secret)`)
		}
		if k == "" {
			return nil, fmt.Errorf(`a setting must be KEY=VALUE; got one with an empty KEY ("=…")`)
		}
		if _, seen := raw[k]; !seen {
			keys = append(keys, k)
		}
		raw[k] = v
	}
	vals := map[string]any{}
	for _, k := range keys {
		v := raw[k]
		f, section := c.field(k)
		if f == nil {
			return nil, fmt.Errorf("%s does not declare %q (config: %s; credentials: %s)", c.Provider, k, list(c.Config.Keys), list(c.Credentials.Keys))
		}
		typed, err := convert(f.Type, v)
		if err != nil {
			if section == "credentials" {
				return nil, fmt.Errorf("credentials.%s: not a valid %s", k, f.Type)
			}
			return nil, fmt.Errorf("config.%s: %w", k, err)
		}
		vals[k] = typed
	}
	return vals, nil
}

// ResolveSettings checks already-typed values (from JSON, say), splitting them into
// config and credentials and applying defaults.
func (c *Connector) ResolveSettings(vals map[string]any) (Settings, error) {
	s := Settings{Config: map[string]any{}, Credentials: map[string]any{}}
	for k := range vals {
		if f, _ := c.field(k); f == nil {
			return Settings{}, fmt.Errorf("%s does not declare %q (config: %s; credentials: %s)", c.Provider, k, list(c.Config.Keys), list(c.Credentials.Keys))
		}
	}
	var missing []string
	for _, sec := range []struct {
		name string
		fs   Ordered[*Field]
		out  map[string]any
	}{{"config", c.Config, s.Config}, {"credentials", c.Credentials, s.Credentials}} {
		for _, k := range sec.fs.Keys {
			f := sec.fs.Map[k]
			v, ok := vals[k]
			if !ok {
				if f.Default != nil {
					sec.out[k] = normalize(f.Default)
				} else if f.IsRequired() {
					missing = append(missing, sec.name+"."+k)
				}
				continue
			}
			if err := f.Check(v); err != nil {
				if sec.name == "credentials" {
					return Settings{}, fmt.Errorf("credentials.%s: invalid value (not shown: it is secret)", k)
				}
				return Settings{}, fmt.Errorf("config.%s: %w", k, err)
			}
			sec.out[k] = v
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return Settings{}, fmt.Errorf("%s needs %s", c.Provider, strings.Join(missing, ", "))
	}
	return s, nil
}

func (c *Connector) field(k string) (*Field, string) {
	if f, ok := c.Config.Get(k); ok {
		return f, "config"
	}
	if f, ok := c.Credentials.Get(k); ok {
		return f, "credentials"
	}
	return nil, ""
}

func convert(typ, v string) (any, error) {
	switch typ {
	case "integer":
		i, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", v)
		}
		return json.Number(strconv.FormatInt(i, 10)), nil
	case "number":
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return nil, fmt.Errorf("%q is not a number", v)
		}
		return json.Number(v), nil
	case "boolean":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%q is not true or false", v)
		}
		return b, nil
	}
	return v, nil
}

// normalize turns YAML-decoded defaults into the JSON value types used elsewhere.
func normalize(v any) any {
	switch x := v.(type) {
	case int:
		return json.Number(strconv.Itoa(x))
	case int64:
		return json.Number(strconv.FormatInt(x, 10))
	case float64:
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64))
	}
	return v
}

func list(keys []string) string {
	if len(keys) == 0 {
		return "none"
	}
	return strings.Join(keys, ", ")
}
