package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/intakehq/intake/engine/spec"
)

// decodeFile decodes intake.yaml onto c: only the keys the file sets change. Every
// key must be known and every value of the right type; each problem is reported
// with its line and column.
func (c *Config) decodeFile(file string, data []byte, getenv func(string) string) spec.Errors {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file: defaults
		}
		return spec.Errors{spec.SyntaxError(file, data, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return spec.Errors{{File: file, Line: extra.Line, Col: extra.Column, Msg: "intake.yaml holds one YAML document; found a second one"}}
	}
	n := &root
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil // only comments
	}
	d := &decoder{file: file, getenv: getenv, c: c}
	d.value(n, reflect.ValueOf(c).Elem(), nil)
	if len(d.errs) > 0 {
		return d.errs
	}
	// Paths in the file are relative to the file, wherever the daemon starts.
	if d.set["store"] && !strings.Contains(c.Store, "://") {
		c.Store = resolve(file, strings.TrimPrefix(c.Store, "sqlite:"))
	}
	for key, p := range map[string]*string{"connectors": &c.Connectors, "customers": &c.Customers, "key_file": &c.KeyFile} {
		if d.set[key] {
			*p = resolve(file, *p)
		}
	}
	if d.set["alerts.webhook.secret_file"] && c.Alerts.Webhook != nil {
		c.Alerts.Webhook.SecretFile = resolve(file, c.Alerts.Webhook.SecretFile)
	}
	return nil
}

type decoder struct {
	file   string
	getenv func(string) string
	c      *Config
	errs   spec.Errors
	set    map[string]bool // keys the file set
}

func (d *decoder) fail(n *yaml.Node, path []string, format string, args ...any) {
	d.errs = append(d.errs, &spec.Error{File: d.file, Line: n.Line, Col: n.Column, Path: strings.Join(path, "."), Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) mark(n *yaml.Node, path []string, env string) {
	key := strings.Join(path, ".")
	d.c.origins[key] = origin{source: d.file, line: n.Line, col: n.Column, env: env}
	if d.set == nil {
		d.set = map[string]bool{}
	}
	d.set[key] = true
}

var durationType = reflect.TypeOf(Duration(0))

// kindName is what a Go type is called in errors.
func kindName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration (30s, 5m, 1h30m, 7d)"
	case t.Kind() == reflect.Struct, t.Kind() == reflect.Map, t.Kind() == reflect.Pointer:
		return "a mapping of keys"
	case t.Kind() == reflect.Int:
		return "a whole number"
	case t.Kind() == reflect.Float64:
		return "a number"
	}
	return "a string"
}

func nodeName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return "a " + strings.TrimPrefix(n.ShortTag(), "!!")
}

func (d *decoder) value(n *yaml.Node, v reflect.Value, path []string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	t := v.Type()
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		d.fail(n, path, "has no value; remove the key to use the default")
		return
	}
	switch {
	case t.Kind() == reflect.Pointer:
		// A section given in the file replaces one from the environment whole.
		v.Set(reflect.New(t.Elem()))
		d.value(n, v.Elem(), path)
		return
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "must be %s, not %s", kindName(t), nodeName(n))
			return
		}
		if len(path) > 0 {
			d.mark(n, path, "")
		}
		fields := map[string]int{}
		var names []string
		for i := range t.NumField() {
			tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			fields[tag] = i
			names = append(names, tag)
		}
		d.mapping(n, path, func(k, val *yaml.Node, child []string) {
			i, ok := fields[k.Value]
			if !ok {
				msg := fmt.Sprintf("unknown key %q", k.Value)
				if s := suggest(k.Value, names); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				} else {
					sorted := slices.Clone(names)
					slices.Sort(sorted)
					msg += " (allowed: " + strings.Join(sorted, ", ") + ")"
				}
				d.fail(k, child, "%s", msg)
				return
			}
			d.value(val, v.Field(i), child)
		})
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "must be %s, not %s", kindName(t), nodeName(n))
			return
		}
		d.mark(n, path, "")
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		d.mapping(n, path, func(k, val *yaml.Node, child []string) {
			elem := reflect.New(t.Elem()).Elem()
			if old := v.MapIndex(reflect.ValueOf(k.Value)); old.IsValid() {
				elem.Set(old)
			}
			d.value(val, elem, child)
			v.SetMapIndex(reflect.ValueOf(k.Value), elem)
		})
	default:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "must be %s, not %s", kindName(t), nodeName(n))
			return
		}
		text, env, err := interpolate(n.Value, d.getenv)
		if err != nil {
			at := *n
			var ie *interpolationError
			if errors.As(err, &ie) && !strings.Contains(n.Value[:ie.offset], "\n") {
				// Point at the ${ itself when the scalar is on one line as written.
				switch n.Style {
				case 0:
					at.Column += ie.offset
				case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
					if !strings.ContainsAny(n.Value[:ie.offset], `'"\`) {
						at.Column += ie.offset + 1
					}
				}
			}
			d.fail(&at, path, "%v", err)
			return
		}
		shown := strconv.Quote(text)
		if env != "" {
			shown = "the value of $" + env
		}
		switch {
		case t == durationType:
			dur, err := spec.ParseDuration(strings.TrimSpace(text))
			if err != nil {
				d.fail(n, path, "must be a duration such as 30s, 5m, 1h30m or 7d (got %s)", shown)
				return
			}
			v.SetInt(int64(dur))
		case t.Kind() == reflect.Int:
			i, err := strconv.Atoi(strings.TrimSpace(text))
			if err != nil {
				d.fail(n, path, "must be a whole number (got %s)", shown)
				return
			}
			v.SetInt(int64(i))
		case t.Kind() == reflect.Float64:
			f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
			if err != nil {
				d.fail(n, path, "must be a number (got %s)", shown)
				return
			}
			v.SetFloat(f)
		case t.Kind() == reflect.String:
			v.SetString(text)
		default:
			d.fail(n, path, "internal: cannot decode %s", t)
			return
		}
		d.mark(n, path, env)
	}
}

// mapping calls fn for each key of a mapping, refusing merge keys, keys that are
// not strings and keys given twice.
func (d *decoder) mapping(n *yaml.Node, path []string, fn func(k, v *yaml.Node, child []string)) {
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		child := append(slices.Clone(path), k.Value)
		switch {
		case k.Kind == yaml.ScalarNode && k.Value == "<<":
			d.fail(k, path, "YAML merge keys (<<) are not supported; repeat the keys")
			continue
		case k.Kind != yaml.ScalarNode || k.Tag == "!!null":
			d.fail(k, path, "keys must be plain strings")
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			d.fail(k, child, "is set twice (first on line %d)", prev.Line)
			continue
		}
		seen[k.Value] = k
		fn(k, v, child)
	}
}

var envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// interpolate replaces ${NAME} and ${NAME:-default} with the environment's values
// and $$ with $. It returns the last variable it read (for errors that must not
// quote a value that may be secret). An unset or empty variable without a default is
// an error naming it.
func interpolate(s string, getenv func(string) string) (string, string, error) {
	if !strings.Contains(s, "$") {
		return s, "", nil
	}
	var b strings.Builder
	env := ""
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) || (s[i+1] != '$' && s[i+1] != '{') {
			b.WriteByte(s[i])
			continue
		}
		if s[i+1] == '$' {
			b.WriteByte('$')
			i++
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", "", &interpolationError{i, "${ without a closing }: write ${NAME}, or $${ for a literal ${"}
		}
		inner := s[i+2 : i+end]
		name, def, hasDef := strings.Cut(inner, ":-")
		if !envNameRe.MatchString(name) {
			return "", "", &interpolationError{i, fmt.Sprintf("${%s}: write ${NAME} or ${NAME:-default} with NAME an environment variable name, or $${ for a literal ${", inner)}
		}
		val := getenv(name)
		if val == "" {
			if !hasDef {
				return "", "", &interpolationError{i, fmt.Sprintf("environment variable %s is not set (write ${%s:-default} for a default)", name, name)}
			}
			val = def
		} else {
			env = name
		}
		b.WriteString(val)
		i += end
	}
	return b.String(), env, nil
}

// interpolationError is a bad ${...} at byte offset of the scalar.
type interpolationError struct {
	offset int
	msg    string
}

func (e *interpolationError) Error() string { return e.msg }

// suggest returns the candidate closest to s when it is close enough to be a typo.
func suggest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		d := levenshtein(s, c)
		if (d < bestD || (d == bestD && best != "" && c < best)) && d <= max(1, len(c)/3) {
			best, bestD = c, d
		}
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
