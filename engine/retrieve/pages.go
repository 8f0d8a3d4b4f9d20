package retrieve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/intakehq/intake/engine/expr"
	"github.com/intakehq/intake/engine/spec"
)

// Page is the raw records of one response, or of one part of it: a large response is
// handed over in several parts, so that it never sits in memory whole.
type Page struct {
	// Number is the response's number in this sync, from 1; every part of a response
	// has the same Number.
	Number  int
	Records []any
	URL     string // redacted
	// Part numbers the parts of one response from 1; each holds at most
	// Options.PartSize records. A response read again after its body broke off starts
	// again at part 1 and hands its records over again.
	Part int
	// Last is set on the final part of a response. Pagination moves on only after it:
	// the next request is not sent before the response has been read to its end.
	Last bool
}

// ErrRepeatedToken means the provider handed out a page token or next URL it had
// already given in this sync: following it would loop forever.
var ErrRepeatedToken = errors.New("pagination repeated itself")

// ErrStopPaging, returned by a Pages callback, ends paging without an error: a
// newest-first feed that has reached records older than its cursor, say.
var ErrStopPaging = errors.New("stop paging")

// Query is what one sync asks of an interaction type beyond its spec.
type Query struct {
	// Cursor is the incremental cursor value, already formatted for the provider; nil
	// reads everything.
	Cursor any
	// Vars are extra template variables (.window, .parent, ...), set over the client's.
	Vars map[string]any
}

// Since is the query for a time cursor, formatted as the interaction type says.
func Since(it *spec.InteractionType, since *time.Time) Query {
	if since == nil || it.Incremental == nil {
		return Query{}
	}
	return Query{Cursor: spec.FormatTime(*since, it.Incremental.Format)}
}

// pageState is what templates see as .page and what the paginator advances.
type pageState struct {
	number int
	offset int
	seen   int // records received so far
	token  any
	next   string // URL of the next page (next_url, link)
}

func (p *pageState) vars(limit int) map[string]any {
	return map[string]any{"number": p.number, "offset": p.offset, "limit": limit, "token": p.token}
}

// pageResult is what one response left for pagination to read.
type pageResult struct {
	shown   string
	url     *url.URL
	header  http.Header
	body    any   // the document, or for a streamed body its envelope
	n       int   // records in the response
	records []any // kept only when a pagination expression reads $records
	ignored bool
}

// fnError carries an error of the Pages callback out of the exchange untouched. It
// does not unwrap, so that an error of the callback (a child sync's broken body, say)
// is never taken for one of this exchange and retried.
type fnError struct{ err error }

func (e *fnError) Error() string { return e.err.Error() }

// Pages requests every page of an interaction type and calls fn with each page's
// records, in order, a large response in several parts (see Page). q carries the
// incremental cursor to send and extra template variables. fn's error stops paging and
// is returned as is, except ErrStopPaging, which stops paging and returns nil.
func (c *Client) Pages(ctx context.Context, it *spec.InteractionType, q Query, fn func(Page) error) error {
	pg := it.Pagination
	ctx = withRules(ctx, it.ResponseRules)
	plan := c.newBodyPlan(it)
	// .page.number is the page's number: from start for page numbers, else from 1.
	st := &pageState{number: 1}
	if pg.Type == spec.PageNumber {
		st.number = pg.StartAt()
	}
	if pg.Type == spec.PageOffset {
		st.offset = pg.StartAt() // for page numbers, .page.offset counts records before the page
	}
	cursor := q.Cursor
	seenTokens := map[string]bool{}
	for n := 1; ; n++ {
		if n > pg.MaxPages {
			return fmt.Errorf("%s: stopped after max_pages (%d) pages; raise pagination.max_pages if the data really is that large", it.Name, pg.MaxPages)
		}
		req, err := c.buildRequest(ctx, it, pg, st, cursor, q.Vars)
		if err != nil {
			return fmt.Errorf("%s: page %d: %w", it.Name, n, err)
		}
		var res pageResult
		err = c.exchange(ctx, req, plan, func(a *answer) error {
			return c.consume(ctx, it, plan, a, n, &res, fn)
		})
		if err != nil {
			var fe *fnError
			if errors.As(err, &fe) {
				if errors.Is(fe.err, ErrStopPaging) {
					return nil
				}
				return fe.err
			}
			return fmt.Errorf("%s: page %d: %w", it.Name, n, err)
		}
		if res.ignored {
			return nil // a rule said to skip this answer: no records, no next page
		}
		if pg.Type == spec.PageAuto {
			var what string
			pg, what, err = detectPagination(it, pg, &res)
			if err != nil {
				return fmt.Errorf("%s: page %d: pagination auto: %w", it.Name, n, err)
			}
			if c.opts.Trace != nil {
				c.opts.Trace(TraceEvent{Kind: "detect", Type: it.Name, Page: n, Detail: what})
			}
			if c.opts.Logger != nil {
				c.opts.Logger.Debug("pagination auto-detected", "type", it.Name, "detected", what)
			}
		}
		more, err := c.advance(ctx, pg, st, &res, seenTokens)
		if err != nil {
			return fmt.Errorf("%s: page %d: %w", it.Name, n, err)
		}
		if !more {
			return nil
		}
	}
}

// consume hands the records of one answer to fn, in parts of at most PartSize, and
// leaves in res what pagination needs. A streamed body is read here, record by record;
// its last part goes out only once the body has been read to its end and found whole.
func (c *Client) consume(ctx context.Context, it *spec.InteractionType, plan *bodyPlan, a *answer, n int, res *pageResult, fn func(Page) error) error {
	*res = pageResult{url: a.url, shown: c.redact.String(redactQuery(a.url)), header: a.header, body: a.body}
	part := 0
	emit := func(recs []any, last bool) error {
		part++
		if c.opts.Trace != nil {
			c.opts.Trace(TraceEvent{Kind: "page", Type: it.Name, Page: n, Part: part, Last: last, Records: len(recs), URL: res.shown})
		}
		// While fn works, a body still being read gives back its concurrency slot:
		// fn may send requests through this client (a child stream's). The last part
		// comes after the body is closed.
		if !last {
			a.slot.pause()
		}
		if err := fn(Page{Number: n, Records: recs, URL: res.shown, Part: part, Last: last}); err != nil {
			return &fnError{err}
		}
		if !last {
			return a.slot.resume(ctx)
		}
		return nil
	}
	if a.ignored {
		res.ignored = true
		return emit(nil, true)
	}
	src := a.records
	if src == nil {
		recs, err := it.Records.All(ctx, a.body)
		if err != nil {
			return fmt.Errorf("%w: %w", errRecords, c.redact.Error(err))
		}
		src = &sliceSource{recs: recs, doc: a.body}
	}
	size := c.opts.PartSize
	chunk := make([]any, 0, min(size, 256))
	for {
		rec, ok, err := src.next(ctx)
		if err != nil {
			return c.streamError(a.shown, err)
		}
		if !ok {
			break
		}
		if len(chunk) == size {
			// Another record follows, so this part is not the last.
			if err := emit(chunk, false); err != nil {
				return err
			}
			chunk = make([]any, 0, size)
		}
		chunk = append(chunk, rec)
		res.n++
		if plan.keep {
			res.records = append(res.records, rec)
		}
	}
	res.body = src.envelope()
	if r := c.lateMatch(ctx, a); r != nil {
		return &lateRule{rule: r}
	}
	a.close() // read to its end: its connection and concurrency slot are free
	return emit(chunk, true)
}

func (c *Client) buildRequest(ctx context.Context, it *spec.InteractionType, pg *spec.Pagination, st *pageState, cursor any, extra map[string]any) (Request, error) {
	r := it.Request
	if st.next != "" {
		req := Request{Method: r.Method, URL: st.next, Headers: http.Header{}}
		vars := c.requestVars(st, cursor, pg.Limit, extra)
		// Request headers (an API version, say) go with every page.
		for _, k := range r.Headers.Keys {
			v, err := r.Headers.Map[k].RenderString(ctx, vars)
			if err != nil {
				return Request{}, fmt.Errorf("request.headers.%s: %w", k, err)
			}
			req.Headers.Set(k, v)
		}
		if r.Method != http.MethodGet && r.Body != nil {
			// A POST search paged by next URL repeats its body.
			b, err := r.Body.Render(ctx, vars)
			if err != nil {
				return Request{}, fmt.Errorf("request.body: %w", err)
			}
			req.Body = b
		}
		return req, nil
	}
	vars := c.requestVars(st, cursor, pg.Limit, extra)
	path, err := r.Path.RenderString(ctx, vars)
	if err != nil {
		return Request{}, fmt.Errorf("request.path: %w", err)
	}
	req := Request{Method: r.Method, URL: path, Query: url.Values{}, Headers: http.Header{}}
	for _, k := range r.Params.Keys {
		v, err := r.Params.Map[k].Render(ctx, vars)
		if err != nil {
			return Request{}, fmt.Errorf("request.params.%s: %w", k, err)
		}
		if v != nil {
			req.Query.Set(k, expr.Text(v))
		}
	}
	for _, k := range r.Headers.Keys {
		v, err := r.Headers.Map[k].RenderString(ctx, vars)
		if err != nil {
			return Request{}, fmt.Errorf("request.headers.%s: %w", k, err)
		}
		req.Headers.Set(k, v)
	}
	if r.Body != nil {
		b, err := r.Body.Render(ctx, vars)
		if err != nil {
			return Request{}, fmt.Errorf("request.body: %w", err)
		}
		req.Body = b
	}
	if inc := it.Incremental; inc != nil && inc.Param != "" && cursor != nil {
		req.Query.Set(inc.Param, expr.Text(cursor))
	}
	put := func(name string, v any) error { return inject(&req, pg.In, name, v) }
	if pg.LimitParam != "" {
		if err := put(pg.LimitParam, pg.Limit); err != nil {
			return Request{}, err
		}
	}
	switch pg.Type {
	case spec.PageOffset:
		err = put(pg.Param, st.offset)
	case spec.PageNumber:
		err = put(pg.Param, st.number)
	case spec.PageCursor:
		// Without param, a request template carries ${ .page.token } itself.
		if st.token != nil && pg.Param != "" {
			err = put(pg.Param, st.token)
		}
	}
	if err != nil {
		return Request{}, err
	}
	return req, nil
}

// inject puts a pagination value where pagination.in says: a query parameter, a
// header (both as text), or a dotted path into the JSON body (as its JSON value, so a
// page number stays a number).
func inject(req *Request, in, name string, v any) error {
	switch in {
	case spec.InHeader:
		req.Headers.Set(name, expr.Text(v))
	case spec.InBody:
		if req.Body == nil {
			req.Body = map[string]any{}
		}
		m, ok := req.Body.(map[string]any)
		if !ok {
			return fmt.Errorf("pagination.in: body: request.body is not an object to put %s into", name)
		}
		keys := strings.Split(name, ".")
		for i, k := range keys[:len(keys)-1] {
			next, exists := m[k]
			if !exists || next == nil {
				child := map[string]any{}
				m[k] = child
				m = child
				continue
			}
			child, ok := next.(map[string]any)
			if !ok {
				return fmt.Errorf("pagination.in: body: cannot put %s into the body: %s is not an object", name, strings.Join(keys[:i+1], "."))
			}
			m = child
		}
		m[keys[len(keys)-1]] = v
	default:
		req.Query.Set(name, expr.Text(v))
	}
	return nil
}

func (c *Client) requestVars(st *pageState, cursor any, limit int, extra map[string]any) map[string]any {
	v := make(map[string]any, len(c.vars)+3+len(extra))
	for k, x := range c.vars {
		v[k] = x
	}
	for k, x := range extra {
		v[k] = x
	}
	v["cursor"] = cursor
	v["page"] = st.vars(limit)
	v["now"] = c.opts.Now().UTC().Format(time.RFC3339)
	return v
}

// headerVars is $headers: each header by its lower-cased name, with its first value.
func headerVars(h http.Header) map[string]any {
	out := make(map[string]any, len(h))
	for k, vs := range h {
		if len(vs) > 0 {
			out[strings.ToLower(k)] = vs[0]
		}
	}
	return out
}

// advance moves st to the next page and reports whether there is one.
func (c *Client) advance(ctx context.Context, pg *spec.Pagination, st *pageState, res *pageResult, seen map[string]bool) (bool, error) {
	n := res.n
	st.seen += n
	if pg.Type == spec.PageNone {
		return false, nil
	}
	records := res.records // kept when an expression reads $records
	if records == nil {
		records = []any{}
	}
	vars := expr.Vars{"$headers": headerVars(res.header), "$records": records, "$page": st.number}
	if pg.Stop != nil {
		stop, err := pg.Stop.TruthyVars(ctx, res.body, vars)
		if err != nil {
			return false, fmt.Errorf("pagination.stop: %w", err)
		}
		if stop {
			return false, nil
		}
	}
	if pg.HasMore != nil {
		more, err := pg.HasMore.TruthyVars(ctx, res.body, vars)
		if err != nil {
			return false, fmt.Errorf("pagination.has_more: %w", err)
		}
		if !more {
			return false, nil
		}
	}
	switch pg.Type {
	case spec.PageOffset, spec.PageNumber:
		if n == 0 || (pg.StopOnShortPage && n < pg.Limit) {
			return false, nil
		}
		if pg.Total != nil {
			total, err := pg.Total.FirstVars(ctx, res.body, vars)
			if err != nil {
				return false, fmt.Errorf("pagination.total: %w", err)
			}
			// total counts records, whatever offset the first page has (start: 1 APIs).
			if t, ok := toInt(total); ok && st.seen >= t {
				return false, nil
			}
		}
		// Advance by what arrived, not by the limit asked for: APIs cap page sizes.
		st.offset += n
		st.number++
		return true, nil
	case spec.PageCursor:
		tok, err := pg.Next.FirstVars(ctx, res.body, vars)
		if err != nil {
			return false, fmt.Errorf("pagination.next: %w", err)
		}
		if tok == nil || tok == false || expr.Text(tok) == "" {
			return false, nil
		}
		key := expr.Text(tok)
		if seen[key] {
			return false, fmt.Errorf("%w: the provider returned token %q twice", ErrRepeatedToken, c.redact.String(truncate(key, 80)))
		}
		seen[key] = true
		st.token = tok
		st.number++
		return true, nil
	case spec.PageNextURL, spec.PageLink:
		var next string
		if pg.Type == spec.PageNextURL {
			v, err := pg.Next.FirstVars(ctx, res.body, vars)
			if err != nil {
				return false, fmt.Errorf("pagination.next: %w", err)
			}
			if v != nil && v != false {
				next = expr.Text(v)
			}
		} else {
			next = ParseLinkHeader(res.header.Values("Link"))[pg.Rel]
		}
		if next == "" {
			return false, nil
		}
		ref, err := url.Parse(next)
		if err != nil {
			return false, fmt.Errorf("next page URL %q: %w", c.redact.String(next), err)
		}
		abs := res.url.ResolveReference(ref)
		key := abs.String()
		if seen[key] {
			return false, fmt.Errorf("%w: the provider returned next page %s twice", ErrRepeatedToken, c.redact.String(redactQuery(abs)))
		}
		seen[key] = true
		st.next = key
		st.number++
		return true, nil
	}
	return false, fmt.Errorf("unknown pagination type %q", pg.Type)
}

func toInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case float64:
		return int(x), true
	case interface{ Int64() (int64, error) }:
		i, err := x.Int64()
		return int(i), err == nil
	case string:
		var i int
		_, err := fmt.Sscan(x, &i)
		return i, err == nil
	}
	return 0, false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ParseLinkHeader reads RFC 8288 Link header values into relation → URL. A link with
// several relations ("next last") is listed under each; the first link of a relation
// wins.
func ParseLinkHeader(values []string) map[string]string {
	out := map[string]string{}
	for _, v := range values {
		for len(v) > 0 {
			start := strings.IndexByte(v, '<')
			if start < 0 {
				break
			}
			end := strings.IndexByte(v[start:], '>')
			if end < 0 {
				break
			}
			target := v[start+1 : start+end]
			v = v[start+end+1:]
			params, rest := splitLinkParams(v)
			v = rest
			for _, rel := range strings.Fields(params["rel"]) {
				rel = strings.ToLower(rel)
				if _, ok := out[rel]; !ok {
					out[rel] = target
				}
			}
		}
	}
	return out
}

// splitLinkParams reads `; k=v; k2="v, w"` up to the comma that ends the link.
func splitLinkParams(s string) (map[string]string, string) {
	params := map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return params, ""
		}
		if s[0] == ',' {
			return params, s[1:]
		}
		if s[0] != ';' {
			// Malformed: skip to the next link.
			if i := strings.IndexByte(s, ','); i >= 0 {
				return params, s[i+1:]
			}
			return params, ""
		}
		s = strings.TrimLeft(s[1:], " \t")
		eq := strings.IndexAny(s, "=;,")
		if eq < 0 {
			return params, ""
		}
		name := strings.ToLower(strings.TrimSpace(s[:eq]))
		if s[eq] != '=' {
			params[name] = ""
			s = s[eq:]
			continue
		}
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val string
		if strings.HasPrefix(s, `"`) {
			i := 1
			var b strings.Builder
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
				i++
			}
			val = b.String()
			if i < len(s) {
				i++
			}
			s = s[i:]
		} else {
			j := strings.IndexAny(s, ";,")
			if j < 0 {
				j = len(s)
			}
			val, s = strings.TrimSpace(s[:j]), s[j:]
		}
		if _, ok := params[name]; !ok {
			params[name] = val
		}
	}
}
