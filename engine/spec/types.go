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
	// Source is where records come from: an HTTP API (the default), a SQL database or
	// files. SQL and Files hold the connection settings of the latter two.
	Source string       `yaml:"source" json:"source,omitempty"`
	SQL    *SQL         `yaml:"sql" json:"sql,omitempty"`
	Files  *FilesSource `yaml:"files" json:"files,omitempty"`
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
	// GrantJWTBearer is RFC 7523: an RS256-signed assertion is exchanged for a token.
	GrantJWTBearer = "jwt_bearer"
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

	// oauth2 jwt_bearer: the claims of the assertion and the key that signs it.
	Issuer       *Template `yaml:"issuer" json:"issuer,omitempty"`
	Subject      *Template `yaml:"subject" json:"subject,omitempty"`
	Audience     *Template `yaml:"audience" json:"audience,omitempty"`
	PrivateKey   *Template `yaml:"private_key" json:"private_key,omitempty"`
	PrivateKeyID *Template `yaml:"private_key_id" json:"private_key_id,omitempty"`

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
	// Endpoints are tighter limits of some endpoints within the integration's: path
	// pattern (relative to base_url; * is one segment; it matches every path below
	// it) -> pace. A request to such an endpoint waits for both.
	Endpoints Ordered[*EndpointLimit] `yaml:"endpoints" json:"endpoints,omitempty"`
}

// EndpointLimit paces the requests to the endpoints a path pattern names.
type EndpointLimit struct {
	Requests int      `yaml:"requests" json:"requests"`
	Per      Duration `yaml:"per" json:"per"`
	Burst    int      `yaml:"burst" json:"burst,omitempty"`
}

// MatchEndpoint reports whether a request path (relative to base_url's path) falls
// under an endpoints pattern: its first segments are the pattern's, where * stands for
// any one segment. A trailing .json on the last segment compared is ignored, as
// providers serve both forms.
func MatchEndpoint(pattern, path string) bool {
	ps := strings.Split(strings.Trim(pattern, "/"), "/")
	xs := strings.Split(strings.Trim(path, "/"), "/")
	if len(xs) < len(ps) {
		return false
	}
	for i, p := range ps {
		x := xs[i]
		if i == len(ps)-1 {
			x = strings.TrimSuffix(x, ".json")
		}
		if p != "*" && p != x && p != xs[i] {
			return false
		}
	}
	return true
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
	Request     Request        `yaml:"request" json:"request,omitzero"`
	Records     *Expr          `yaml:"records" json:"records,omitempty"`
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
	// Response says how the body is written; nil is JSON.
	Response *Response `yaml:"response" json:"response,omitempty"`
	// Links says which Account and Contact each record refers to (a ticket's
	// requester, a deal's company); only for types that are neither.
	Links *Links `yaml:"links" json:"links,omitempty"`
	// Query is what a sql source reads for this type; Files what a files source reads.
	Query *Query `yaml:"query" json:"query,omitempty"`
	Files *Files `yaml:"files" json:"files,omitempty"`
	// Parent makes this a child type: its requests iterate the stored records of
	// another interaction type (ticket comments per ticket).
	Parent *Parent `yaml:"parent" json:"parent,omitempty"`
	// Deletes says how the provider shows that a record was deleted.
	Deletes *Deletes `yaml:"deletes" json:"deletes,omitempty"`

	// SyncEveryDefaulted is true when neither the interaction type, its provider nor
	// an override set sync_every: SyncEvery is then DefaultSyncEvery, and the daemon
	// applies its configured default frequency instead.
	SyncEveryDefaulted bool `yaml:"-" json:"-"`
}

// DefaultParentConcurrency is how many parents a child type fetches at once unless
// parent.concurrency says otherwise.
const DefaultParentConcurrency = 1

// Parent makes an interaction type iterate the records of another: one sync of the
// child fetches, for each stored record of the parent type (each one changed since the
// child's last successful sync, after the first), every page of the child's request,
// with the parent's raw record as .parent in its templates.
type Parent struct {
	// Type is the parent interaction type, in the same connector.
	Type string `yaml:"type" json:"type"`
	// Fields are copied from the parent into each child's mapped record: name -> jq
	// over the parent's raw record.
	Fields Ordered[*Expr] `yaml:"fields" json:"fields,omitempty"`
	// Concurrency is how many parents' children are fetched at once.
	Concurrency int `yaml:"concurrency" json:"concurrency,omitempty"`
}

// Deletes says how deletions show, in exactly one of three ways: Flag (a field of the
// record), Request (an endpoint listing deleted records, with Records, ID and
// Pagination) or Reconcile (every sync reads everything; stored records it did not
// see were deleted).
type Deletes struct {
	Flag       *Expr       `yaml:"flag" json:"flag,omitempty"`
	Request    *Request    `yaml:"request" json:"request,omitempty"`
	Records    *Expr       `yaml:"records" json:"records,omitempty"`
	ID         *Expr       `yaml:"id" json:"id,omitempty"`
	Pagination *Pagination `yaml:"pagination" json:"pagination,omitempty"`
	Reconcile  bool        `yaml:"reconcile" json:"reconcile,omitempty"`

	endpoint *InteractionType
	ranged   bool
}

// Ranged reports whether the deleted-records request reads the range a sync asks for
// (.cursor or .window), so that it is read after each range. One that reads neither
// lists every deletion the provider keeps, whatever the range: it is read once per
// sync.
func (d *Deletes) Ranged() bool { return d != nil && d.ranged }

// Endpoint returns the deleted-records endpoint as an interaction type that
// retrieve.Client.Pages can read (its records are the deleted ones; only ID is used),
// or nil when deletions do not come from an endpoint.
func (d *Deletes) Endpoint() *InteractionType {
	if d == nil {
		return nil
	}
	return d.endpoint
}

// Format returns the response body format: FormatJSON unless response.format says
// otherwise.
func (it *InteractionType) Format() string {
	if it.Response == nil || it.Response.Format == "" {
		return FormatJSON
	}
	return it.Response.Format
}

// Response body formats.
const (
	FormatJSON  = "json"  // one JSON document; records is jq over it
	FormatJSONL = "jsonl" // JSON Lines: records is jq over each line
	FormatCSV   = "csv"   // CSV: records is jq over each row
)

// CSV encodings.
const (
	EncodingUTF8    = "utf-8"
	EncodingUTF16   = "utf-16"
	EncodingLatin1  = "iso-8859-1" // also written latin-1: the loader keeps this name
	EncodingWin1252 = "windows-1252"
)

// Response says how an interaction type's response bodies are written.
type Response struct {
	Format string `yaml:"format" json:"format"`
	CSV    *CSV   `yaml:"csv" json:"csv,omitempty"`
}

// CSV reads a CSV body: each row is a record, an object keyed by the header row (or
// by columns), or a list of strings without either.
type CSV struct {
	Delimiter string   `yaml:"delimiter" json:"delimiter"`
	Header    *bool    `yaml:"header" json:"header"`
	Columns   []string `yaml:"columns" json:"columns,omitempty"`
	Encoding  string   `yaml:"encoding" json:"encoding"`
}

// Comma returns the delimiter as a rune (validation made it exactly one).
func (c *CSV) Comma() rune {
	for _, r := range c.Delimiter {
		return r
	}
	return ','
}

// HasHeader reports whether the first row names the columns.
func (c *CSV) HasHeader() bool { return c.Header == nil || *c.Header }

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
	// PageAuto detects the style from the first response: a Link header, a next-URL
	// field, a cursor field or page counts.
	PageAuto = "auto"
)

// Where pagination puts the offset, page number or token, and the page size.
const (
	InQuery  = "query"
	InHeader = "header"
	InBody   = "body" // param and limit_param are dotted paths into the JSON body
)

// PageVars are the variables pagination expressions may read: the response headers
// (lower-cased name -> first value), the page's records and its number.
var PageVars = []string{"$headers", "$records", "$page"}

// RuleVars are the variables a response rule's body expression may read: the
// response headers (lower-cased name -> first value) and the HTTP status.
var RuleVars = []string{"$headers", "$status"}

// Pagination says how to reach the next page.
type Pagination struct {
	Type            string `yaml:"type" json:"type"`
	In              string `yaml:"in" json:"in,omitempty"`
	Param           string `yaml:"param" json:"param,omitempty"`
	LimitParam      string `yaml:"limit_param" json:"limit_param,omitempty"`
	Limit           int    `yaml:"limit" json:"limit,omitempty"`
	Start           *int   `yaml:"start" json:"start,omitempty"`
	Next            *Expr  `yaml:"next" json:"next,omitempty"`
	Stop            *Expr  `yaml:"stop" json:"stop,omitempty"`
	HasMore         *Expr  `yaml:"has_more" json:"has_more,omitempty"`
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

// Incremental cursor formats besides the time formats (rfc3339, unix, unix_ms, a Go
// layout).
const (
	// FormatInteger is an integer cursor, such as an ascending record id.
	FormatInteger = "integer"
)

// Incremental filters: how the provider compares a record with the cursor sent.
const (
	FilterInclusive = "inclusive" // >= cursor
	FilterExclusive = "exclusive" // > cursor: one unit less is sent
)

// Incremental orders: how the provider sorts records by cursor.
const (
	OrderAsc  = "asc"
	OrderDesc = "desc"
)

// Incremental says how to ask only for what changed since the last successful sync.
type Incremental struct {
	Cursor   *Expr    `yaml:"cursor" json:"cursor"`
	Format   string   `yaml:"format" json:"format"`
	Param    string   `yaml:"param" json:"param,omitempty"`
	EndParam string   `yaml:"end_param" json:"end_param,omitempty"`
	Start    string   `yaml:"start" json:"start,omitempty"`
	Lookback Duration `yaml:"lookback" json:"lookback,omitempty"`
	Sorted   bool     `yaml:"sorted" json:"sorted,omitempty"`
	// InitialWindow makes the first sync start at now minus it, when that is later
	// than Start.
	InitialWindow Duration `yaml:"initial_window" json:"initial_window,omitempty"`
	// Step slices a long range (the first backfill, a catch-up after an outage) into
	// windows of this size, each committed when it completes.
	Step Duration `yaml:"step" json:"step,omitempty"`
	// Filter is FilterInclusive (default) or FilterExclusive.
	Filter string `yaml:"filter" json:"filter,omitempty"`
	// ClientSide: the API has no since filter; the engine drops records older than
	// the cursor.
	ClientSide bool `yaml:"client_side" json:"client_side,omitempty"`
	// Order is OrderAsc (default: ascending, or unsorted unless Sorted) or OrderDesc
	// (newest first: paging stops at the first record older than the cursor).
	Order string `yaml:"order" json:"order,omitempty"`

	start    time.Time
	startInt int64
	hasStart bool
	unit     time.Duration
	endParam *Template
}

// StartTime returns the configured start of the first sync of a time cursor, if any.
func (i *Incremental) StartTime() (time.Time, bool) { return i.start, i.hasStart && !i.IsInteger() }

// StartInt returns the configured start of the first sync of an integer cursor, if any.
func (i *Incremental) StartInt() (int64, bool) { return i.startInt, i.hasStart && i.IsInteger() }

// IsInteger reports whether the cursor is an integer (format integer) rather than a time.
func (i *Incremental) IsInteger() bool { return i.Format == FormatInteger }

// Unit is the smallest step the cursor format can express: 1s for rfc3339 and unix,
// 1ms for unix_ms, the finest field of a Go layout. An exclusive filter is sent the
// cursor less one unit.
func (i *Incremental) Unit() time.Duration { return i.unit }

// EndParamTemplate is the template that fills end_param (${ .window.end }), or nil.
func (i *Incremental) EndParamTemplate() *Template { return i.endParam }

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
	// Mode is what a record that matches no existing entity does: ModeCreate (the
	// default) creates one; ModeUpdateOnly and ModeLinkOnly leave it unlinked until
	// one appears, and ModeLinkOnly never changes an entity's attributes.
	Mode string `yaml:"mode" json:"mode,omitempty"`
}

// Match modes.
const (
	ModeCreate     = "create"
	ModeUpdateOnly = "update_only"
	ModeLinkOnly   = "link_only"
)

// Links are an interaction type's references to the customer's Accounts and
// Contacts. Expressions run over the mapped record.
type Links struct {
	Account *LinkRef `yaml:"account" json:"account,omitempty"`
	Contact *LinkRef `yaml:"contact" json:"contact,omitempty"`
}

// LinkRef is one reference: the keys that name an account (ID, Domain) or a contact
// (ID, Email). Name only labels the reference in reports.
type LinkRef struct {
	ID     *Expr `yaml:"id" json:"id,omitempty"`
	Domain *Expr `yaml:"domain" json:"domain,omitempty"`
	Email  *Expr `yaml:"email" json:"email,omitempty"`
	Name   *Expr `yaml:"name" json:"name,omitempty"`
	// Type is the interaction type of the same provider whose external ids ID holds.
	Type string `yaml:"type" json:"type,omitempty"`
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
