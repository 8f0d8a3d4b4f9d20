// Package spec holds the connector spec format: its types, strict loading with
// FILE:LINE:COL errors, defaults and validation. A loaded *Connector has every jq
// expression and template compiled and is safe for concurrent use.
package spec

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/intakehq/intake/engine/expr"
)

// Connector is one provider's spec: connectors/PROVIDER.yaml.
type Connector struct {
	File             string                    `yaml:"-" json:"-"`
	srcData          []byte                    // the file\'s text, for layering overrides
	Provider         string                    `yaml:"provider" json:"provider"`
	Title            string                    `yaml:"title" json:"title,omitempty"`
	Description      string                    `yaml:"description" json:"description,omitempty"`
	DocsURL          string                    `yaml:"docs_url" json:"docs_url,omitempty"`
	Config           Ordered[*Field]           `yaml:"config" json:"config,omitempty"`
	Credentials      Ordered[*Field]           `yaml:"credentials" json:"credentials,omitempty"`
	BaseURL          *Template                 `yaml:"base_url" json:"base_url,omitempty"`
	Auth             *Auth                     `yaml:"auth" json:"auth,omitempty"`
	Headers          Ordered[*Template]        `yaml:"headers" json:"headers,omitempty"`
	Timeout          Duration                  `yaml:"timeout" json:"timeout"`
	Retries          *int                      `yaml:"retries" json:"retries"`
	RateLimit        *RateLimit                `yaml:"rate_limit" json:"rate_limit,omitempty"`
	ResponseRules    []*ResponseRule           `yaml:"response_rules" json:"response_rules,omitempty"`
	Customizable     []string                  `yaml:"customizable" json:"customizable,omitempty"`
	SyncEvery        Duration                  `yaml:"sync_every" json:"sync_every"`
	InteractionTypes Ordered[*InteractionType] `yaml:"interaction_types" json:"interaction_types"`
	// Kinds are the custom kinds this spec declares, each an inline JSON Schema.
	Kinds Ordered[*Kind] `yaml:"kinds" json:"kinds,omitempty"`
}

// Kind is a custom interaction kind declared under kinds: an inline JSON Schema (draft
// 2020-12 unless it says otherwise) that the mapped records of that kind must match.
type Kind struct {
	Name string `yaml:"-" json:"-"`
	// Schema is the schema as JSON values (maps, slices, strings, json.Number, bools,
	// nil), checked against the JSON Schema metaschema at load.
	Schema any
}

// UnmarshalYAML keeps the value; validation replaces it with its JSON form.
func (k *Kind) UnmarshalYAML(n *yaml.Node) error { return n.Decode(&k.Schema) }

// MarshalJSON prints the schema.
func (k *Kind) MarshalJSON() ([]byte, error) { return jsonMarshal(k.Schema) }

// Field declares one config or credentials value an integration supplies.
type Field struct {
	Type        string `yaml:"type" json:"type"`
	Description string `yaml:"description" json:"description,omitempty"`
	Pattern     string `yaml:"pattern" json:"pattern,omitempty"`
	Enum        []any  `yaml:"enum" json:"enum,omitempty"`
	Default     any    `yaml:"default" json:"default,omitempty"`
	Required    *bool  `yaml:"required" json:"required,omitempty"`
	Example     any    `yaml:"example" json:"example,omitempty"`

	re *regexp.Regexp
}

// IsRequired reports whether an integration must supply the field.
func (f *Field) IsRequired() bool {
	if f.Required != nil {
		return *f.Required
	}
	return f.Default == nil
}

// Auth types.
const (
	AuthNone    = "none"
	AuthAPIKey  = "api_key"
	AuthBearer  = "bearer"
	AuthBasic   = "basic"
	AuthOAuth2  = "oauth2"
	AuthSession = "session"
)

// OAuth2 grants.
const (
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
)

// Token endpoint client authentication methods (RFC 6749 2.3.1).
const (
	ClientSecretBasic = "client_secret_basic"
	ClientSecretPost  = "client_secret_post"
)

// Auth says how requests authenticate.
type Auth struct {
	Type     string    `yaml:"type" json:"type"`
	In       string    `yaml:"in" json:"in,omitempty"`
	Name     string    `yaml:"name" json:"name,omitempty"`
	Value    *Template `yaml:"value" json:"value,omitempty"`
	Token    *Template `yaml:"token" json:"token,omitempty"`
	Username *Template `yaml:"username" json:"username,omitempty"`
	Password *Template `yaml:"password" json:"password,omitempty"`

	// oauth2
	Grant         string             `yaml:"grant" json:"grant,omitempty"`
	TokenURL      *Template          `yaml:"token_url" json:"token_url,omitempty"`
	AuthorizeURL  *Template          `yaml:"authorize_url" json:"authorize_url,omitempty"`
	Scopes        []string           `yaml:"scopes" json:"scopes,omitempty"`
	ClientAuth    string             `yaml:"client_auth" json:"client_auth,omitempty"`
	ClientID      *Template          `yaml:"client_id" json:"client_id,omitempty"`
	ClientSecret  *Template          `yaml:"client_secret" json:"client_secret,omitempty"`
	TokenParams   Ordered[*Template] `yaml:"token_params" json:"token_params,omitempty"`
	RefreshBefore Duration           `yaml:"refresh_before" json:"refresh_before,omitempty"`

	// session
	Login     *Request `yaml:"login" json:"login,omitempty"`
	TokenPath *Expr    `yaml:"session_token" json:"session_token,omitempty"`
	ExpiresIn *Expr    `yaml:"expires_in" json:"expires_in,omitempty"`
	TTL       Duration `yaml:"ttl" json:"ttl,omitempty"`
}

// Refreshable reports whether the auth obtains tokens it can obtain again after a 401.
func (a *Auth) Refreshable() bool { return a.Type == AuthOAuth2 || a.Type == AuthSession }

// RateLimit paces requests before the provider has to refuse them.
type RateLimit struct {
	Requests        int      `yaml:"requests" json:"requests"`
	Per             Duration `yaml:"per" json:"per"`
	Burst           int      `yaml:"burst" json:"burst,omitempty"`
	Concurrency     int      `yaml:"concurrency" json:"concurrency,omitempty"`
	RemainingHeader string   `yaml:"remaining_header" json:"remaining_header,omitempty"`
	ResetHeader     string   `yaml:"reset_header" json:"reset_header,omitempty"`
	ResetFormat     string   `yaml:"reset_format" json:"reset_format,omitempty"`
}

// Response rule actions.
const (
	ActionRetry            = "retry"
	ActionFail             = "fail"
	ActionIgnore           = "ignore"
	ActionRateLimited      = "rate_limited"
	ActionRefreshThenRetry = "refresh_then_retry"
)

// Failure classes, recorded on failed sync runs.
const (
	ClassAuth        = "auth"
	ClassPermanent   = "permanent"
	ClassTransient   = "transient"
	ClassRateLimited = "rate_limited"
	ClassBadData     = "bad_data"
)

// ResponseRule classifies a provider answer the HTTP status alone misreads: a 200
// carrying an error, a 403 that means "slow down", a 404 to skip.
type ResponseRule struct {
	Status  IntList `yaml:"status" json:"status,omitempty"`
	Body    *Expr   `yaml:"body" json:"body,omitempty"`
	Action  string  `yaml:"action" json:"action"`
	Class   string  `yaml:"class" json:"class,omitempty"`
	Message string  `yaml:"message" json:"message,omitempty"`
}

// IntList is one integer or a list of them.
type IntList []int

// UnmarshalYAML accepts 403 or [403, 404].
func (l *IntList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var i int
		if err := n.Decode(&i); err != nil {
			return err
		}
		*l = IntList{i}
		return nil
	}
	var is []int
	if err := n.Decode(&is); err != nil {
		return err
	}
	*l = is
	return nil
}

// InteractionType is one kind of record a provider offers.
type InteractionType struct {
	Name        string         `yaml:"-" json:"-"`
	Kind        string         `yaml:"kind" json:"kind"`
	Description string         `yaml:"description" json:"description,omitempty"`
	SyncEvery   Duration       `yaml:"sync_every" json:"sync_every"`
	Request     Request        `yaml:"request" json:"request"`
	Records     *Expr          `yaml:"records" json:"records"`
	ID          *Expr          `yaml:"id" json:"id"`
	Filter      *Expr          `yaml:"filter" json:"filter,omitempty"`
	Match       *Match         `yaml:"match" json:"match,omitempty"`
	Pagination  *Pagination    `yaml:"pagination" json:"pagination,omitempty"`
	Incremental *Incremental   `yaml:"incremental" json:"incremental,omitempty"`
	Fields      Ordered[*Expr] `yaml:"fields" json:"fields,omitempty"`
	// Strict fails the sync (class bad_data) at the first mapped record that does not
	// match its kind's schema, instead of quarantining it.
	Strict bool `yaml:"strict" json:"strict,omitempty"`
	// ResponseRules are checked before the connector\'s.
	ResponseRules []*ResponseRule `yaml:"response_rules" json:"response_rules,omitempty"`

	// SyncEveryDefaulted is true when neither the interaction type, its provider nor
	// an override set sync_every: SyncEvery is then DefaultSyncEvery, and the daemon
	// applies its configured default frequency instead.
	SyncEveryDefaulted bool `yaml:"-" json:"-"`
}

// Request is the first request of a sync of an interaction type.
type Request struct {
	Method  string             `yaml:"method" json:"method"`
	Path    *Template          `yaml:"path" json:"path"`
	Params  Ordered[*Template] `yaml:"params" json:"params,omitempty"`
	Headers Ordered[*Template] `yaml:"headers" json:"headers,omitempty"`
	Body    *Value             `yaml:"body" json:"body,omitempty"`
}

// Pagination types.
const (
	PageNone    = "none"
	PageOffset  = "offset"
	PageNumber  = "page"
	PageCursor  = "cursor"
	PageNextURL = "next_url"
	PageLink    = "link"
)

// Pagination says how to reach the next page.
type Pagination struct {
	Type            string `yaml:"type" json:"type"`
	Param           string `yaml:"param" json:"param,omitempty"`
	LimitParam      string `yaml:"limit_param" json:"limit_param,omitempty"`
	Limit           int    `yaml:"limit" json:"limit,omitempty"`
	Start           *int   `yaml:"start" json:"start,omitempty"`
	Next            *Expr  `yaml:"next" json:"next,omitempty"`
	Stop            *Expr  `yaml:"stop" json:"stop,omitempty"`
	Total           *Expr  `yaml:"total" json:"total,omitempty"`
	StopOnShortPage bool   `yaml:"stop_on_short_page" json:"stop_on_short_page,omitempty"`
	Rel             string `yaml:"rel" json:"rel,omitempty"`
	MaxPages        int    `yaml:"max_pages" json:"max_pages,omitempty"`
}

// StartAt returns the first offset or page number.
func (p *Pagination) StartAt() int {
	if p.Start != nil {
		return *p.Start
	}
	if p.Type == PageNumber {
		return 1
	}
	return 0
}

// Incremental says how to ask only for what changed since the last successful sync.
type Incremental struct {
	Cursor   *Expr    `yaml:"cursor" json:"cursor"`
	Format   string   `yaml:"format" json:"format"`
	Param    string   `yaml:"param" json:"param,omitempty"`
	Start    string   `yaml:"start" json:"start,omitempty"`
	Lookback Duration `yaml:"lookback" json:"lookback,omitempty"`
	Sorted   bool     `yaml:"sorted" json:"sorted,omitempty"`

	start    time.Time
	hasStart bool
}

// StartTime returns the configured start of the first sync, if any.
func (i *Incremental) StartTime() (time.Time, bool) { return i.start, i.hasStart }

// Expr is a jq expression in a spec, compiled at load.
type Expr struct {
	Src string
	*expr.Query
}

// UnmarshalYAML keeps the source; compilation happens in validation, where errors
// can name their position.
func (e *Expr) UnmarshalYAML(n *yaml.Node) error { return n.Decode(&e.Src) }

// MarshalJSON prints the source.
func (e *Expr) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(e.Src)), nil }

// Template is a `${ jq }` string in a spec, compiled at load.
type Template struct {
	Src string
	*expr.Template
}

// UnmarshalYAML keeps the source for validation to compile.
func (t *Template) UnmarshalYAML(n *yaml.Node) error { return n.Decode(&t.Src) }

// MarshalJSON prints the source.
func (t *Template) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(t.Src)), nil }

func mustTemplate(src string) *Template {
	t, err := expr.ParseTemplate(src)
	if err != nil {
		panic(err)
	}
	return &Template{Src: src, Template: t}
}

// Value is a JSON value in a spec whose strings are templates (a request body).
type Value struct {
	Raw  any
	tree any // Raw with every string replaced by *expr.Template
}

// UnmarshalYAML keeps the raw value.
func (v *Value) UnmarshalYAML(n *yaml.Node) error { return n.Decode(&v.Raw) }

// MarshalJSON prints the raw value.
func (v *Value) MarshalJSON() ([]byte, error) { return jsonMarshal(v.Raw) }

// Render evaluates every template in the value.
func (v *Value) Render(ctx context.Context, vars any) (any, error) {
	return renderTree(ctx, v.tree, vars)
}

func renderTree(ctx context.Context, t any, vars any) (any, error) {
	switch x := t.(type) {
	case *expr.Template:
		return x.Render(ctx, vars)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, v := range x {
			r, err := renderTree(ctx, v, vars)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, v := range x {
			r, err := renderTree(ctx, v, vars)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = r
		}
		return out, nil
	default:
		return x, nil
	}
}

// Duration is a time.Duration written as 30s, 5m, 3h, 7d or 1h30m.
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML parses the duration.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON prints the duration in its shortest form.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(FormatDuration(d.D()))), nil
}

var dayRe = regexp.MustCompile(`([0-9]+(?:\.[0-9]+)?)d`)

// ParseDuration parses a duration such as 30s, 500ms, 5m, 3h, 1h30m or 7d: a Go
// duration without sign, optionally preceded by a number of days (d is 24h), as in
// 1d12h or 1.5d. The empty string and anything else is an error.
func ParseDuration(s string) (time.Duration, error) {
	bad := func() (time.Duration, error) {
		return 0, fmt.Errorf("invalid duration %q: use a number and a unit (ms, s, m, h, d), e.g. 30s or 1h30m", s)
	}
	const maxDuration = time.Duration(1<<63 - 1)
	var days time.Duration
	rest := s
	if m := dayRe.FindStringSubmatchIndex(s); m != nil && m[0] == 0 {
		// Parsed as hours, so that fractions of a day are exact to the nanosecond.
		h, err := time.ParseDuration(s[m[2]:m[3]] + "h")
		if err != nil || h > maxDuration/24 {
			return bad()
		}
		days, rest = 24*h, s[m[1]:]
		if rest == "" {
			return days, nil
		}
	}
	// time.ParseDuration also takes a sign, and "0" without a unit.
	if rest == "" || (rest[0] < '0' || rest[0] > '9') && rest[0] != '.' {
		return bad()
	}
	d, err := time.ParseDuration(rest)
	if err != nil || d > maxDuration-days {
		return bad()
	}
	return days + d, nil
}

// FormatDuration prints d in its shortest readable form: whole days as 7d, otherwise
// as time.Duration.String without zero trailing units: 30s, 500ms, 5m, 3h, 1h30m,
// 36h, 2h0m30s. ParseDuration reads it back.
func FormatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d >= day && d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	s := d.String() // e.g. 0s, 500ms, 1.5s, 30s, 5m0s, 1h30m0s, 3h0m0s, 2h0m30s
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
	}
	return s
}

// Ordered is a YAML mapping that keeps its keys in file order.
type Ordered[T any] struct {
	Keys []string
	Map  map[string]T
}

// UnmarshalYAML decodes a mapping, keeping key order.
func (o *Ordered[T]) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: expected a mapping", n.Line)
	}
	o.Map = make(map[string]T, len(n.Content)/2)
	o.Keys = o.Keys[:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		var v T
		if err := n.Content[i+1].Decode(&v); err != nil {
			return err
		}
		k := n.Content[i].Value
		o.Keys = append(o.Keys, k)
		o.Map[k] = v
	}
	return nil
}

// Get returns the value of k.
func (o Ordered[T]) Get(k string) (T, bool) {
	v, ok := o.Map[k]
	return v, ok
}

// Len returns the number of keys.
func (o Ordered[T]) Len() int { return len(o.Keys) }

// Set adds or replaces k, keeping first-insertion order.
func (o *Ordered[T]) Set(k string, v T) {
	if o.Map == nil {
		o.Map = map[string]T{}
	}
	if _, ok := o.Map[k]; !ok {
		o.Keys = append(o.Keys, k)
	}
	o.Map[k] = v
}

// MarshalJSON prints the mapping in key order.
func (o Ordered[T]) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range o.Keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(k))
		b.WriteByte(':')
		v, err := jsonMarshal(o.Map[k])
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

// Match says how an interaction type's records resolve to the customer's Accounts
// or Contacts. Expressions run over the mapped record.
type Match struct {
	Entity     string                 `yaml:"entity" json:"entity"`
	Domain     *Expr                  `yaml:"domain" json:"domain,omitempty"`
	Email      *Expr                  `yaml:"email" json:"email,omitempty"`
	Name       *Expr                  `yaml:"name" json:"name,omitempty"`
	AccountRef *Expr                  `yaml:"account_ref" json:"account_ref,omitempty"`
	ByName     bool                   `yaml:"by_name" json:"by_name,omitempty"`
	Fields     Ordered[*Survivorship] `yaml:"fields" json:"fields,omitempty"`
}

// Survivorship is how one attribute survives when providers disagree.
type Survivorship struct {
	Prefer        string `yaml:"prefer" json:"prefer,omitempty"`
	FillOnlyEmpty bool   `yaml:"fill_only_empty" json:"fill_only_empty,omitempty"`
}

// Entities records can resolve to.
const (
	EntityAccount = "account"
	EntityContact = "contact"
	EntityNone    = "none"
)
