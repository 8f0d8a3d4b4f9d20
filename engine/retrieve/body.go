package retrieve

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"

	"github.com/intakehq/intake/engine/expr"
	"github.com/intakehq/intake/engine/jsonx"
	"github.com/intakehq/intake/engine/spec"
)

// bodyPlan is how Pages reads the responses of one interaction type, decided once
// per sync from the spec.
type bodyPlan struct {
	it     *spec.InteractionType
	format string
	// path is set when a JSON body streams: the keys of the records expression, a
	// plain path such as .data[] (empty for .[]). Records are then decoded one by one
	// as they arrive, and the rest of the document (the envelope) is kept for
	// pagination and response rules. Nil: the document is decoded whole.
	path []string
	// keep: a pagination expression reads $records, so a response's records are kept
	// until pagination has run.
	keep bool
	// reads caches what each body rule reads, to judge it on a partial envelope.
	reads map[*spec.ResponseRule]expr.Reads
}

// streams reports whether a 2xx body is read as it arrives rather than whole.
func (p *bodyPlan) streams() bool { return p != nil && (p.format != spec.FormatJSON || p.path != nil) }

// newBodyPlan decides how to read an interaction type's responses. A JSON body streams when records
// is a plain path ending in [] and nothing else that reads the body (pagination
// expressions, response rules) reads that path or the document as a whole: then the
// envelope alone answers them exactly as the full document would.
func (c *Client) newBodyPlan(it *spec.InteractionType) *bodyPlan {
	p := &bodyPlan{it: it, format: it.Format(), reads: map[*spec.ResponseRule]expr.Reads{}}
	pg := it.Pagination
	var exprs []*spec.Expr
	for _, e := range []*spec.Expr{pg.Next, pg.Stop, pg.HasMore, pg.Total} {
		if e != nil && e.Query != nil {
			exprs = append(exprs, e)
			if e.Reads().UsesVar("$records") {
				p.keep = true
			}
		}
	}
	for _, rules := range [][]*spec.ResponseRule{it.ResponseRules, c.conn.ResponseRules} {
		for _, r := range rules {
			if r.Body != nil && r.Body.Query != nil {
				exprs = append(exprs, r.Body)
				p.reads[r] = r.Body.Reads()
			}
		}
	}
	if p.format != spec.FormatJSON || p.keep {
		return p
	}
	path, ok := it.Records.IterPath()
	if !ok {
		return p
	}
	for _, e := range exprs {
		r := e.Reads()
		if r.Whole {
			return p
		}
		for _, rp := range r.Paths {
			if isPrefix(rp, path) || isPrefix(path, rp) {
				return p
			}
		}
	}
	p.path = path
	return p
}

func isPrefix(a, b []string) bool {
	if len(a) > len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// recordSource hands out the records of one response in order.
type recordSource interface {
	// next returns the next record; ok is false once the body has been read to its
	// end and found complete.
	next(ctx context.Context) (rec any, ok bool, err error)
	// envelope is the document without its records (JSON), available once next has
	// reported the end; nil for JSON Lines and CSV.
	envelope() any
}

// sliceSource hands out records decoded beforehand.
type sliceSource struct {
	recs []any
	doc  any
}

func (s *sliceSource) next(context.Context) (any, bool, error) {
	if len(s.recs) == 0 {
		return nil, false, nil
	}
	r := s.recs[0]
	s.recs = s.recs[1:]
	return r, true, nil
}

func (s *sliceSource) envelope() any { return s.doc }

// errTooLarge: one record, line or the document around the records exceeds
// Options.MaxBodyBytes. The body as a whole may be any size.
type errTooLarge struct{ max int64 }

func (e *errTooLarge) Error() string {
	return fmt.Sprintf("a single record (or the part of the document around the records) is larger than %d bytes", e.max)
}

// window bounds what a decoder can hold of one value while the body as a whole
// streams through: it refuses to read more than max bytes (plus readAhead, what a
// decoder's buffer may hold of the values after it) past the end of the last whole
// value the decoder consumed.
type window struct {
	r        io.Reader
	n, start int64 // bytes read; input offset where the current value starts
	max      int64
}

// readAhead is the most a decoder reads beyond the value it is decoding.
const readAhead = 64 << 10

func (w *window) Read(p []byte) (int, error) {
	// Reads are cut to the allowance: a decoder that completes a value within a read
	// never sees that read's error.
	allow := w.max + readAhead - (w.n - w.start)
	if allow <= 0 {
		return 0, &errTooLarge{max: w.max}
	}
	if int64(len(p)) > allow {
		p = p[:allow]
	}
	n, err := w.r.Read(p)
	w.n += int64(n)
	return n, err
}

// mark says the decoder has consumed the input up to offset: a new value starts.
func (w *window) mark(offset int64) { w.start = offset }

var gzipMagic = []byte{0x1f, 0x8b}

// decodeContent undoes gzip: when Content-Encoding says so (and the transport has not
// already), and when the bytes themselves are gzip (an application/gzip download, or
// a .gz file served with Content-Encoding: gzip on top), so a body is decoded however
// its server labels it.
func decodeContent(r io.Reader, h http.Header) (io.Reader, error) {
	br := bufio.NewReader(r)
	var out io.Reader = br
	if strings.Contains(strings.ToLower(h.Get("Content-Encoding")), "gzip") {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		br = bufio.NewReader(zr)
		out = br
	}
	if head, _ := br.Peek(2); bytes.Equal(head, gzipMagic) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		out = zr
	}
	return out, nil
}

// skipBOM drops a UTF-8 byte order mark, which encoding/json and encoding/csv would
// read as data.
func skipBOM(r io.Reader) io.Reader {
	br := bufio.NewReader(r)
	if head, _ := br.Peek(3); bytes.Equal(head, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
	}
	return br
}

// charset turns a CSV body in enc into UTF-8.
func charset(r io.Reader, enc string) io.Reader {
	var e encoding.Encoding
	switch enc {
	case spec.EncodingUTF16:
		// The byte order mark decides; without one, little-endian (Excel's "Unicode
		// text").
		e = unicode.UTF16(unicode.LittleEndian, unicode.UseBOM)
	case spec.EncodingLatin1:
		e = charmap.ISO8859_1
	case spec.EncodingWin1252:
		e = charmap.Windows1252
	default:
		return r
	}
	return transform.NewReader(r, e.NewDecoder())
}

// openStream starts reading a 2xx body as the plan says. For a streamed JSON
// document it reads up to the start of the records, so that response rules can
// judge the envelope before any record is handed over; it returns the envelope so
// far, and the stream that will read the rest. A JSON document without records where
// the plan expects them has been read whole: there is no source then, only the
// document.
func (c *Client) openStream(p *bodyPlan, raw io.Reader, h http.Header) (recordSource, any, *jsonStream, error) {
	w := &window{max: c.opts.MaxBodyBytes}
	r, err := decodeContent(raw, h)
	if err != nil {
		return nil, nil, nil, err
	}
	switch p.format {
	case spec.FormatJSONL:
		w.r = skipBOM(r)
		return &jsonlSource{it: p.it, br: bufio.NewReaderSize(w, readAhead), w: w}, nil, nil, nil
	case spec.FormatCSV:
		opts := p.it.Response.CSV
		w.r = skipBOM(charset(r, opts.Encoding))
		cr := csv.NewReader(w)
		cr.Comma = opts.Comma()
		cr.ReuseRecord = true
		return &csvSource{it: p.it, r: cr, w: w, opts: opts}, nil, nil, nil
	}
	w.r = skipBOM(r)
	js := &jsonStream{path: p.path, w: w}
	js.dec = json.NewDecoder(w)
	js.dec.UseNumber()
	if err := js.open(); err != nil {
		return nil, nil, nil, err
	}
	if js.whole {
		// The records were not where the plain path says (an error document, null, a
		// string): the document has been read whole and is judged and read as one.
		return nil, js.root, nil, nil
	}
	return js, js.root, js, nil
}

// jsonStream decodes one JSON document whose records sit at path, handing the
// records out one at a time and keeping the rest of the document.
type jsonStream struct {
	dec  *json.Decoder
	w    *window
	path []string
	// root is the envelope: the document without the records. levels[i] is the
	// object that holds path[i] (levels[0] == root), filled as keys arrive.
	root   any
	levels []map[string]any
	// whole: the document did not have records where path says and was read whole
	// into root.
	whole bool
	// object: the records are the values of an object rather than an array.
	object bool
	done   bool
}

// open reads up to the first record.
func (s *jsonStream) open() error {
	if len(s.path) == 0 {
		tok, err := s.token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok && (d == '[' || d == '{') {
			s.object = d == '{'
			return nil
		}
		v, err := s.finish(tok)
		if err != nil {
			return err
		}
		s.root = v
		return s.wholeRest(0) // a scalar document must end there too (found by FuzzStreamMatchesWhole: "00")
	}
	for depth := 0; depth < len(s.path); depth++ {
		tok, err := s.token()
		if err != nil {
			return err
		}
		if tok != json.Delim('{') {
			// Not an object where the path goes on: read what is left as it is.
			v, err := s.finish(tok)
			if err != nil {
				return err
			}
			s.setAt(depth, v)
			return s.wholeRest(depth)
		}
		obj := map[string]any{}
		s.setAt(depth, obj)
		s.levels = append(s.levels, obj)
		found := false
		for s.dec.More() {
			key, err := s.key()
			if err != nil {
				return err
			}
			if key == s.path[depth] {
				found = true
				break
			}
			if err := s.value(obj, key); err != nil {
				return err
			}
		}
		if !found {
			// The object ended without the key: no records at all.
			if _, err := s.token(); err != nil { // '}'
				return err
			}
			return s.wholeRest(depth)
		}
		if depth == len(s.path)-1 {
			tok, err := s.token()
			if err != nil {
				return err
			}
			if d, ok := tok.(json.Delim); ok && (d == '[' || d == '{') {
				s.object = d == '{'
				s.w.mark(s.dec.InputOffset())
				return nil
			}
			v, err := s.finish(tok)
			if err != nil {
				return err
			}
			obj[s.path[depth]] = v
			return s.wholeRest(depth + 1)
		}
	}
	return nil
}

// setAt stores v as the value at depth: the root, or key path[depth-1] of the object
// one level up.
func (s *jsonStream) setAt(depth int, v any) {
	if depth == 0 {
		s.root = v
		return
	}
	s.levels[depth-1][s.path[depth-1]] = v
}

// wholeRest reads the rest of the objects open above depth into the envelope, for a
// document that turned out not to have records where the path says.
func (s *jsonStream) wholeRest(depth int) error {
	if err := s.closeLevels(depth); err != nil {
		return err
	}
	s.whole = true
	return nil
}

// closeLevels reads the remaining keys of the open objects levels[:depth], innermost
// first, then checks that the document ends there.
func (s *jsonStream) closeLevels(depth int) error {
	for d := min(depth, len(s.levels)) - 1; d >= 0; d-- {
		obj := s.levels[d]
		for s.dec.More() {
			key, err := s.key()
			if err != nil {
				return err
			}
			if err := s.value(obj, key); err != nil {
				return err
			}
		}
		if _, err := s.token(); err != nil { // '}'
			return err
		}
	}
	if _, err := s.dec.Token(); err != io.EOF {
		if err == nil {
			return errTrailingData
		}
		return s.bodyErr(err)
	}
	s.done = true
	return nil
}

func (s *jsonStream) next(context.Context) (any, bool, error) {
	if s.done {
		return nil, false, nil
	}
	if s.dec.More() {
		if s.object {
			if _, err := s.key(); err != nil {
				return nil, false, err
			}
		}
		var rec any
		if err := s.dec.Decode(&rec); err != nil {
			return nil, false, s.bodyErr(err)
		}
		s.w.mark(s.dec.InputOffset())
		return rec, true, nil
	}
	if _, err := s.token(); err != nil { // the records' ']' or '}'
		return nil, false, err
	}
	if err := s.closeLevels(len(s.levels)); err != nil {
		return nil, false, err
	}
	return nil, false, nil
}

func (s *jsonStream) envelope() any { return s.root }

// complete reports whether the keys a rule reads have all arrived: keys before the
// records are whole once seen, keys after them are not there yet.
func (s *jsonStream) complete(r expr.Reads) bool {
	if s.whole || s.done {
		return true
	}
	if r.Whole {
		return false
	}
	for _, p := range r.Paths {
		node := s.root
		for i, k := range p {
			m, ok := node.(map[string]any)
			if !ok {
				break // a scalar on the way: the path reads null, whatever follows
			}
			if i < len(s.levels) && k == s.path[i] && i < len(s.path)-1 {
				node = m[k] // an object still being read: look further in
				continue
			}
			if _, ok := m[k]; !ok {
				return false
			}
			break
		}
	}
	return true
}

func (s *jsonStream) token() (json.Token, error) {
	tok, err := s.dec.Token()
	if err != nil {
		return nil, s.bodyErr(err)
	}
	return tok, nil
}

func (s *jsonStream) key() (string, error) {
	tok, err := s.token()
	if err != nil {
		return "", err
	}
	k, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("invalid JSON: object key expected, got %v", tok)
	}
	return k, nil
}

// value decodes the next value into obj[key].
func (s *jsonStream) value(obj map[string]any, key string) error {
	var v any
	if err := s.dec.Decode(&v); err != nil {
		return s.bodyErr(err)
	}
	s.w.mark(s.dec.InputOffset())
	obj[key] = v
	return nil
}

// finish builds the value that starts with tok (whose other tokens are still to be
// read).
func (s *jsonStream) finish(tok json.Token) (any, error) {
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	switch d {
	case '[':
		arr := []any{}
		for s.dec.More() {
			var v any
			if err := s.dec.Decode(&v); err != nil {
				return nil, s.bodyErr(err)
			}
			arr = append(arr, v)
		}
		_, err := s.token()
		return arr, err
	case '{':
		obj := map[string]any{}
		for s.dec.More() {
			k, err := s.key()
			if err != nil {
				return nil, err
			}
			if err := s.value(obj, k); err != nil {
				return nil, err
			}
		}
		_, err := s.token()
		return obj, err
	}
	return nil, fmt.Errorf("invalid JSON: unexpected %v", d)
}

func (s *jsonStream) bodyErr(err error) error {
	var se *json.SyntaxError
	switch {
	case err == io.EOF, err == io.ErrUnexpectedEOF:
		return fmt.Errorf("invalid JSON (%d bytes): %w", s.w.n, io.ErrUnexpectedEOF) // the document ended early
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON: %w", err)
	}
	return err
}

// jsonlSource reads JSON Lines: one JSON value per line, blank lines skipped; the
// records expression runs over each.
type jsonlSource struct {
	it       *spec.InteractionType
	br       *bufio.Reader
	w        *window
	line     []byte
	lineNo   int
	consumed int64 // bytes of the lines read so far
	pending  []any
	done     bool
}

func (s *jsonlSource) next(ctx context.Context) (any, bool, error) {
	for len(s.pending) == 0 {
		if s.done {
			return nil, false, nil
		}
		line, err := s.readLine()
		if err == io.EOF {
			s.done = true
		} else if err != nil {
			return nil, false, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return nil, false, fmt.Errorf("line %d: invalid JSON: %w", s.lineNo, err)
		}
		if !jsonx.AtEnd(dec) {
			return nil, false, fmt.Errorf("line %d: %w", s.lineNo, errTrailingData)
		}
		recs, err := s.it.Records.All(ctx, v)
		if err != nil {
			return nil, false, fmt.Errorf("%w: line %d: %w", errRecords, s.lineNo, err)
		}
		s.pending = recs
	}
	r := s.pending[0]
	s.pending = s.pending[1:]
	return r, true, nil
}

// readLine returns the next line, without bounding the body but bounding the line.
func (s *jsonlSource) readLine() ([]byte, error) {
	s.line = s.line[:0]
	s.lineNo++
	s.w.mark(s.consumed)
	for {
		chunk, err := s.br.ReadSlice('\n')
		s.line = append(s.line, chunk...)
		s.consumed += int64(len(chunk))
		if int64(len(s.line)) > s.w.max {
			return nil, &errTooLarge{max: s.w.max}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return s.line, err
	}
}

func (s *jsonlSource) envelope() any { return nil }

// csvSource reads CSV rows: objects keyed by the header row (or columns), or lists
// of strings; the records expression runs over each.
type csvSource struct {
	it      *spec.InteractionType
	r       *csv.Reader
	w       *window
	opts    *spec.CSV
	names   []string
	started bool
	pending []any
	done    bool
}

func (s *csvSource) next(ctx context.Context) (any, bool, error) {
	if !s.started {
		s.started = true
		s.names = s.opts.Columns
		if s.opts.HasHeader() {
			row, err := s.r.Read()
			if err == io.EOF {
				s.done = true
				return nil, false, nil // an empty body: no rows
			}
			if err != nil {
				return nil, false, err
			}
			s.names = append([]string(nil), row...)
			seen := map[string]bool{}
			for _, n := range s.names {
				if seen[n] {
					return nil, false, &csvError{msg: fmt.Sprintf("the header row names column %q twice", n)}
				}
				seen[n] = true
			}
		}
		if len(s.names) > 0 {
			s.r.FieldsPerRecord = len(s.names)
		}
	}
	for len(s.pending) == 0 {
		if s.done {
			return nil, false, nil
		}
		s.w.mark(s.r.InputOffset())
		row, err := s.r.Read()
		if err == io.EOF {
			s.done = true
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		var v any
		if s.names != nil {
			obj := make(map[string]any, len(row))
			for i, name := range s.names {
				obj[name] = row[i]
			}
			v = obj
		} else {
			list := make([]any, len(row))
			for i, f := range row {
				list[i] = f
			}
			v = list
		}
		recs, err := s.it.Records.All(ctx, v)
		if err != nil {
			line, _ := s.r.FieldPos(0)
			return nil, false, fmt.Errorf("%w: line %d: %w", errRecords, line, err)
		}
		s.pending = recs
	}
	r := s.pending[0]
	s.pending = s.pending[1:]
	return r, true, nil
}

func (s *csvSource) envelope() any { return nil }

// csvError is a CSV body that does not hold a table.
type csvError struct{ msg string }

func (e *csvError) Error() string { return "invalid CSV: " + e.msg }

// badBody reports whether a body error is the data's fault (a syntax error) rather
// than the connection's (cut short): the first is bad_data once retries give up.
func badBody(err error) bool {
	var se *json.SyntaxError
	var pe *csv.ParseError
	var ce *csvError
	return errors.As(err, &se) || errors.As(err, &pe) || errors.As(err, &ce) || errors.Is(err, errTrailingData)
}
