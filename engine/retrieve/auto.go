package retrieve

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/intakehq/intake/engine/expr"
	"github.com/intakehq/intake/engine/spec"
)

// Field names pagination: auto recognises, in the order it tries them. Each is a key
// path into the response document.
var (
	// autoNextURL: the URL of the next page.
	autoNextURL = [][]string{
		{"next"}, {"next_url"}, {"nextPage"}, {"next_page_url"}, {"links", "next"},
		{"paging", "next", "link"}, {"nextRecordsUrl"}, {"@odata.nextLink"}, {"_links", "next", "href"},
	}
	// autoCursor: the token of the next page, and the parameter that usually takes it.
	autoCursor = []struct {
		path  []string
		param string
	}{
		{[]string{"next_cursor"}, "cursor"},
		{[]string{"cursor"}, "cursor"},
		{[]string{"after"}, "after"},
		{[]string{"paging", "next", "after"}, "after"},
		{[]string{"nextPageToken"}, "pageToken"},
		{[]string{"meta", "next_cursor"}, "cursor"},
		{[]string{"response_metadata", "next_cursor"}, "cursor"},
	}
	// autoNextPage: the number of the next page.
	autoNextPage = [][]string{{"next_page"}, {"nextPage"}}
	// autoPageCounts: the current page number and the number of pages.
	autoPageCounts = [][2][]string{
		{{"page"}, {"total_pages"}},
		{{"current_page"}, {"last_page"}},
		{{"meta", "current_page"}, {"meta", "last_page"}},
		{{"meta", "page"}, {"meta", "total_pages"}},
		{{"pagination", "page"}, {"pagination", "total_pages"}},
	}
)

// detectPagination reads the first response of a pagination: auto interaction type
// and returns the pagination to follow from then on, with a description for the
// trace. In order: a Link header with rel=next; a next-page URL field; a cursor field
// (a GraphQL pageInfo.endCursor with hasNextPage among them); a next page number; page
// counts. Nothing found means there is no second page.
func detectPagination(it *spec.InteractionType, pg *spec.Pagination, res *pageResult) (*spec.Pagination, string, error) {
	eff := *pg
	where := func(param string) string {
		switch pg.In {
		case spec.InHeader:
			return "header " + param
		case spec.InBody:
			return "body at " + param
		}
		return "query parameter " + param
	}
	param := func(def string) string {
		if pg.Param != "" {
			return pg.Param
		}
		return def
	}
	compile := func(src string) (*spec.Expr, error) {
		q, err := expr.Compile(src, spec.PageVars...)
		if err != nil {
			return nil, err
		}
		return &spec.Expr{Src: src, Query: q}, nil
	}
	if ParseLinkHeader(res.header.Values("Link"))["next"] != "" {
		eff.Type, eff.Rel = spec.PageLink, "next"
		return &eff, `link: following the Link header's rel="next"`, nil
	}
	doc, _ := res.body.(map[string]any)
	for _, p := range autoNextURL {
		if s, ok := lookup(doc, p).(string); ok && looksLikeURL(s) {
			next, err := compile(jqPath(p))
			if err != nil {
				return nil, "", err
			}
			eff.Type, eff.Next = spec.PageNextURL, next
			return &eff, "next_url: the next page's URL from " + jqPath(p), nil
		}
	}
	cursor := func(p []string, def string) (*spec.Pagination, string, error) {
		next, err := compile(jqPath(p))
		if err != nil {
			return nil, "", err
		}
		eff.Type, eff.Next, eff.Param = spec.PageCursor, next, param(def)
		return &eff, fmt.Sprintf("cursor: the next token from %s, sent in %s", jqPath(p), where(eff.Param)), nil
	}
	for _, c := range autoCursor {
		if token(lookup(doc, c.path)) {
			return cursor(c.path, c.param)
		}
	}
	if info := pageInfo(it, doc); info != nil {
		end := append(append([]string(nil), info...), "endCursor")
		if token(lookup(doc, end)) {
			eff2, what, err := cursor(end, "after")
			if err != nil {
				return nil, "", err
			}
			if pg.HasMore == nil {
				has := append(append([]string(nil), info...), "hasNextPage")
				if eff2.HasMore, err = compile(jqPath(has)); err != nil {
					return nil, "", err
				}
				what += ", while " + jqPath(has) + " is true"
			}
			return eff2, what, nil
		}
	}
	for _, p := range autoNextPage {
		if number(lookup(doc, p)) {
			return cursor(p, "page")
		}
	}
	for _, pc := range autoPageCounts {
		cur, last := lookup(doc, pc[0]), lookup(doc, pc[1])
		if !number(cur) || !number(last) {
			continue
		}
		src := fmt.Sprintf("(%s | tonumber) + 1", jqPath(pc[0]))
		next, err := compile(src)
		if err != nil {
			return nil, "", err
		}
		stopSrc := fmt.Sprintf("(%s | tonumber) >= (%s | tonumber)", jqPath(pc[0]), jqPath(pc[1]))
		if pg.Stop != nil {
			stopSrc = fmt.Sprintf("(%s) or (%s)", pg.Stop.Src, stopSrc)
		}
		stop, err := compile(stopSrc)
		if err != nil {
			return nil, "", err
		}
		eff.Type, eff.Next, eff.Stop, eff.Param = spec.PageCursor, next, stop, param("page")
		return &eff, fmt.Sprintf("page: page numbers from %s up to %s, sent in %s", jqPath(pc[0]), jqPath(pc[1]), where(eff.Param)), nil
	}
	eff.Type = spec.PageNone
	return &eff, "none: the first response names no further page", nil
}

// pageInfo finds a GraphQL connection's pageInfo object: beside the records (records
// .data.search.nodes[] → .data.search.pageInfo), at the top, or one level inside
// .data. It returns its path, or nil.
func pageInfo(it *spec.InteractionType, doc map[string]any) []string {
	var tries [][]string
	if keys, ok := it.Records.IterPath(); ok && len(keys) > 0 {
		tries = append(tries, append(append([]string(nil), keys[:len(keys)-1]...), "pageInfo"))
	}
	tries = append(tries, []string{"pageInfo"})
	if data, ok := doc["data"].(map[string]any); ok {
		names := make([]string, 0, len(data))
		for k := range data {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			tries = append(tries, []string{"data", k, "pageInfo"})
		}
	}
	for _, p := range tries {
		if _, ok := lookup(doc, p).(map[string]any); ok {
			return p
		}
	}
	return nil
}

func lookup(doc any, path []string) any {
	cur := doc
	for _, k := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

// token reports whether v can be a page token: a non-empty string or a number.
func token(v any) bool {
	switch x := v.(type) {
	case string:
		return x != ""
	case json.Number, float64, int:
		return true
	}
	return false
}

func number(v any) bool {
	switch x := v.(type) {
	case json.Number, float64, int:
		return true
	case string:
		_, err := strconv.Atoi(x)
		return err == nil
	}
	return false
}

// looksLikeURL: an absolute http(s) URL, or a path or query relative to the request.
func looksLikeURL(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "/") || strings.HasPrefix(s, "?")
}

var jqIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// jqPath writes a key path as jq: .paging.next.after, ."@odata.nextLink".
func jqPath(p []string) string {
	var b strings.Builder
	for _, k := range p {
		if jqIdent.MatchString(k) {
			b.WriteString("." + k)
		} else {
			q, _ := json.Marshal(k)
			b.WriteString("." + string(q))
		}
	}
	return b.String()
}
