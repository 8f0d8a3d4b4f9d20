package filesource

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"

	"github.com/intakehq/intake/engine/jsonx"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

// row is one data row of a file: a record, or a row that could not be read.
type row struct {
	record map[string]any
	where  string             // "contacts.csv row 17 (line 18)"
	reject *store.Quarantined // set instead of record
}

// badFile is content that cannot be read at all (a header that does not parse, corrupt
// gzip data): the file is quarantined as a whole, checkpointed, and the sync goes on.
type badFile struct{ msg string }

func (e *badFile) Error() string { return e.msg }

// maxLine bounds one JSON Lines line, so that a file without line breaks cannot take
// all memory.
const maxLine = 64 << 20

// formatOf is the format of a file: as the spec says, else by extension.
func formatOf(f *spec.Files, name string) (string, error) {
	if f.Format != "" {
		return f.Format, nil
	}
	base := strings.ToLower(strings.TrimSuffix(strings.ToLower(name), ".gz"))
	switch path.Ext(base) {
	case ".csv", ".tsv", ".txt":
		return spec.FormatCSV, nil
	case ".jsonl", ".ndjson", ".json":
		return spec.FormatJSONL, nil
	}
	return "", fmt.Errorf("%s: cannot tell its format from the extension; set files.format: csv or jsonl", name)
}

// open wraps the raw content: gunzip when asked or detected, then decode to UTF-8.
func open(raw io.Reader, f *spec.Files, name string) (io.Reader, error) {
	br := bufio.NewReaderSize(raw, 64<<10)
	gz := f.Compression == "gzip"
	if f.Compression == "auto" {
		magic, _ := br.Peek(2)
		gz = strings.HasSuffix(strings.ToLower(name), ".gz") || bytes.Equal(magic, []byte{0x1f, 0x8b})
	}
	var r io.Reader = br
	if gz {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, &badFile{fmt.Sprintf("%s: not gzip data: %v", name, err)}
		}
		zr.Multistream(true)
		r = zr
	}
	var enc encoding.Encoding
	switch f.Encoding {
	case spec.EncodingUTF16:
		enc = unicode.UTF16(unicode.LittleEndian, unicode.UseBOM)
	case spec.EncodingLatin1:
		enc = charmap.ISO8859_1
	case spec.EncodingWin1252:
		enc = charmap.Windows1252
	default:
		// UTF-8 is checked row by row instead of decoded, so that invalid bytes are
		// reported rather than silently replaced.
		return &bomStripper{r: bufio.NewReader(r)}, nil
	}
	return &bomStripper{r: bufio.NewReader(enc.NewDecoder().Reader(r))}, nil
}

// bomStripper drops a leading UTF-8 byte-order mark.
type bomStripper struct {
	r    *bufio.Reader
	done bool
}

func (b *bomStripper) Read(p []byte) (int, error) {
	if !b.done {
		b.done = true
		if bom, err := b.r.Peek(3); err == nil && bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
			_, _ = b.r.Discard(3)
		}
	}
	return b.r.Read(p)
}

// readError tells content that cannot be decoded (corrupt compressed data, bytes the
// encoding does not define) from a failure to read the file.
func readError(name string, rowsRead int64, err error) error {
	var ce flate.CorruptInputError
	if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.As(err, &ce) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &badFile{fmt.Sprintf("%s: unreadable after row %d: %v", name, rowsRead, err)}
	}
	return fmt.Errorf("read %s: %w", name, err)
}

// parse reads the rows of one file, calling each with every data row in order. skip
// rows are read and dropped first (they were committed by an interrupted sync).
func parse(r io.Reader, name, format string, f *spec.Files, skip int64, each func(row) error) error {
	if format == spec.FormatJSONL {
		return parseJSONL(r, name, skip, each)
	}
	return parseCSV(r, name, f, skip, each)
}

func parseCSV(r io.Reader, name string, f *spec.Files, skip int64, each func(row) error) error {
	delim := f.Delimiter
	if delim == "" {
		delim = ","
		if strings.HasSuffix(strings.TrimSuffix(strings.ToLower(name), ".gz"), ".tsv") {
			delim = "\t"
		}
	}
	comma, _ := utf8.DecodeRuneInString(delim)
	// encoding/csv only quotes with '"': another quote character is swapped with it on
	// the way in and back in each field.
	var unswap func(string) string
	switch q := f.Quote; {
	case q == "none":
		r, unswap = newSwapper(r, '"', noQuote)
	case q != "" && q != `"`:
		r, unswap = newSwapper(r, '"', rune(q[0]))
	}
	cr := csv.NewReader(r)
	cr.Comma = comma
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = f.Quote == "none"
	fix := func(fields []string) {
		if unswap != nil {
			for i := range fields {
				fields[i] = unswap(fields[i])
			}
		}
	}
	columns := f.Columns
	if f.HasHeader() {
		head, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil // an empty file: no rows
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return &badFile{fmt.Sprintf("%s: cannot read the header row: %v", name, err)}
			}
			return readError(name, 0, err)
		}
		fix(head)
		columns = make([]string, len(head))
		seen := map[string]bool{}
		for i, h := range head {
			if !utf8.ValidString(h) {
				return &badFile{fmt.Sprintf("%s: the header row is not valid UTF-8; set files.encoding (latin-1, windows-1252 or utf-16)", name)}
			}
			h = strings.TrimSpace(h)
			if h == "" {
				h = fmt.Sprintf("column_%d", i+1)
			}
			if seen[h] {
				return &badFile{fmt.Sprintf("%s: column %q appears twice in the header row", name, h)}
			}
			seen[h] = true
			columns[i] = h
		}
	}
	var n int64
	for {
		fields, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var pe *csv.ParseError
		if err != nil && !errors.As(err, &pe) {
			return readError(name, n, err)
		}
		n++
		if n <= skip {
			continue
		}
		fix(fields)
		line := 0
		if pe != nil {
			line = pe.StartLine
		} else if len(fields) > 0 {
			line, _ = cr.FieldPos(0)
		}
		where := fmt.Sprintf("%s row %d (line %d)", name, n, line)
		reject := func(reason string) error {
			raw, _ := json.Marshal(map[string]any{"file": name, "row": n, "line": line, "fields": validUTF8(fields)})
			return each(row{where: where, reject: &store.Quarantined{Reason: where + ": " + reason, Raw: raw}})
		}
		switch {
		case pe != nil:
			err = reject(pe.Err.Error())
		case len(fields) != len(columns):
			err = reject(fmt.Sprintf("%d fields, but the header has %d columns", len(fields), len(columns)))
		case !allValid(fields):
			err = reject("not valid UTF-8; set files.encoding (latin-1, windows-1252 or utf-16)")
		default:
			rec := make(map[string]any, len(columns))
			for i, c := range columns {
				rec[c] = fields[i]
			}
			err = each(row{record: rec, where: where})
		}
		if err != nil {
			return err
		}
	}
}

func parseJSONL(r io.Reader, name string, skip int64, each func(row) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var n, line int64
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(buf) > maxLine {
				return &badFile{fmt.Sprintf("%s: line %d is longer than %d bytes", name, line+1, maxLine)}
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return readError(name, n, err)
		}
		eof := err != nil
		text := bytes.TrimSpace(buf)
		buf = buf[:0]
		if len(text) > 0 || !eof {
			line++
		}
		if len(text) > 0 {
			n++
			if n > skip {
				if err := jsonlRow(name, n, line, text, each); err != nil {
					return err
				}
			}
		}
		if eof {
			return nil
		}
	}
}

func jsonlRow(name string, n, line int64, text []byte, each func(row) error) error {
	where := fmt.Sprintf("%s line %d", name, line)
	reject := func(reason string) error {
		raw, _ := json.Marshal(map[string]any{"file": name, "line": line, "text": strings.ToValidUTF8(truncate(string(text), 4096), "\uFFFD")})
		return each(row{where: where, reject: &store.Quarantined{Reason: where + ": " + reason, Raw: raw}})
	}
	if !utf8.Valid(text) {
		return reject("not valid UTF-8; set files.encoding")
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return reject("invalid JSON: " + err.Error())
	}
	if !jsonx.AtEnd(dec) {
		return reject("invalid JSON: something follows the value on the line")
	}
	rec, ok := v.(map[string]any)
	if !ok {
		return reject("not a JSON object")
	}
	return each(row{record: rec, where: where})
}

func allValid(fields []string) bool {
	for _, f := range fields {
		if !utf8.ValidString(f) {
			return false
		}
	}
	return true
}

func validUTF8(fields []string) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = strings.ToValidUTF8(f, "\uFFFD")
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// noQuote stands in for '"' when a file has no quote character: a private-use rune
// that encoding/csv gives no meaning to.
const noQuote = '\uE000'

// newSwapper exchanges two characters in the stream (a with b, b with a) and returns
// the function that exchanges them back in a parsed field. b may be any rune; a is
// ASCII.
func newSwapper(r io.Reader, a byte, b rune) (io.Reader, func(string) string) {
	bs := string(b)
	repl := strings.NewReplacer(string(a), bs, bs, string(a))
	return &swapReader{r: bufio.NewReader(r), a: a, b: bs}, repl.Replace
}

type swapReader struct {
	r   *bufio.Reader
	a   byte
	b   string
	out []byte
}

func (s *swapReader) Read(p []byte) (int, error) {
	if len(s.out) == 0 {
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.out)
	s.out = s.out[n:]
	return n, nil
}

// fill swaps at least one rune into out, and what else is buffered, up to 4 KiB.
func (s *swapReader) fill() error {
	for len(s.out) == 0 || (len(s.out) < 4096 && s.r.Buffered() > 0) {
		r, size, err := s.r.ReadRune()
		if err != nil {
			if len(s.out) > 0 {
				return nil // the error comes back on the next read
			}
			return err
		}
		switch {
		case r == utf8.RuneError && size == 1:
			// An invalid byte passes through as is, to be reported with its row.
			_ = s.r.UnreadRune()
			c, _ := s.r.ReadByte()
			s.out = append(s.out, c)
		case size == 1 && byte(r) == s.a:
			s.out = append(s.out, s.b...)
		case string(r) == s.b:
			s.out = append(s.out, s.a)
		default:
			s.out = utf8.AppendRune(s.out, r)
		}
	}
	return nil
}
