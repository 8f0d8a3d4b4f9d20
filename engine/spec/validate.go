package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
	windowFields    = []string{"start", "end"}
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
	v.source()
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
		v.sourceType(it, p("interaction_types", name))
		v.interactionType(it, p("interaction_types", name))
		v.sourceTypeDone(it)
	}
	// After every type's match defaults: links.*.type names another type.
	for _, name := range c.InteractionTypes.Keys {
		if it := c.InteractionTypes.Map[name]; it != nil {
			v.links(it, p("interaction_types", name, "links"))
		}
	}
	v.parents()
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
		"login": a.Login != nil, "session_token": a.TokenPath != nil, "expires_in": a.ExpiresIn != nil, "ttl": a.TTL > 0,
		"issuer": a.Issuer != nil, "subject": a.Subject != nil, "audience": a.Audience != nil, "private_key": a.PrivateKey != nil, "private_key_id": a.PrivateKeyID != nil}
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
			v.fail(at, true, "auth type oauth2 needs grant: refresh_token, client_credentials, authorization_code or jwt_bearer")
		case GrantJWTBearer:
			// The signed assertion authenticates the client: no client id or secret.
			for _, k := range []string{"client_auth", "client_id", "client_secret", "token_params"} {
				used[k] = false
			}
			for _, k := range []string{"issuer", "subject", "audience", "private_key", "private_key_id"} {
				used[k] = true
			}
			if a.Issuer == nil {
				v.fail(at, true, "grant jwt_bearer needs issuer: the assertion's iss claim, e.g. '${ .credentials.client_email }'")
			}
			if a.PrivateKey == nil {
				a.PrivateKey = v.defaultCredential("private_key", at)
			}
			checks = append(checks, tplCheck{"issuer", a.Issuer, ctxAuth}, tplCheck{"subject", a.Subject, ctxAuth}, tplCheck{"audience", a.Audience, ctxAuth},
				tplCheck{"private_key", a.PrivateKey, ctxAuth}, tplCheck{"private_key_id", a.PrivateKeyID, ctxAuth})
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
		if a.ClientID == nil && a.Grant != GrantJWTBearer {
			a.ClientID = v.defaultClientCredential("client_id", at, a.Grant)
		}
		if a.ClientSecret == nil && a.Grant != GrantJWTBearer {
			a.ClientSecret = v.defaultClientCredential("client_secret", at, a.Grant)
		}
		if a.ClientAuth == "" && a.Grant != GrantJWTBearer {
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
			switch {
			case root == "parent" && contains(allowed, "cursor"):
				fail("${ %s }: the interaction type has no parent section; add parent: {type: TYPE} to iterate the records of another type", src)
			case root == "window" && contains(allowed, "cursor"):
				fail("${ %s }: .window is the range an incremental sync asks for, but the interaction type has no incremental section", src)
			default:
				fail("${ %s }: unknown context field %q (available here: %s)", src, root, strings.Join(allowed, ", "))
			}
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
		case "window":
			declared = windowFields
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

// jqVars is jq for an expression that may read the given variables.
func (v *validator) jqVars(e *Expr, at []string, vars []string) {
	if e == nil {
		return
	}
	q, err := expr.Compile(e.Src, vars...)
	if err != nil {
		var ee *expr.Error
		if errors.As(err, &ee) && strings.Contains(ee.Msg, "variable not defined") {
			ee.Msg += " (available here: " + strings.Join(vars, ", ") + ")"
		}
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
	// What the request templates may read: .window with incremental, .parent with a
	// parent.
	ctx := append([]string(nil), ctxRequest...)
	if it.Incremental != nil {
		ctx = append(ctx, "window")
	}
	if it.Parent != nil {
		ctx = append(ctx, "parent")
	}
	req := append(at, "request")
	v.request(&it.Request, req, ctx)
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
	v.response(it, append(append([]string(nil), at...), "response"))
	v.pagination(it, append(at, "pagination"), len(v.reads(&it.Request, req, "page", "token")) > 0)
	if it.Incremental != nil {
		v.incremental(it, append(at, "incremental"))
	} else {
		v.noIncremental(&it.Request, req)
	}
	if it.Parent != nil {
		v.parent(it, append(append([]string(nil), at...), "parent"))
	}
	if it.Deletes != nil {
		v.deletes(it, append(append([]string(nil), at...), "deletes"))
	}
	if it.SyncEvery == 0 {
		it.SyncEvery = v.c.SyncEvery
		it.SyncEveryDefaulted = v.syncEveryDefaulted
	}
}

// request compiles a request's templates, each allowed to read ctx.
func (v *validator) request(r *Request, req []string, ctx []string) {
	if r.Method == "" {
		r.Method = "GET"
	}
	if r.Path != nil {
		v.template(r.Path, append(req, "path"), ctx)
		if v.c.BaseURL == nil && r.Path.Template != nil && r.Path.IsConstant() && !strings.HasPrefix(r.Path.Src, "http://") && !strings.HasPrefix(r.Path.Src, "https://") {
			v.fail(append(req, "path"), false, "relative path %q needs a base_url at the top of the spec", r.Path.Src)
		}
	}
	for _, k := range r.Params.Keys {
		v.template(r.Params.Map[k], append(req, "params", k), ctx)
	}
	for _, k := range r.Headers.Keys {
		v.template(r.Headers.Map[k], append(req, "headers", k), ctx)
	}
	if r.Body != nil {
		if r.Method == "GET" {
			v.fail(append(req, "body"), true, "a GET request has no body; set method: POST")
		}
		r.Body.tree = v.valueTreeCtx(r.Body.Raw, append(req, "body"), ctx)
	}
}

// noIncremental reports the templates of a request that read .cursor or .window when
// the interaction type has no incremental section.
func (v *validator) noIncremental(r *Request, req []string) {
	for _, u := range v.reads(r, req, "cursor", "") {
		v.errs = append(v.errs, v.doc.errAtOffset(u.at, u.seg.Offset, "uses ${ .cursor } but the interaction type has no incremental section"))
	}
}

type templateUse struct {
	at  []string
	seg expr.Segment
}

// reads finds the templates of a request that read .root (or .root.sub when sub is
// set).
func (v *validator) reads(r *Request, req []string, root, sub string) []templateUse {
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

// readsRange reports whether a request's templates may read .cursor or .window. It
// errs on the side of yes: a segment that reads its input in a way the analysis does
// not capture counts.
func readsRange(r *Request) bool {
	found := false
	check := func(t *expr.Template, _ []string) {
		if t == nil || found {
			return
		}
		for _, seg := range t.Segments() {
			rd := seg.Query.Reads()
			if rd.Whole {
				found = true
				return
			}
			for _, p := range rd.Paths {
				if len(p) > 0 && (p[0] == "cursor" || p[0] == "window") {
					found = true
					return
				}
			}
		}
	}
	if r.Path != nil {
		check(r.Path.Template, nil)
	}
	for _, k := range r.Params.Keys {
		check(r.Params.Map[k].Template, nil)
	}
	for _, k := range r.Headers.Keys {
		check(r.Headers.Map[k].Template, nil)
	}
	if r.Body != nil {
		walkTemplates(r.Body.tree, nil, check)
	}
	return found
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
func (v *validator) pagination(it *InteractionType, at []string, tokenInTemplate bool) {
	pg := it.Pagination
	used := map[string]bool{"type": true, "stop": true, "has_more": true, "max_pages": true}
	switch pg.Type {
	case PageNone:
		used["stop"], used["has_more"] = false, false
	case PageOffset, PageNumber:
		for _, k := range []string{"in", "param", "limit_param", "limit", "start", "total", "stop_on_short_page"} {
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
		used["in"], used["param"], used["next"], used["limit_param"], used["limit"] = true, true, true, true, true
		if pg.Param == "" && !tokenInTemplate {
			if pg.In == "" || pg.In == InQuery {
				pg.Param = "cursor"
			} else {
				v.fail(at, true, "cursor pagination with in: %s needs param: the %s that carries the token (or put ${ .page.token } in the request yourself)", pg.In, inWhat(pg.In))
			}
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
	case PageAuto:
		// The detected style decides; param and in say where a detected cursor or page
		// number goes when the field's own name is not the parameter.
		used["in"], used["param"], used["limit_param"], used["limit"] = true, true, true, true
	}
	if pg.Type != PageOffset && pg.Type != PageNumber && (pg.LimitParam != "") != (pg.Limit > 0) {
		v.fail(at, true, "limit and limit_param go together")
	}
	set := map[string]bool{
		"in": pg.In != "", "param": pg.Param != "", "limit_param": pg.LimitParam != "", "limit": pg.Limit > 0,
		"start": pg.Start != nil, "next": pg.Next != nil, "stop": pg.Stop != nil, "has_more": pg.HasMore != nil,
		"total": pg.Total != nil, "stop_on_short_page": pg.StopOnShortPage, "rel": pg.Rel != "",
		"max_pages": pg.MaxPages > 0,
	}
	v.unused(at, set, used, "pagination type "+pg.Type)
	if used["in"] {
		if pg.In == "" {
			pg.In = InQuery
		}
		v.pageIn(it, at)
	}
	exprs := []struct {
		key string
		e   *Expr
	}{{"next", pg.Next}, {"stop", pg.Stop}, {"has_more", pg.HasMore}, {"total", pg.Total}}
	for _, x := range exprs {
		v.jqVars(x.e, append(at, x.key), PageVars)
	}
	if f := it.Format(); f != FormatJSON {
		// A JSON Lines or CSV body is no document: only headers and counts are left.
		for _, x := range exprs {
			if x.e == nil || x.e.Query == nil {
				continue
			}
			r := x.e.Query.Reads()
			switch {
			case len(r.Paths) > 0 || r.Whole:
				v.fail(append(at, x.key), false, "response format %s has no document for %s to read: use $headers or $page", f, x.key)
			case r.UsesVar("$records"):
				v.fail(append(at, x.key), false, "$records is not available with response format %s: its records stream and are not kept; use $headers, $page or stop_on_short_page", f)
			}
		}
	}
	if pg.MaxPages == 0 {
		pg.MaxPages = DefaultMaxPages
	}
}

func inWhat(in string) string {
	if in == InBody {
		return "dotted path into the JSON body"
	}
	return in
}

// pageIn checks where param and limit_param go: a header name, or a dotted path into
// a JSON body the request has.
func (v *validator) pageIn(it *InteractionType, at []string) {
	pg := it.Pagination
	if pg.In != InBody {
		return
	}
	if it.Request.Method == "GET" {
		v.fail(append(at, "in"), false, "in: body needs a request body, and a GET request has none; set request.method: POST")
	}
	if it.Request.Body != nil {
		if _, ok := it.Request.Body.Raw.(map[string]any); !ok {
			v.fail(append(at, "in"), false, "in: body puts param into the JSON object of request.body, which is not a mapping")
		}
	}
	for _, k := range []string{"param", "limit_param"} {
		p := map[string]string{"param": pg.Param, "limit_param": pg.LimitParam}[k]
		if p == "" {
			continue
		}
		for _, seg := range strings.Split(p, ".") {
			if seg == "" {
				v.fail(append(at, k), false, "%q is not a dotted path into the body (e.g. variables.after): a segment is empty", p)
				break
			}
		}
	}
}

// response fills the defaults of the response block and checks its options.
func (v *validator) response(it *InteractionType, at []string) {
	r := it.Response
	if r == nil {
		return
	}
	if r.Format == "" {
		r.Format = FormatJSON
	}
	if r.CSV != nil && r.Format != FormatCSV {
		v.fail(append(at, "csv"), true, "csv options apply to format csv, not %s", r.Format)
		return
	}
	if r.Format != FormatCSV {
		return
	}
	if r.CSV == nil {
		r.CSV = &CSV{}
	}
	c := r.CSV
	cat := append(append([]string(nil), at...), "csv")
	if c.Delimiter == "" {
		c.Delimiter = ","
	} else if n := utf8.RuneCountInString(c.Delimiter); n != 1 || c.Delimiter == `"` || c.Delimiter == "\r" || c.Delimiter == "\n" || c.Delimiter == "\uFFFD" {
		v.fail(append(cat, "delimiter"), false, "%q is not a delimiter: give one character other than a quote or a line break, e.g. \",\", \";\" or \"\\t\"", c.Delimiter)
	}
	c.Encoding = canonicalEncoding(c.Encoding)
	if len(c.Columns) > 0 && c.HasHeader() {
		v.fail(append(cat, "columns"), true, "columns name the columns of a body without a header row; set header: false, or drop columns to use the header row's names")
	}
	if c.Header == nil {
		header := true
		c.Header = &header
	}
	seen := map[string]bool{}
	for i, name := range c.Columns {
		if seen[name] {
			v.fail(append(cat, "columns", fmt.Sprint(i)), false, "column %q is named twice", name)
		}
		seen[name] = true
	}
}

func (v *validator) incremental(it *InteractionType, at []string) {
	inc := it.Incremental
	key := func(k string) []string { return append(append([]string(nil), at...), k) }
	v.jq(inc.Cursor, key("cursor"))
	if inc.Format == "" {
		inc.Format = "rfc3339"
	}
	integer := inc.Format == FormatInteger
	if !integer && !contains(timeFormats, inc.Format) {
		ref := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
		back, err := time.Parse(inc.Format, ref.Format(inc.Format))
		if err != nil || back.Year() != 2001 || back.Day() != 3 {
			v.fail(key("format"), false, "%q is not rfc3339, unix, unix_ms, integer or a Go time layout that keeps the date (e.g. 2006-01-02T15:04:05Z07:00)", inc.Format)
		}
	}
	if inc.Start != "" {
		if integer {
			n, err := strconv.ParseInt(strings.TrimSpace(inc.Start), 10, 64)
			if err != nil {
				v.fail(key("start"), false, "%q is not an integer (the cursor has format integer)", inc.Start)
			} else {
				inc.startInt, inc.hasStart = n, true
			}
		} else {
			t, err := ParseTime(inc.Start, inc.Format)
			if err != nil {
				v.fail(key("start"), false, "%v", err)
			} else {
				inc.start, inc.hasStart = t, true
			}
		}
	}
	if inc.Param != "" {
		if _, clash := it.Request.Params.Get(inc.Param); clash {
			v.fail(key("param"), false, "request.params already sets %q; use one or the other", inc.Param)
		}
	}
	if inc.EndParam != "" {
		if _, clash := it.Request.Params.Get(inc.EndParam); clash {
			v.fail(key("end_param"), false, "request.params already sets %q; use one or the other", inc.EndParam)
		} else if inc.EndParam == inc.Param {
			v.fail(key("end_param"), false, "%q is also param, which receives the start of the range", inc.EndParam)
		}
		inc.endParam = mustTemplate("${ .window.end }")
	}
	if inc.Filter == "" {
		inc.Filter = FilterInclusive
	}
	if inc.Order == "" {
		inc.Order = OrderAsc
	}
	if integer {
		// Windows, lookbacks and end times are spans of time: an id has none.
		for _, k := range []struct {
			name string
			set  bool
		}{{"end_param", inc.EndParam != ""}, {"initial_window", inc.InitialWindow > 0}, {"lookback", inc.Lookback > 0}, {"step", inc.Step > 0}} {
			if k.set {
				v.fail(key(k.name), true, "applies to time cursors only; this cursor has format integer")
			}
		}
	}
	if inc.Step > 0 && !integer && !inc.hasStart && inc.InitialWindow == 0 {
		v.fail(key("step"), true, "step needs start or initial_window: the first window starts there")
	}
	if inc.Step > 0 && inc.ClientSide {
		v.fail(key("step"), true, "step slices the requests by time, but with client_side the API has no since filter and would return everything for each window")
	}
	if inc.Order == OrderDesc && inc.Sorted {
		v.fail(key("sorted"), true, "sorted: true means oldest first; a newest-first feed (order: desc) commits its cursor when the sync succeeds, so drop sorted")
	}
	inc.unit = formatUnit(inc.Format)
	if inc.Step > 0 && !integer {
		switch {
		case inc.Step.D() < time.Minute:
			v.fail(key("step"), false, "%s is too small: a backfill would take a request per %s; use 1m or more", FormatDuration(inc.Step.D()), FormatDuration(inc.Step.D()))
		case inc.Step.D() < inc.unit:
			v.fail(key("step"), false, "%s is finer than the format %q can write (%s): windows would be sent with the same bounds", FormatDuration(inc.Step.D()), inc.Format, FormatDuration(inc.unit))
		}
	}
}

// formatUnit is the smallest change of time that the format shows (1 for integers):
// the first of 1ns, 1µs, 1ms, 1s, 1m, 1h and 24h that changes the formatted value.
func formatUnit(format string) time.Duration {
	if format == FormatInteger {
		return 1
	}
	ref := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, d := range []time.Duration{time.Nanosecond, time.Microsecond, time.Millisecond, time.Second, time.Minute, time.Hour, 24 * time.Hour} {
		if FormatTime(ref.Add(d), format) != FormatTime(ref, format) {
			return d
		}
	}
	return 24 * time.Hour
}

// parent checks a child type's own keys; whether its parent exists and whether the
// parents form a cycle is checked once every type is known (parents).
func (v *validator) parent(it *InteractionType, at []string) {
	pa := it.Parent
	key := func(k ...string) []string { return append(append([]string(nil), at...), k...) }
	if pa.Concurrency == 0 {
		pa.Concurrency = DefaultParentConcurrency
	}
	for _, k := range pa.Fields.Keys {
		if pa.Fields.Map[k] == nil {
			v.fail(key("fields", k), false, "needs a jq expression")
			continue
		}
		v.jq(pa.Fields.Map[k], key("fields", k))
		if _, clash := it.Fields.Get(k); clash {
			v.fail(key("fields", k), true, "%q is also in fields; a mapped record has one value per name, so rename one of them", k)
		}
	}
	if it.Incremental != nil {
		// The child's runs are incremental through its parents already.
		v.fail(append(at[:len(at)-1:len(at)-1], "incremental"), true, "a child type has no incremental section of its own: after the first sync, each sync fetches only the children of parents changed since the last successful one")
	}
}

// parents checks that every parent type exists and that no type is its own ancestor.
func (v *validator) parents() {
	inCycle := map[string]bool{} // reported once, at the first type of the cycle
	for _, name := range v.c.InteractionTypes.Keys {
		it := v.c.InteractionTypes.Map[name]
		if it == nil || it.Parent == nil {
			continue
		}
		at := p("interaction_types", name, "parent", "type")
		if it.Parent.Type == name {
			v.fail(at, false, "%q is this type itself; a type cannot iterate its own records", name)
			continue
		}
		if _, ok := v.c.InteractionTypes.Get(it.Parent.Type); !ok {
			msg := fmt.Sprintf("provider %s has no interaction type %q", v.c.Provider, it.Parent.Type)
			if s := suggest(it.Parent.Type, v.c.InteractionTypes.Keys); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else {
				msg += " (it has: " + strings.Join(v.c.InteractionTypes.Keys, ", ") + ")"
			}
			v.fail(at, false, "%s", msg)
			continue
		}
		chain := []string{name}
		for cur := it.Parent.Type; ; {
			chain = append(chain, cur)
			if cur == name {
				if !inCycle[name] {
					v.fail(at, false, "the parents form a cycle: %s; some type must read its records from its own request", strings.Join(chain, " -> "))
				}
				for _, t := range chain {
					inCycle[t] = true
				}
				break
			}
			next, ok := v.c.InteractionTypes.Get(cur)
			if !ok || next == nil || next.Parent == nil || len(chain) > len(v.c.InteractionTypes.Keys) {
				break // the end of the chain, or a cycle that does not include name
			}
			cur = next.Parent.Type
		}
	}
}

func (v *validator) deletes(it *InteractionType, at []string) {
	d := it.Deletes
	key := func(k ...string) []string { return append(append([]string(nil), at...), k...) }
	var modes []string
	if d.Flag != nil {
		modes = append(modes, "flag")
	}
	if d.Request != nil {
		modes = append(modes, "request")
	}
	if d.Reconcile {
		modes = append(modes, "reconcile")
	}
	switch len(modes) {
	case 0:
		if d.Records != nil || d.ID != nil || d.Pagination != nil {
			v.fail(at, true, "records, id and pagination describe a deleted-records endpoint; add its request")
		} else {
			v.fail(at, true, "set one of flag (a field that marks deleted records), request (an endpoint listing them) or reconcile: true (records a full sync did not see)")
		}
		return
	case 1:
	default:
		v.fail(at, true, "set one of flag, request or reconcile, not %s: each is a whole way of finding deletions", strings.Join(modes, " and "))
		return
	}
	if d.Request == nil {
		for _, k := range []struct {
			name string
			set  bool
		}{{"id", d.ID != nil}, {"pagination", d.Pagination != nil}, {"records", d.Records != nil}} {
			if k.set {
				v.fail(key(k.name), true, "not used by deletes %s; %s goes with request (a deleted-records endpoint)", modes[0], k.name)
			}
		}
	}
	switch modes[0] {
	case "flag":
		v.jq(d.Flag, key("flag"))
	case "request":
		if it.Parent != nil {
			v.fail(key("request"), true, "a child type cannot read a deleted-records endpoint; use flag, or declare the deletions on the parent type")
		}
		ctx := append([]string(nil), ctxRequest...)
		if it.Incremental != nil {
			ctx = append(ctx, "window")
		}
		req := key("request")
		v.request(d.Request, req, ctx)
		if it.Incremental == nil {
			v.noIncremental(d.Request, req)
		}
		if d.Records == nil {
			v.fail(at, true, "a deleted-records request needs records: jq over its response yielding each deleted record")
		}
		if d.ID == nil {
			v.fail(at, true, "a deleted-records request needs id: jq over a deleted record yielding its external id")
		}
		v.jq(d.Records, key("records"))
		v.jq(d.ID, key("id"))
		if d.Pagination == nil {
			d.Pagination = &Pagination{Type: PageNone}
		}
		d.endpoint = &InteractionType{Name: it.Name + ".deletes", Kind: it.Kind, SyncEvery: it.SyncEvery, Request: *d.Request,
			Records: d.Records, ID: d.ID, Pagination: d.Pagination, ResponseRules: it.ResponseRules, Match: &Match{Entity: EntityNone}}
		d.ranged = readsRange(d.Request)
		v.pagination(d.endpoint, key("pagination"), len(v.reads(d.Request, req, "page", "token")) > 0)
	case "reconcile":
		if it.Incremental != nil {
			v.fail(key("reconcile"), true, "reconcile marks what a sync did not see, so every sync must read everything; it cannot go with incremental")
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
	// reset_header alone is read after a 429 that carries no Retry-After (Jira's
	// X-RateLimit-Reset); remaining_header alone would not say how long to wait.
	if rl.RemainingHeader != "" && rl.ResetHeader == "" {
		v.fail(at, true, "remaining_header needs reset_header: at 0 remaining, the engine waits for the reset")
	}
	if rl.ResetFormat == "" {
		rl.ResetFormat = "unix"
	} else if rl.ResetHeader == "" {
		v.fail(append(at, "reset_format"), true, "reset_format needs reset_header")
	}
	for _, k := range rl.Endpoints.Keys {
		e := rl.Endpoints.Map[k]
		eat := append(append([]string(nil), at...), "endpoints", k)
		if e == nil {
			v.fail(eat, false, "must be a mapping with requests and per")
			continue
		}
		for _, seg := range strings.Split(strings.Trim(k, "/"), "/") {
			if seg == "" || (strings.Contains(seg, "*") && seg != "*") || strings.ContainsAny(seg, "?#") {
				v.fail(eat, true, "%q is not a path pattern: segments are names or *, such as /crm/v3/objects/*/search", k)
				break
			}
		}
		if e.Per <= 0 {
			v.fail(append(eat, "per"), false, "must be longer than 0")
		}
		if e.Burst == 0 {
			e.Burst = 1
		}
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
		v.jqVars(r.Body, append(append([]string(nil), rat...), "body"), RuleVars)
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
	switch {
	case m.Entity == EntityNone && m.Mode != "":
		v.fail(append(append([]string(nil), at...), "mode"), true, "mode applies to records that are accounts or contacts (match entity account or contact); those of kind %s are neither", it.Kind)
	case m.Entity != EntityNone && m.Mode == "":
		m.Mode = ModeCreate
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

// links compiles an interaction type's references to accounts and contacts and checks
// the interaction types they name.
func (v *validator) links(it *InteractionType, at []string) {
	l := it.Links
	if l == nil {
		return
	}
	if it.Match != nil && it.Match.Entity != EntityNone {
		v.fail(at, true, "links are for records that refer to accounts and contacts (tickets, deals, tasks); the records of this type are %ss themselves (a contact's company is match.account_ref)", it.Match.Entity)
		return
	}
	if l.Account == nil && l.Contact == nil {
		v.fail(at, false, "set account, contact or both")
		return
	}
	for _, role := range []string{EntityAccount, EntityContact} {
		ref := l.Account
		key := "domain"
		if role == EntityContact {
			ref, key = l.Contact, "email"
		}
		if ref == nil {
			continue
		}
		rat := append(append([]string(nil), at...), role)
		other := ref.Domain
		if role == EntityContact {
			other = ref.Email
		}
		if ref.ID == nil && other == nil {
			v.fail(rat, true, "needs id, %s or both: the keys that name the %s (name is only a label)", key, role)
		}
		if ref.Type != "" {
			tat := append(append([]string(nil), rat...), "type")
			t, ok := v.c.InteractionTypes.Get(ref.Type)
			switch {
			case !ok:
				msg := fmt.Sprintf("this spec has no interaction type %q", ref.Type)
				if s := suggest(ref.Type, v.c.InteractionTypes.Keys); s != "" {
					msg += fmt.Sprintf(" (did you mean %s?)", s)
				} else {
					msg += fmt.Sprintf(" (it has: %s)", strings.Join(v.c.InteractionTypes.Keys, ", "))
				}
				v.fail(tat, false, "%s", msg)
			case t == nil || t.Match == nil:
				// Reported where that type is declared.
			case t.Match.Entity != role:
				v.fail(tat, false, "interaction type %q does not resolve to %ss (its match entity is %s); type names the type whose records' ids id holds", ref.Type, role, t.Match.Entity)
			}
			if ref.ID == nil {
				v.fail(tat, true, "type says whose ids id holds; set id too")
			}
		}
		v.jq(ref.ID, append(append([]string(nil), rat...), "id"))
		v.jq(ref.Domain, append(append([]string(nil), rat...), "domain"))
		v.jq(ref.Email, append(append([]string(nil), rat...), "email"))
		v.jq(ref.Name, append(append([]string(nil), rat...), "name"))
	}
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

// canonicalEncoding fills the default encoding and gives latin-1 its one name, so
// response bodies and files read the same set under the same names.
func canonicalEncoding(enc string) string {
	switch enc {
	case "":
		return EncodingUTF8
	case "latin-1":
		return EncodingLatin1
	}
	return enc
}
