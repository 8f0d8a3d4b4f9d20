package spec

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Sources: where a connector's records come from.
const (
	SourceHTTP  = "http"
	SourceSQL   = "sql"
	SourceFiles = "files"
)

// SQL drivers.
const (
	DriverPostgres = "postgres"
	DriverMySQL    = "mysql"
)

// Defaults of sql and files sources.
const (
	DefaultStatementTimeout = time.Minute
	DefaultQueryLimit       = 1000
	DefaultTiebreaker       = "id"
	DefaultChunk            = 1000
)

// SQL is how a sql connector reaches its database.
type SQL struct {
	Driver string `yaml:"driver" json:"driver"`
	// DSN renders the connection string; default ${ .credentials.dsn }.
	DSN *Template `yaml:"dsn" json:"dsn,omitempty"`
	// StatementTimeout bounds each page query on the server.
	StatementTimeout Duration `yaml:"statement_timeout" json:"statement_timeout,omitempty"`
	// RowComparison writes keyset conditions as (cursor, tiebreaker) > ($1, $2); false
	// spells them out with OR, for servers without SQL row-value comparison (Redshift).
	RowComparison *bool `yaml:"row_comparison" json:"row_comparison,omitempty"`
}

// RowValues reports whether keyset conditions use row-value comparison.
func (s *SQL) RowValues() bool { return s.RowComparison == nil || *s.RowComparison }

// Query is what a sql source reads for one interaction type: rows of from, in keyset
// order on (cursor, tiebreaker).
type Query struct {
	// From is a table (schema.table) or a SELECT whose rows are read. Template over {config}.
	From *Template `yaml:"from" json:"from"`
	// Select lists the columns to read; empty (or "*") reads every column.
	Select Columns `yaml:"select" json:"select,omitempty"`
	// Cursor is the change-tracking column (updated_at); without it every sync reads
	// every row.
	Cursor string `yaml:"cursor" json:"cursor,omitempty"`
	// Tiebreaker is a unique, non-null column that orders rows sharing a cursor value.
	Tiebreaker string `yaml:"tiebreaker" json:"tiebreaker"`
	// Where is an extra SQL condition. Template over {config}.
	Where *Template `yaml:"where" json:"where,omitempty"`
	// Limit is the page size.
	Limit int `yaml:"limit" json:"limit"`
	// Lookback re-reads rows whose (timestamp) cursor is this close below the stored
	// one, for rows committed late.
	Lookback Duration `yaml:"lookback" json:"lookback,omitempty"`
}

// Columns is "*" or a list of column names; nil means every column.
type Columns []string

// UnmarshalYAML accepts "*" or a list.
func (c *Columns) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*c = nil // "*"; validation refuses any other string
		return nil
	}
	var cols []string
	if err := n.Decode(&cols); err != nil {
		return err
	}
	*c = cols
	return nil
}

// FilesSource is where a files connector finds its files.
type FilesSource struct {
	// Location is a local directory or an http(s) URL that paths are relative to.
	// Template over {config}.
	Location *Template `yaml:"location" json:"location"`
}

// Files is what a files source reads for one interaction type.
type Files struct {
	// Paths are globs under a local location, or file names (or absolute URLs) under an
	// http(s) one. Templates over {config}; one yielding a list adds each item.
	Paths       Templates `yaml:"paths" json:"paths"`
	Format      string    `yaml:"format" json:"format,omitempty"` // "" = by file extension
	Delimiter   string    `yaml:"delimiter" json:"delimiter,omitempty"`
	Quote       string    `yaml:"quote" json:"quote,omitempty"`
	Header      *bool     `yaml:"header" json:"header,omitempty"`
	Columns     []string  `yaml:"columns" json:"columns,omitempty"`
	Encoding    string    `yaml:"encoding" json:"encoding"`
	Compression string    `yaml:"compression" json:"compression"`
	Chunk       int       `yaml:"chunk" json:"chunk"`
}

// HasHeader reports whether the first CSV row names the columns.
func (f *Files) HasHeader() bool { return f.Header == nil || *f.Header }

// Templates is one template or a list of them.
type Templates []*Template

// UnmarshalYAML accepts a string or a list of strings.
func (t *Templates) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*t = Templates{{Src: n.Value}}
		return nil
	}
	var srcs []string
	if err := n.Decode(&srcs); err != nil {
		return err
	}
	out := make(Templates, len(srcs))
	for i, s := range srcs {
		out[i] = &Template{Src: s}
	}
	*t = out
	return nil
}

// ctxConfig is what the templates of sql and files sources read: query.from,
// query.where, files.location and files.paths.
var ctxConfig = []string{"config"}

// identRe is a column name, or a table optionally qualified by its schema.
var (
	columnRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*$`)
	tableRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$`)
)

// IsTableName reports whether a rendered query.from names a table (schema.table)
// rather than holding a SELECT.
func IsTableName(s string) bool { return tableRe.MatchString(strings.TrimSpace(s)) }

// source checks the connector-level keys of its source before any default is filled in.
func (v *validator) source() {
	c := v.c
	if c.Source == "" {
		c.Source = SourceHTTP
	}
	httpOnly := map[string]bool{"base_url": c.BaseURL != nil, "auth": c.Auth != nil && c.Auth.Type != AuthNone,
		"rate_limit": c.RateLimit != nil, "response_rules": len(c.ResponseRules) > 0, "headers": c.Headers.Len() > 0}
	switch c.Source {
	case SourceHTTP:
		if c.SQL != nil {
			v.fail(p("sql"), true, "sql applies to source: sql")
		}
		if c.Files != nil {
			v.fail(p("files"), true, "files applies to source: files")
		}
		return
	case SourceSQL:
		if c.Files != nil {
			v.fail(p("files"), true, "files applies to source: files")
		}
		if c.SQL == nil {
			v.fail(p("source"), false, "source sql needs an sql section: {driver: postgres or mysql}")
		} else {
			v.sqlSection(c.SQL)
		}
	case SourceFiles:
		httpOnly["headers"] = false // sent with downloads from an http(s) location
		if c.SQL != nil {
			v.fail(p("sql"), true, "sql applies to source: sql")
		}
		if c.Files == nil {
			v.fail(p("source"), false, "source files needs a files section: {location: a directory or an http(s) URL}")
		} else {
			v.template(c.Files.Location, p("files", "location"), ctxConfig)
		}
	}
	for _, k := range []string{"auth", "base_url", "headers", "rate_limit", "response_rules"} {
		if httpOnly[k] {
			v.fail(p(k), true, "not used by source %s (it applies to HTTP APIs)", c.Source)
		}
	}
	// Nothing below reads them; clear them so the HTTP checks stay quiet.
	c.BaseURL, c.RateLimit, c.ResponseRules = nil, nil, nil
	if c.Source == SourceSQL {
		c.Headers = Ordered[*Template]{}
	}
}

func (v *validator) sqlSection(s *SQL) {
	at := p("sql")
	if s.DSN == nil {
		if _, ok := v.c.Credentials.Get("dsn"); !ok {
			v.fail(at, true, "source sql reads credentials.dsn by default; declare it under credentials or set sql.dsn")
		}
		s.DSN = mustTemplate("${ .credentials.dsn }")
	} else {
		v.template(s.DSN, append(at, "dsn"), ctxAuth)
	}
	if s.StatementTimeout == 0 {
		s.StatementTimeout = Duration(DefaultStatementTimeout)
	}
	if s.StatementTimeout.D() < time.Millisecond {
		v.fail(append(at, "statement_timeout"), false, "must be at least 1ms")
	}
}

// sourceType checks the keys of an interaction type against its connector's source,
// before interactionType fills defaults in.
func (v *validator) sourceType(it *InteractionType, at []string) {
	if it == nil {
		return
	}
	written := map[string]bool{"request": it.Request.Path != nil || it.Request.Method != "" || it.Request.Params.Len() > 0 || it.Request.Headers.Len() > 0 || it.Request.Body != nil,
		"records": it.Records != nil, "pagination": it.Pagination != nil, "incremental": it.Incremental != nil,
		"response_rules": len(it.ResponseRules) > 0, "query": it.Query != nil, "files": it.Files != nil}
	own := map[string][]string{SourceHTTP: {"request", "records", "pagination", "incremental", "response_rules"}, SourceSQL: {"query"}, SourceFiles: {"files"}}
	for _, k := range []string{"request", "records", "query", "files", "pagination", "incremental", "response_rules"} {
		if written[k] && !contains(own[v.c.Source], k) {
			v.fail(append(append([]string(nil), at...), k), true, "not used by source %s", v.c.Source)
		}
	}
	switch v.c.Source {
	case SourceHTTP:
		for _, k := range []string{"request", "records"} {
			if !written[k] {
				v.fail(at, true, "missing required key %q", k)
			}
		}
	case SourceSQL:
		if it.Query == nil {
			v.fail(at, true, "source sql needs query: {from: TABLE, cursor: updated_at, ...}")
			return
		}
		v.query(it.Query, append(append([]string(nil), at...), "query"))
	case SourceFiles:
		if it.Files == nil {
			v.fail(at, true, "source files needs files: {paths: 'contacts*.csv', ...}")
			return
		}
		v.files(it.Files, append(append([]string(nil), at...), "files"))
	}
}

// sourceTypeDone drops what interactionType filled in for HTTP.
func (v *validator) sourceTypeDone(it *InteractionType) {
	if it == nil || v.c.Source == SourceHTTP {
		return
	}
	it.Request, it.Pagination = Request{}, nil
}

func (v *validator) query(q *Query, at []string) {
	sub := func(k string) []string { return append(append([]string(nil), at...), k) }
	if q.From == nil {
		v.fail(at, true, "query needs from: a table name or a SELECT")
	} else {
		v.template(q.From, sub("from"), ctxConfig)
	}
	if q.Where != nil {
		v.template(q.Where, sub("where"), ctxConfig)
	}
	if q.Tiebreaker == "" {
		q.Tiebreaker = DefaultTiebreaker
	}
	for _, c := range []struct{ key, name string }{{"cursor", q.Cursor}, {"tiebreaker", q.Tiebreaker}} {
		if c.name != "" && !columnRe.MatchString(c.name) {
			v.fail(sub(c.key), false, "%q is not a column name (letters, digits, _ and $, not starting with a digit); for an expression, compute it in a SELECT under from", c.name)
		}
	}
	if q.Cursor != "" && q.Cursor == q.Tiebreaker {
		v.fail(sub("tiebreaker"), false, "must differ from cursor: it orders the rows that share a cursor value")
	}
	if raw, ok := v.doc.scalarRaw(sub("select")).(string); ok && raw != "*" {
		v.fail(sub("select"), false, "%q: select is \"*\" (every column) or a list of column names, e.g. [id, name, updated_at]", raw)
	}
	for i, c := range q.Select {
		if !columnRe.MatchString(c) {
			v.fail(append(sub("select"), fmt.Sprint(i)), false, "%q is not a column name; for an expression, compute it in a SELECT under from", c)
		}
	}
	if q.Limit == 0 {
		q.Limit = DefaultQueryLimit
	}
	if q.Lookback > 0 && q.Cursor == "" {
		v.fail(sub("lookback"), true, "lookback needs cursor")
	}
}

func (v *validator) files(f *Files, at []string) {
	sub := func(k string) []string { return append(append([]string(nil), at...), k) }
	if len(f.Paths) == 0 {
		v.fail(at, true, "files needs paths: globs (or URLs) of the files to read")
	}
	for i, t := range f.Paths {
		key := sub("paths")
		if len(f.Paths) > 1 || v.isList(key) {
			key = append(key, fmt.Sprint(i))
		}
		v.template(t, key, ctxConfig)
	}
	if f.Format == FormatJSONL {
		set := map[string]bool{"delimiter": f.Delimiter != "", "quote": f.Quote != "", "header": f.Header != nil, "columns": len(f.Columns) > 0}
		v.unused(at, set, nil, "format jsonl")
	}
	if f.Delimiter != "" {
		r, n := utf8.DecodeRuneInString(f.Delimiter)
		if n != len(f.Delimiter) || r == '\r' || r == '\n' || r == utf8.RuneError {
			v.fail(sub("delimiter"), false, "must be one character other than a line break, e.g. ';' or \"\\t\"")
		}
	}
	if f.Quote != "" && f.Quote != "none" {
		if len(f.Quote) != 1 || f.Quote[0] >= utf8.RuneSelf || f.Quote == "\r" || f.Quote == "\n" {
			v.fail(sub("quote"), false, "must be one ASCII character, e.g. \"'\", or none")
		} else if f.Quote == f.Delimiter {
			v.fail(sub("quote"), false, "must differ from delimiter")
		}
	}
	if !f.HasHeader() && len(f.Columns) == 0 {
		v.fail(sub("header"), true, "a file without a header row needs columns: the names of its columns, in order")
	}
	if f.HasHeader() && len(f.Columns) > 0 {
		v.fail(sub("columns"), true, "columns names the columns of files without a header row; with header: true the header names them (rename with fields)")
	}
	seen := map[string]bool{}
	for i, c := range f.Columns {
		if seen[c] {
			v.fail(append(sub("columns"), fmt.Sprint(i)), false, "%q appears twice", c)
		}
		seen[c] = true
	}
	f.Encoding = canonicalEncoding(f.Encoding)
	if f.Compression == "" {
		f.Compression = "auto"
	}
	if f.Chunk == 0 {
		f.Chunk = DefaultChunk
	}
}

// isList reports whether the value at segs is a YAML sequence.
func (v *validator) isList(segs []string) bool {
	_, ok := v.doc.scalarRaw(segs).([]any)
	return ok
}
