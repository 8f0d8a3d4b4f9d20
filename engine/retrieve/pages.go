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

// Page is one page of raw records.
type Page struct {
	Number  int
	Records []any
	URL     string // redacted
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

// Pages requests every page of an interaction type and calls fn with each page's
// records, in order. q carries the incremental cursor to send and extra template
// variables. fn's error stops paging and is returned as is, except ErrStopPaging,
// which stops paging and returns nil.
func (c *Client) Pages(ctx context.Context, it *spec.InteractionType, q Query, fn func(Page) error) error {
	pg := it.Pagination
	ctx = withRules(ctx, it.ResponseRules)
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
		req, err := c.buildRequest(ctx, it, st, cursor, q.Vars)
		if err != nil {
			return fmt.Errorf("%s: page %d: %w", it.Name, n, err)
		}
		resp, err := c.Do(ctx, req)
		if err != nil {
			return fmt.Errorf("%s: page %d: %w", it.Name, n, err)
		}
		var records []any
		if !resp.Ignored {
			records, err = it.Records.All(ctx, resp.Body)
		}
		if err != nil {
			return fmt.Errorf("%s: page %d: %w: %w", it.Name, n, errRecords, c.redact.Error(err))
		}
		shown := c.redact.String(redactQuery(resp.URL))
		if c.opts.Trace != nil {
			c.opts.Trace(TraceEvent{Kind: "page", Type: it.Name, Page: n, Records: len(records), URL: shown})
		}
		if err := fn(Page{Number: n, Records: records, URL: shown}); err != nil {
			if errors.Is(err, ErrStopPaging) {
				return nil
			}
			return err
		}
		if resp.Ignored {
			return nil // a rule said to skip this answer: no records, no next page
		}
		more, err := c.advance(ctx, it, st, resp, len(records), seenTokens)
		if err != nil {
			return fmt.Errorf("%s: page %d: %w", it.Name, n, err)
		}
		if !more {
			return nil
		}
	}
}

func (c *Client) buildRequest(ctx context.Context, it *spec.InteractionType, st *pageState, cursor any, extra map[string]any) (Request, error) {
	pg := it.Pagination
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
	if pg.LimitParam != "" {
		req.Query.Set(pg.LimitParam, fmt.Sprint(pg.Limit))
	}
	switch pg.Type {
	case spec.PageOffset:
		req.Query.Set(pg.Param, fmt.Sprint(st.offset))
	case spec.PageNumber:
		req.Query.Set(pg.Param, fmt.Sprint(st.number))
	case spec.PageCursor:
		// Without param, a request template carries ${ .page.token } itself.
		if st.token != nil && pg.Param != "" {
			req.Query.Set(pg.Param, expr.Text(st.token))
		}
	}
	return req, nil
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

// advance moves st to the next page and reports whether there is one.
func (c *Client) advance(ctx context.Context, it *spec.InteractionType, st *pageState, resp *Response, n int, seen map[string]bool) (bool, error) {
	pg := it.Pagination
	st.seen += n
	if pg.Type == spec.PageNone {
		return false, nil
	}
	if pg.Stop != nil {
		stop, err := pg.Stop.Truthy(ctx, resp.Body)
		if err != nil {
			return false, fmt.Errorf("pagination.stop: %w", err)
		}
		if stop {
			return false, nil
		}
	}
	switch pg.Type {
	case spec.PageOffset, spec.PageNumber:
		if n == 0 || (pg.StopOnShortPage && n < pg.Limit) {
			return false, nil
		}
		if pg.Total != nil {
			total, err := pg.Total.First(ctx, resp.Body)
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
		tok, err := pg.Next.First(ctx, resp.Body)
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
			v, err := pg.Next.First(ctx, resp.Body)
			if err != nil {
				return false, fmt.Errorf("pagination.next: %w", err)
			}
			if v != nil && v != false {
				next = expr.Text(v)
			}
		} else {
			next = ParseLinkHeader(resp.Header.Values("Link"))[pg.Rel]
		}
		if next == "" {
			return false, nil
		}
		ref, err := url.Parse(next)
		if err != nil {
			return false, fmt.Errorf("next page URL %q: %w", c.redact.String(next), err)
		}
		abs := resp.URL.ResolveReference(ref)
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
