package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/intakehq/intake/engine/expr"
	"github.com/intakehq/intake/schemas"
)

// Defaults applied after validation.
const (
	DefaultTimeout   = 30 * time.Second
	DefaultRetries   = 4
	DefaultSyncEvery = time.Hour
	DefaultMaxPages  = 100000
)

// Context fields each kind of template may read. They are the keys of the object a
// template is evaluated against (see retrieve.Vars).
var (
	ctxBaseURLPlain = []string{"config"}
	ctxAuth         = []string{"config", "credentials"}
	ctxToken        = []string{"config", "auth"}
	ctxHeadersPlain = []string{"config", "credentials", "now"}
	ctxRequest      = []string{"config", "cursor", "page", "now"}
	pageFields      = []string{"limit", "number", "offset", "token"}
	timeFormats     = []string{"rfc3339", "unix", "unix_ms"}
)

type validator struct {
	doc  *document
	c    *Connector
	errs Errors
	// syncEveryDefaulted: the provider sets no sync_every.
	syncEveryDefaulted bool
}

func (v *validator) fail(segs []string, atKey bool, format string, args ...any) {
	v.errs = append(v.errs, v.doc.errAt(segs, atKey, format, args...))
}

func p(segs ...string) []string { return segs }

func (c *Connector) validate(doc *document) Errors {
	v := &validator{doc: doc, c: c}
	v.fields(c.Config, "config")
	v.fields(c.Credentials, "credentials")
	for _, name := range c.Credentials.Keys {
		if _, dup := c.Config.Get(name); dup {
			v.fail(p("credentials", name), true, "%q is also declared under config; a value is either config or a credential, so give one of them another name", name)
		}
	}
	v.auth()
	// Token-based auth exposes the token response as .auth (e.g. Salesforce's
	// instance_url) to the base URL and headers.
	ctxBaseURL, ctxHeaders := ctxBaseURLPlain, ctxHeadersPlain
	if c.Auth.Refreshable() {
		ctxBaseURL = []string{"config", "auth"}
		ctxHeaders = []string{"config", "credentials", "auth", "now"}
	}
	if c.BaseURL != nil {
		v.template(c.BaseURL, p("base_url"), ctxBaseURL)
	}
	for _, k := range c.Headers.Keys {
		v.template(c.Headers.Map[k], p("headers", k), ctxHeaders)
	}
	v.rateLimit()
	v.responseRules(c.ResponseRules, p("response_rules"))
	if c.Timeout == 0 {
		c.Timeout = Duration(DefaultTimeout)
	}
	if c.Retries == nil {
		r := DefaultRetries
		c.Retries = &r
	}
	if c.SyncEvery == 0 {
		c.SyncEvery = Duration(DefaultSyncEvery)
		v.syncEveryDefaulted = true
	}
	for _, name := range c.InteractionTypes.Keys {
		it := c.InteractionTypes.Map[name]
		it.Name = name
		v.interactionType(it, p("interaction_types", name))
	}
	v.kinds()
	if len(v.errs) == 0 {
		return nil
	}
	return v.errs
}

func (v *validator) fields(fs Ordered[*Field], section string) {
	for _, name := range fs.Keys {
		f := fs.Map[name]
		at := p(section, name)
		if f == nil {
			v.fail(at, false, "must be a mapping with at least a type")
			continue
		}
		if f.Type == "" {
			f.Type = "string"
		}
		if f.Pattern != "" {
			if f.Type != "string" {
				v.fail(append(at, "pattern"), true, "pattern applies only to type string")
			}
			if _, err := regexp.Compile(f.Pattern); err != nil {
				v.fail(append(at, "pattern"), false, "invalid regular expression: %v", err)
			} else {
				f.re = regexp.MustCompile(`^(?:` + f.Pattern + `)$`)
			}
		}
		if f.Default != nil {
			if err := f.Check(f.Default); err != nil {
				v.fail(append(at, "default"), false, "%v", err)
			}
		}
		for i, e := range f.Enum {
			if err := checkType(f.Type, e); err != nil {
				v.fail(append(at, "enum", fmt.Sprint(i)), false, "%v", err)
			}
		}
		if f.Required != nil && *f.Required && f.Default != nil {
			v.fail(append(at, "required"), true, "a field with a default is never missing; drop required or the default")
		}
	}
}

// Check validates a value an integration supplies for this field.
func (f *Field) Check(val any) error {
	if err := checkType(f.Type, val); err != nil {
		return err
	}
	if f.re != nil {
		if s, _ := val.(string); !f.re.MatchString(s) {
			return fmt.Errorf("%q does not match pattern %s", s, f.Pattern)
		}
	}
	if len(f.Enum) > 0 {
		for _, e := range f.Enum {
			if fmt.Sprint(e) == fmt.Sprint(val) {
				return nil
			}
		}
		want := make([]string, len(f.Enum))
		for i, e := range f.Enum {
			want[i] = show(e)
		}
		return fmt.Errorf("%s is not one of: %s", show(val), strings.Join(want, ", "))
	}
	return nil
}

func checkType(typ string, val any) error {
	ok := false
	switch typ {
	case "string":
		_, ok = val.(string)
	case "boolean":
		_, ok = val.(bool)
	case "integer":
		switch x := val.(type) {
		case int, int64:
			ok = true
		case float64:
			ok = x == float64(int64(x))
		case json.Number:
			_, err := x.Int64()
			ok = err == nil
		}
	case "number":
		switch val.(type) {
		case int, int64, float64, json.Number:
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("%s is not of type %s", show(val), typ)
	}
	return nil
}

func (v *validator) auth() {
	a := v.c.Auth
	if a == nil {
		v.c.Auth = &Auth{Type: AuthNone}
		return
	}
	at := p("auth")
	used := map[string]bool{}
	// What the file wrote, before defaults fill anything in: a key the type does not
	// use is an error only if it was written.
	set := map[string]bool{"in": a.In != "", "name": a.Name != "", "value": a.Value != nil,
		"token": a.Token != nil, "username": a.Username != nil, "password": a.Password != nil,
		"grant": a.Grant != "", "token_url": a.TokenURL != nil, "authorize_url": a.AuthorizeURL != nil, "scopes": len(a.Scopes) > 0,
		"client_auth": a.ClientAuth != "", "client_id": a.ClientID != nil, "client_secret": a.ClientSecret != nil,
		"token_params": a.TokenParams.Len() > 0, "refresh_before": a.RefreshBefore > 0,
		"login": a.Login != nil, "session_token": a.TokenPath != nil, "expires_in": a.ExpiresIn != nil, "ttl": a.TTL > 0}
	// tpl lists the templates to compile with the context fields each may read.
	type tplCheck struct {
		key string
		t   *Template
		ctx []string
	}
	var checks []tplCheck
	switch a.Type {
	case AuthAPIKey:
		used["in"], used["name"], used["value"] = true, true, true
		if a.Name == "" {
			v.fail(at, true, "auth type api_key needs name (the header or query parameter that carries the key)")
		}
		if a.Value == nil {
			a.Value = v.defaultCredential("api_key", at)
		}
		checks = append(checks, tplCheck{"value", a.Value, ctxAuth})
	case AuthBearer:
		used["token"] = true
		if a.Token == nil {
			a.Token = v.defaultCredential("token", at)
		}
		checks = append(checks, tplCheck{"token", a.Token, ctxAuth})
	case AuthBasic:
		used["username"], used["password"] = true, true
		if a.Username == nil {
			a.Username = v.defaultCredential("username", at)
		}
		if a.Password == nil {
			a.Password = v.defaultCredential("password", at)
		}
		checks = append(checks, tplCheck{"username", a.Username, ctxAuth}, tplCheck{"password", a.Password, ctxAuth})
	case AuthOAuth2:
		for _, k := range []string{"in", "name", "value", "grant", "token_url", "scopes", "client_auth", "client_id", "client_secret", "token_params", "refresh_before"} {
			used[k] = true
		}
		if a.Value == nil {
			a.Value = mustTemplate("Bearer ${ .auth.access_token }")
		}
		switch a.Grant {
		case "":
			v.fail(at, true, "auth type oauth2 needs grant: refresh_token, client_credentials or authorization_code")
		case GrantAuthorizationCode:
			used["authorize_url"] = true
			if a.AuthorizeURL == nil {
				v.fail(at, true, "grant authorization_code needs authorize_url, where customers approve access")
			}
		case GrantRefreshToken:
			if _, ok := v.c.Credentials.Get("refresh_token"); !ok {
				v.fail(append(at, "grant"), false, "grant refresh_token starts from credentials.refresh_token; declare it under credentials")
			}
		}
		if a.TokenURL == nil {
			v.fail(at, true, "auth type oauth2 needs token_url")
		}
		// An authorization_code integration gets the app's client id and secret when it
		// is connected; the other grants read the customer's own.
		if a.ClientID == nil {
			a.ClientID = v.defaultClientCredential("client_id", at, a.Grant)
		}
		if a.ClientSecret == nil {
			a.ClientSecret = v.defaultClientCredential("client_secret", at, a.Grant)
		}
		if a.ClientAuth == "" {
			a.ClientAuth = ClientSecretBasic
		}
		checks = append(checks, tplCheck{"value", a.Value, ctxToken}, tplCheck{"token_url", a.TokenURL, ctxBaseURLPlain},
			tplCheck{"authorize_url", a.AuthorizeURL, ctxBaseURLPlain}, tplCheck{"client_id", a.ClientID, ctxAuth}, tplCheck{"client_secret", a.ClientSecret, ctxAuth})
		for _, k := range a.TokenParams.Keys {
			v.template(a.TokenParams.Map[k], append(append([]string(nil), at...), "token_params", k), ctxAuth)
		}
	case AuthSession:
		for _, k := range []string{"in", "name", "value", "login", "session_token", "expires_in", "ttl", "refresh_before"} {
			used[k] = true
		}
		if a.Value == nil {
			a.Value = mustTemplate("Bearer ${ .auth.token }")
		}
		if a.Login == nil {
			v.fail(at, true, "auth type session needs login: the request that logs in")
		} else {
			v.loginRequest(a.Login, append(append([]string(nil), at...), "login"))
		}
		if a.TokenPath == nil {
			v.fail(at, true, "auth type session needs session_token: jq over the login response that yields the token")
		}
		v.jq(a.TokenPath, append(append([]string(nil), at...), "session_token"))
		v.jq(a.ExpiresIn, append(append([]string(nil), at...), "expires_in"))
		if a.ExpiresIn != nil && a.TTL > 0 {
			v.fail(append(append([]string(nil), at...), "ttl"), true, "set expires_in or ttl, not both")
		}
		checks = append(checks, tplCheck{"value", a.Value, ctxToken})
	}
	if a.Refreshable() {
		if a.In == "" {
			a.In = "header"
		}
		if a.Name == "" && a.In == "header" {
			a.Name = "Authorization"
		}
		if a.Name == "" {
			v.fail(at, true, "a token sent in the query needs name, the parameter that carries it")
		}
		if a.RefreshBefore == 0 {
			a.RefreshBefore = Duration(time.Minute)
		}
	} else if a.Type == AuthAPIKey && a.In == "" {
		a.In = "header"
	}
	v.unused(at, set, used, "auth type "+a.Type)
	for _, c := range checks {
		if c.t == nil {
			continue
		}
		if set[c.key] {
			v.template(c.t, append(append([]string(nil), at...), c.key), c.ctx)
			continue
		}
		// A default was filled in: the checks above already said what it reads.
		tpl, err := expr.ParseTemplate(c.t.Src)
		if err != nil {
			panic(err) // defaults are fixed in this file
		}
		c.t.Template = tpl
	}
}

// defaultClientCredential is defaultCredential for oauth2 client credentials, which an
// authorization_code integration receives from the OAuth app when it is connected.
func (v *validator) defaultClientCredential(name string, at []string, grant string) *Template {
	if grant == GrantAuthorizationCode {
		return mustTemplate("${ .credentials." + name + " }")
	}
	return v.defaultCredential(name, at)
}

func (v *validator) loginRequest(r *Request, at []string) {
	if r.Method == "" {
		r.Method = "POST"
	}
	if r.Path != nil {
		v.template(r.Path, append(append([]string(nil), at...), "path"), ctxAuth)
	}
	for _, k := range r.Params.Keys {
		v.template(r.Params.Map[k], append(append([]string(nil), at...), "params", k), ctxAuth)
	}
	for _, k := range r.Headers.Keys {
		v.template(r.Headers.Map[k], append(append([]string(nil), at...), "headers", k), ctxAuth)
	}
	if r.Body != nil {
		if r.Method == "GET" {
			v.fail(append(append([]string(nil), at...), "body"), true, "a GET request has no body; set method: POST")
		}
		r.Body.tree = v.valueTreeCtx(r.Body.Raw, append(append([]string(nil), at...), "body"), ctxAuth)
	}
}

// defaultCredential returns the template an auth key defaults to, and reports a spec
// that does not declare the credential it would read.
func (v *validator) defaultCredential(name string, at []string) *Template {
	if _, ok := v.c.Credentials.Get(name); !ok {
		v.fail(at, true, "auth type %s reads credentials.%s by default; declare it under credentials or set the value explicitly", v.c.Auth.Type, name)
	}
	t := mustTemplate("${ .credentials." + name + " }")
	return t
}

func (v *validator) template(t *Template, at []string, allowed []string) {
	tpl, err := expr.ParseTemplate(t.Src)
	if err != nil {
		v.exprErr(at, err)
		return
	}
	t.Template = tpl
	for _, seg := range tpl.Segments() {
		v.checkPaths(seg, at, allowed)
	}
}

func (v *validator) checkPaths(seg expr.Segment, at []string, allowed []string) {
	q := seg.Query
	src := strings.TrimSpace(q.String())
	fail := func(format string, args ...any) {
		v.errs = append(v.errs, v.doc.errAtOffset(at, seg.Offset, format, args...))
	}
	for _, path := range q.RootPaths() {
		root := path[0]
		if !contains(allowed, root) {
			fail("${ %s }: unknown context field %q (available here: %s)", src, root, strings.Join(allowed, ", "))
			continue
		}
		if len(path) < 2 {
			continue
		}
		var declared []string
		switch root {
		case "config":
			declared = v.c.Config.Keys
		case "credentials":
			declared = v.c.Credentials.Keys
		case "page":
			declared = pageFields
		default:
			continue
		}
		if !contains(declared, path[1]) {
			msg := fmt.Sprintf("${ %s }: %s.%s is not declared", src, root, path[1])
			if s := suggest(path[1], declared); s != "" {
				msg += fmt.Sprintf(" (did you mean %s.%s?)", root, s)
			} else if len(declared) > 0 {
				msg += fmt.Sprintf(" (declared: %s)", strings.Join(declared, ", "))
			}
			fail("%s", msg)
		}
	}
}

func (v *validator) exprErr(at []string, err error) {
	var ee *expr.Error
	if errors.As(err, &ee) {
		v.errs = append(v.errs, v.doc.errAtOffset(at, ee.Offset, "%s", ee.Msg))
		return
	}
	v.fail(at, false, "%v", err)
}

func (v *validator) jq(e *Expr, at []string) {
	if e == nil {
		return
	}
	q, err := expr.Compile(e.Src)
	if err != nil {
		v.exprErr(at, err)
		return
	}
	e.Query = q
}

func (v *validator) interactionType(it *InteractionType, at []string) {
	if it == nil {
		v.fail(at, false, "must be a mapping")
		return
	}
	r := &it.Request
	req := append(at, "request")
	if r.Method == "" {
		r.Method = "GET"
	}
	if r.Path != nil {
		v.template(r.Path, append(req, "path"), ctxRequest)
		if v.c.BaseURL == nil && r.Path.Template != nil && r.Path.IsConstant() && !strings.HasPrefix(r.Path.Src, "http://") && !strings.HasPrefix(r.Path.Src, "https://") {
			v.fail(append(req, "path"), false, "relative path %q needs a base_url at the top of the spec", r.Path.Src)
		}
	}
	for _, k := range r.Params.Keys {
		v.template(r.Params.Map[k], append(req, "params", k), ctxRequest)
	}
	for _, k := range r.Headers.Keys {
		v.template(r.Headers.Map[k], append(req, "headers", k), ctxRequest)
	}
	if r.Body != nil {
		if r.Method == "GET" {
			v.fail(append(req, "body"), true, "a GET request has no body; set method: POST")
		}
		r.Body.tree = v.valueTree(r.Body.Raw, append(req, "body"))
	}
	v.jq(it.Records, append(at, "records"))
	v.jq(it.ID, append(at, "id"))
	v.jq(it.Filter, append(at, "filter"))
	v.match(it, append(append([]string(nil), at...), "match"))
	for _, k := range it.Fields.Keys {
		if it.Fields.Map[k] == nil {
			v.fail(append(at, "fields", k), false, "needs a jq expression")
			continue
		}
		v.jq(it.Fields.Map[k], append(at, "fields", k))
	}
	v.responseRules(it.ResponseRules, append(append([]string(nil), at...), "response_rules"))
	if it.Pagination == nil {
		it.Pagination = &Pagination{Type: PageNone}
	}
	v.pagination(it.Pagination, append(at, "pagination"), len(v.reads(it, req, "page", "token")) > 0)
	if it.Incremental != nil {
		v.incremental(it, append(at, "incremental"))
	} else {
		for _, u := range v.reads(it, req, "cursor", "") {
			v.errs = append(v.errs, v.doc.errAtOffset(u.at, u.seg.Offset, "uses ${ .cursor } but the interaction type has no incremental section"))
		}
	}
	if it.SyncEvery == 0 {
		it.SyncEvery = v.c.SyncEvery
		it.SyncEveryDefaulted = v.syncEveryDefaulted
	}
}

type templateUse struct {
	at  []string
	seg expr.Segment
}

// reads finds the request templates that read .root (or .root.sub when sub is set).
func (v *validator) reads(it *InteractionType, req []string, root, sub string) []templateUse {
	var out []templateUse
	check := func(t *expr.Template, at []string) {
		if t == nil {
			return
		}
		for _, seg := range t.Segments() {
			for _, path := range seg.Query.RootPaths() {
				if path[0] == root && (sub == "" || len(path) > 1 && path[1] == sub) {
					out = append(out, templateUse{at: at, seg: seg})
					return
				}
			}
		}
	}
	r := &it.Request
	if r.Path != nil {
		check(r.Path.Template, append(append([]string(nil), req...), "path"))
	}
	for _, k := range r.Params.Keys {
		check(r.Params.Map[k].Template, append(append([]string(nil), req...), "params", k))
	}
	for _, k := range r.Headers.Keys {
		check(r.Headers.Map[k].Template, append(append([]string(nil), req...), "headers", k))
	}
	if r.Body != nil {
		walkTemplates(r.Body.tree, append(append([]string(nil), req...), "body"), check)
	}
	return out
}

func walkTemplates(t any, at []string, fn func(*expr.Template, []string)) {
	switch x := t.(type) {
	case *expr.Template:
		fn(x, at)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			walkTemplates(x[k], append(append([]string(nil), at...), k), fn)
		}
	case []any:
		for i, e := range x {
			walkTemplates(e, append(append([]string(nil), at...), fmt.Sprint(i)), fn)
		}
	}
}

func (v *validator) valueTree(raw any, at []string) any { return v.valueTreeCtx(raw, at, ctxRequest) }

func (v *validator) valueTreeCtx(raw any, at []string, ctx []string) any {
	switch x := raw.(type) {
	case string:
		t := &Template{Src: x}
		v.template(t, at, ctx)
		if t.Template == nil {
			return x
		}
		return t.Template
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = v.valueTreeCtx(val, append(append([]string(nil), at...), k), ctx)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = v.valueTreeCtx(val, append(append([]string(nil), at...), fmt.Sprint(i)), ctx)
		}
		return out
	default:
		return x
	}
}

// tokenInTemplate: a request template places the cursor token itself (a JSON body
// path, a header), so it goes in the query only when param says so.
func (v *validator) pagination(pg *Pagination, at []string, tokenInTemplate bool) {
	used := map[string]bool{"type": true, "stop": true, "max_pages": true}
	switch pg.Type {
	case PageNone:
		used["stop"] = false
	case PageOffset, PageNumber:
		for _, k := range []string{"param", "limit_param", "limit", "start", "total", "stop_on_short_page"} {
			used[k] = true
		}
		if pg.Param == "" {
			pg.Param = map[string]string{PageOffset: "offset", PageNumber: "page"}[pg.Type]
		}
		if pg.Limit > 0 && pg.LimitParam == "" {
			v.fail(append(at, "limit"), true, "limit needs limit_param, the parameter that carries the page size")
		}
		if pg.LimitParam != "" && pg.Limit == 0 {
			v.fail(append(at, "limit_param"), true, "limit_param needs limit, the page size to send")
		}
		if pg.StopOnShortPage && pg.Limit == 0 {
			v.fail(append(at, "stop_on_short_page"), true, "stop_on_short_page needs limit")
		}
		if pg.Type == PageOffset && pg.Limit == 0 {
			v.fail(at, true, "offset pagination needs limit and limit_param: the offset advances by the page size")
		}
	case PageCursor:
		used["param"], used["next"], used["limit_param"], used["limit"] = true, true, true, true
		if pg.Param == "" && !tokenInTemplate {
			pg.Param = "cursor"
		}
		if pg.Next == nil {
			v.fail(at, true, "cursor pagination needs next: jq over the body that yields the next page's token")
		}
	case PageNextURL:
		used["next"], used["limit_param"], used["limit"] = true, true, true
		if pg.Next == nil {
			v.fail(at, true, "next_url pagination needs next: jq over the body that yields the next page's URL")
		}
	case PageLink:
		used["rel"], used["limit_param"], used["limit"] = true, true, true
		if pg.Rel == "" {
			pg.Rel = "next"
		}
	}
	if pg.Type != PageOffset && pg.Type != PageNumber && (pg.LimitParam != "") != (pg.Limit > 0) {
		v.fail(at, true, "limit and limit_param go together")
	}
	set := map[string]bool{
		"param": pg.Param != "", "limit_param": pg.LimitParam != "", "limit": pg.Limit > 0,
		"start": pg.Start != nil, "next": pg.Next != nil, "stop": pg.Stop != nil, "total": pg.Total != nil,
		"stop_on_short_page": pg.StopOnShortPage, "rel": pg.Rel != "",
		"max_pages": pg.MaxPages > 0,
	}
	v.unused(at, set, used, "pagination type "+pg.Type)
	v.jq(pg.Next, append(at, "next"))
	v.jq(pg.Stop, append(at, "stop"))
	v.jq(pg.Total, append(at, "total"))
	if pg.MaxPages == 0 {
		pg.MaxPages = DefaultMaxPages
	}
}

func (v *validator) incremental(it *InteractionType, at []string) {
	inc := it.Incremental
	v.jq(inc.Cursor, append(at, "cursor"))
	if inc.Format == "" {
		inc.Format = "rfc3339"
	}
	if !contains(timeFormats, inc.Format) {
		ref := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
		back, err := time.Parse(inc.Format, ref.Format(inc.Format))
		if err != nil || back.Year() != 2001 || back.Day() != 3 {
			v.fail(append(at, "format"), false, "%q is not rfc3339, unix, unix_ms or a Go time layout that keeps the date (e.g. 2006-01-02T15:04:05Z07:00)", inc.Format)
		}
	}
	if inc.Start != "" {
		t, err := ParseTime(inc.Start, inc.Format)
		if err != nil {
			v.fail(append(at, "start"), false, "%v", err)
		} else {
			inc.start, inc.hasStart = t, true
		}
	}
	if inc.Param != "" {
		if _, clash := it.Request.Params.Get(inc.Param); clash {
			v.fail(append(at, "param"), false, "request.params already sets %q; use one or the other", inc.Param)
		}
	}
}

func (v *validator) rateLimit() {
	rl := v.c.RateLimit
	if rl == nil {
		return
	}
	at := p("rate_limit")
	if rl.Per <= 0 {
		v.fail(append(at, "per"), false, "must be longer than 0")
	}
	if rl.Burst == 0 {
		rl.Burst = 1
	}
	if (rl.RemainingHeader == "") != (rl.ResetHeader == "") {
		v.fail(at, true, "remaining_header and reset_header go together: at 0 remaining, the engine waits for the reset")
	}
	if rl.ResetFormat == "" {
		rl.ResetFormat = "unix"
	} else if rl.ResetHeader == "" {
		v.fail(append(at, "reset_format"), true, "reset_format needs reset_header")
	}
}

func (v *validator) responseRules(rules []*ResponseRule, at []string) {
	for i, r := range rules {
		rat := append(append([]string(nil), at...), fmt.Sprint(i))
		if r == nil {
			v.fail(rat, false, "must be a mapping with at least action")
			continue
		}
		for j, st := range r.Status {
			if st < 100 || st > 599 {
				sat := append(append([]string(nil), rat...), "status")
				if len(r.Status) > 1 {
					sat = append(sat, fmt.Sprint(j))
				}
				v.fail(sat, false, "%d is not an HTTP status", st)
			}
		}
		if len(r.Status) == 0 && r.Body == nil {
			v.fail(rat, false, "a rule needs status, body or both to match")
		}
		v.jq(r.Body, append(append([]string(nil), rat...), "body"))
		if r.Action != ActionFail {
			if r.Class != "" {
				v.fail(append(append([]string(nil), rat...), "class"), true, "class applies to action fail only")
			}
			if r.Message != "" {
				v.fail(append(append([]string(nil), rat...), "message"), true, "message applies to action fail only")
			}
		} else if r.Class == "" {
			r.Class = ClassPermanent
		}
		if r.Action == ActionRefreshThenRetry && !v.c.Auth.Refreshable() {
			v.fail(append(append([]string(nil), rat...), "action"), false, "refresh_then_retry needs auth type oauth2 or session, whose tokens can be refreshed")
		}
	}
}

// unused reports each key that is set but that the chosen type does not read, in a
// stable order.
func (v *validator) unused(at []string, set, used map[string]bool, what string) {
	keys := make([]string, 0, len(set))
	for k, isSet := range set {
		if isSet && !used[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		v.fail(append(append([]string(nil), at...), k), true, "not used by %s", what)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// match fills matching defaults by kind and compiles the expressions.
func (v *validator) match(it *InteractionType, at []string) {
	m := it.Match
	if m == nil {
		m = &Match{}
	}
	if m.Entity == "" {
		switch it.Kind {
		case EntityAccount, EntityContact:
			m.Entity = it.Kind
		default:
			m.Entity = EntityNone
		}
	}
	switch m.Entity {
	case EntityAccount:
		if m.Domain == nil {
			m.Domain = &Expr{Src: ".domain // .website // .email"}
		}
		if m.Email != nil || m.AccountRef != nil {
			v.fail(at, true, "email and account_ref apply to entity contact")
		}
	case EntityContact:
		if m.Email == nil {
			m.Email = &Expr{Src: ".email"}
		}
		if m.AccountRef == nil {
			m.AccountRef = &Expr{Src: ".account_id"}
		}
		if m.Domain != nil || m.ByName {
			v.fail(at, true, "domain and by_name apply to entity account")
		}
	}
	if m.Name == nil && m.Entity != EntityNone {
		m.Name = &Expr{Src: ".name"}
	}
	for key, e := range map[string]*Expr{"domain": m.Domain, "email": m.Email, "name": m.Name, "account_ref": m.AccountRef} {
		v.jq(e, append(append([]string(nil), at...), key))
	}
	for _, f := range m.Fields.Keys {
		if r := m.Fields.Map[f]; r != nil && r.Prefer != "" && r.FillOnlyEmpty {
			v.fail(append(append([]string(nil), at...), "fields", f), false, "set prefer or fill_only_empty, not both")
		}
	}
	it.Match = m
}

// kinds checks the inline JSON Schema of each custom kind against the metaschema and
// compiles it, so a bad schema is refused at load with its file and line.
func (v *validator) kinds() {
	root, _ := v.doc.value.(map[string]any)
	declared, _ := root["kinds"].(map[string]any)
	for _, name := range v.c.Kinds.Keys {
		at := p("kinds", name)
		k := v.c.Kinds.Map[name]
		if k == nil {
			v.fail(at, false, "must be a JSON Schema object")
			continue
		}
		k.Name = name
		if schemas.IsBuiltinKind(name) {
			v.fail(at, true, "%q is a built-in kind; give the custom kind another name (to build on the built-in schema, $ref %s)", name, schemas.KindURL(name))
			continue
		}
		// The document's value is the schema as JSON (json.Number numbers, string keys).
		k.Schema = declared[name]
		if _, err := schemas.CompileCustomKind(name, k.Schema); err != nil {
			v.kindSchemaError(at, err)
		}
	}
}

// kindSchemaError places each problem the metaschema finds at its key in the file.
func (v *validator) kindSchemaError(at []string, err error) {
	var se *jsonschema.SchemaValidationError
	var ve *jsonschema.ValidationError
	if !errors.As(err, &se) || !errors.As(se.Err, &ve) {
		v.fail(at, false, "invalid JSON Schema: %s", kindCompileMessage(err))
		return
	}
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		switch e.ErrorKind.(type) {
		case *kind.AnyOf, *kind.OneOf:
			// The metaschema offers alternatives (type: a name or a list of names):
			// the one that got furthest into the value says best what is wrong.
			if len(e.Causes) > 0 {
				best := e.Causes[0]
				for _, c := range e.Causes[1:] {
					if deepest(c) > deepest(best) {
						best = c
					}
				}
				walk(best)
				return
			}
		}
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		segs := append(append([]string(nil), at...), e.InstanceLocation...)
		msg := e.ErrorKind.LocalizedString(printer)
		switch k := e.ErrorKind.(type) {
		case *kind.Type:
			want := make([]string, len(k.Want))
			for i, w := range k.Want {
				want[i] = yamlType(w)
			}
			msg = fmt.Sprintf("must be %s, not %s", strings.Join(want, " or "), yamlType(k.Got))
		case *kind.Minimum:
			msg = fmt.Sprintf("must be at least %s, not %s", k.Want.RatString(), k.Got.RatString())
		}
		v.fail(segs, false, "invalid JSON Schema: %s", msg)
	}
	walk(ve)
}

// deepest is the longest instance location among the leaves of e.
func deepest(e *jsonschema.ValidationError) int {
	n := len(e.InstanceLocation)
	for _, c := range e.Causes {
		n = max(n, deepest(c))
	}
	return n
}

// kindCompileMessage shortens a compiler error that is not a metaschema violation (a
// $ref that does not resolve, a bad regular expression).
func kindCompileMessage(err error) string {
	var le *jsonschema.LoadURLError
	if errors.As(err, &le) {
		return fmt.Sprintf("cannot resolve %q: only the built-in kinds (%s) and the schema itself can be referred to", le.URL, strings.Join(schemas.BuiltinKinds(), ", "))
	}
	return strings.ReplaceAll(err.Error(), schemas.KindBaseURL+"custom/", "")
}
