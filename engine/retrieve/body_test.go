package retrieve_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/spec"
)

// records pages through it and returns every record.
func records(t *testing.T, cl *retrieve.Client, it *spec.InteractionType) ([]any, []retrieve.Page, error) {
	t.Helper()
	var out []any
	var pages []retrieve.Page
	err := cl.Pages(testCtx(t), it, retrieve.Query{}, func(p retrieve.Page) error {
		pages = append(pages, p)
		out = append(out, p.Records...)
		return nil
	})
	return out, pages, err
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

func latin1(s string) []byte {
	var out []byte
	for _, r := range s {
		out = append(out, byte(r)) // the test strings stay below U+0100
	}
	return out
}

func utf16LE(s string, bom bool) []byte {
	var buf bytes.Buffer
	if bom {
		buf.Write([]byte{0xFF, 0xFE})
	}
	for _, u := range utf16.Encode([]rune(s)) {
		_ = binary.Write(&buf, binary.LittleEndian, u)
	}
	return buf.Bytes()
}

func TestBodyFormats(t *testing.T) {
	csvText := "id,name,amount\r\nr01,Ana,10\r\nr02,\"Müller, Jörg\",20.5\r\nr03,\"two\nlines\",\r\n"
	wantCSV := []any{
		map[string]any{"id": "r01", "name": "Ana", "amount": "10"},
		map[string]any{"id": "r02", "name": "Müller, Jörg", "amount": "20.5"},
		map[string]any{"id": "r03", "name": "two\nlines", "amount": ""},
	}
	cases := []struct {
		name        string
		response    string
		records     string
		contentType string
		body        []byte
		want        []any
	}{
		{
			name: "JSON Lines", response: "{format: jsonl}", records: ".", contentType: "application/x-ndjson",
			body: []byte("{\"id\":\"r01\",\"n\":1}\n\n{\"id\":\"r02\",\"n\":12345678901234567890}\r\n{\"id\":\"r03\"}"),
			want: []any{map[string]any{"id": "r01", "n": json.Number("1")}, map[string]any{"id": "r02", "n": json.Number("12345678901234567890")}, map[string]any{"id": "r03"}},
		},
		{
			name: "JSON Lines with a byte order mark, records from each line", response: "{format: jsonl}", records: ".items[]", contentType: "application/jsonl",
			body: []byte("\xEF\xBB\xBF{\"items\":[{\"id\":\"r01\"},{\"id\":\"r02\"}]}\n{\"items\":[]}\n{\"items\":[{\"id\":\"r03\"}]}\n"),
			want: []any{map[string]any{"id": "r01"}, map[string]any{"id": "r02"}, map[string]any{"id": "r03"}},
		},
		{
			name: "CSV with a header row", response: "{format: csv}", records: ".", contentType: "text/csv",
			body: []byte(csvText), want: wantCSV,
		},
		{
			name: "CSV with a UTF-8 byte order mark", response: "{format: csv}", records: ".", contentType: "text/csv",
			body: append([]byte("\xEF\xBB\xBF"), csvText...), want: wantCSV,
		},
		{
			name: "CSV with semicolons", response: "{format: csv, csv: {delimiter: ';'}}", records: ".", contentType: "text/csv",
			body: []byte("id;name;amount\nr01;Ana;10\n"), want: wantCSV[:1],
		},
		{
			name: "tab-separated", response: `{format: csv, csv: {delimiter: "\t"}}`, records: ".", contentType: "text/tab-separated-values",
			body: []byte("id\tname\tamount\nr01\tAna\t10\n"), want: wantCSV[:1],
		},
		{
			name: "CSV in ISO-8859-1", response: "{format: csv, csv: {encoding: iso-8859-1}}", records: ".", contentType: "text/csv; charset=iso-8859-1",
			body: latin1(csvText), want: wantCSV,
		},
		{
			name: "CSV in UTF-16 with a byte order mark", response: "{format: csv, csv: {encoding: utf-16}}", records: ".", contentType: "text/csv",
			body: utf16LE(csvText, true), want: wantCSV,
		},
		{
			name: "CSV without a header row, columns named in the spec", response: "{format: csv, csv: {header: false, columns: [id, name, amount]}}", records: ".", contentType: "text/csv",
			body: []byte("r01,Ana,10\n"), want: wantCSV[:1],
		},
		{
			name: "CSV without a header row or columns: rows are lists", response: "{format: csv, csv: {header: false}}", records: "{id: .[0], name: .[1]}", contentType: "text/csv",
			body: []byte("r01,Ana\nr02,Ben\n"),
			want: []any{map[string]any{"id": "r01", "name": "Ana"}, map[string]any{"id": "r02", "name": "Ben"}},
		},
		{
			name: "CSV with records filtering rows", response: "{format: csv}", records: `select(.amount != "")`, contentType: "text/csv",
			body: []byte(csvText), want: wantCSV[:2],
		},
		{
			name: "an empty CSV body", response: "{format: csv}", records: ".", contentType: "text/csv",
			body: nil, want: nil,
		},
		{
			name: "a CSV body with only its header row", response: "{format: csv}", records: ".", contentType: "text/csv",
			body: []byte("id,name\n"), want: nil,
		},
		{
			name: "JSON whose records are an object's values", records: ".data[]", contentType: "application/json",
			body: []byte(`{"data": {"x": {"id": "r01"}, "y": {"id": "r02"}}}`),
			want: []any{map[string]any{"id": "r01"}, map[string]any{"id": "r02"}},
		},
		{
			name: "JSON with a byte order mark", records: ".data[]", contentType: "application/json",
			body: []byte("\xEF\xBB\xBF{\"data\": [{\"id\": \"r01\"}]}"), want: []any{map[string]any{"id": "r01"}},
		},
		{
			name: "JSON records deep in the document", records: ".result.page.items[]", contentType: "application/json",
			body: []byte(`{"meta": {"n": 2}, "result": {"x": [1, {"y": null}], "page": {"size": 2, "items": [{"id": "r01"}, {"id": "r02"}], "after": "z"}, "w": "v"}, "end": true}`),
			want: []any{map[string]any{"id": "r01"}, map[string]any{"id": "r02"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
				w.Header().Set("Content-Type", tc.contentType)
				_, _ = w.Write(tc.body)
			})
			c, it := load(t, specOpts{Response: tc.response, Records: tc.records})
			got, pages, err := records(t, newClient(t, c, api.URL, clientOpts{}), it)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			require.Len(t, pages, 1)
			assert.True(t, pages[0].Last)
		})
	}
}

func TestBodyAcceptHeader(t *testing.T) {
	for format, want := range map[string]string{"json": "application/json", "jsonl": "application/x-ndjson", "csv": "text/csv"} {
		t.Run(format, func(t *testing.T) {
			api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
				if got := r.Header.Get("Accept"); !strings.HasPrefix(got, want) {
					t.Errorf("Accept = %q, want %s first", got, want)
				}
				if format == "json" {
					_, _ = io.WriteString(w, `{"data": []}`)
				}
			})
			c, it := load(t, specOpts{Response: "{format: " + format + "}"})
			_, _, err := records(t, newClient(t, c, api.URL, clientOpts{}), it)
			require.NoError(t, err)
		})
	}
}

func TestBodyGzip(t *testing.T) {
	jsonDoc := []byte(`{"data": [{"id": "r01"}, {"id": "r02"}]}`)
	jsonl := []byte("{\"id\":\"r01\"}\n{\"id\":\"r02\"}\n")
	csvDoc := []byte("id,name\nr01,Ana\nr02,Ben\n")
	cases := []struct {
		name     string
		response string
		records  string
		headers  string // request headers
		serve    func(w http.ResponseWriter)
	}{
		{"Content-Encoding gzip, undone by the transport", "", "", "", func(w http.ResponseWriter) {
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(gzipped(jsonDoc))
		}},
		{"Content-Encoding gzip the request asked for itself", "", "", "{Accept-Encoding: gzip}", func(w http.ResponseWriter) {
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(gzipped(jsonDoc))
		}},
		{"an application/gzip download of JSON", "", "", "", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/gzip")
			_, _ = w.Write(gzipped(jsonDoc))
		}},
		{"a .gz file served with Content-Encoding gzip on top", "", "", "{Accept-Encoding: gzip}", func(w http.ResponseWriter) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Type", "application/gzip")
			_, _ = w.Write(gzipped(gzipped(jsonDoc)))
		}},
		{"gzip JSON Lines", "{format: jsonl}", ".", "", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/gzip")
			_, _ = w.Write(gzipped(jsonl))
		}},
		{"gzip CSV with Content-Encoding", "{format: csv}", ".", "{Accept-Encoding: gzip}", func(w http.ResponseWriter) {
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(gzipped(csvDoc))
		}},
		{"gzip CSV download", "{format: csv}", ".", "", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/x-gzip")
			_, _ = w.Write(gzipped(csvDoc))
		}},
		{"gzip JSON read whole (records is not a plain path)", "", ".data[] | select(.id)", "", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/gzip")
			_, _ = w.Write(gzipped(jsonDoc))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) { tc.serve(w) })
			c, it := load(t, specOpts{Response: tc.response, Records: tc.records, Headers: tc.headers})
			got, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
			require.NoError(t, err)
			assert.Equal(t, ids(2), got)
		})
	}
}

func TestBodyBadData(t *testing.T) {
	cases := []struct {
		name     string
		response string
		records  string
		body     string
		want     string
		class    string
	}{
		{"CSV row with too many fields", "{format: csv}", ".", "id,name\nr01,Ana\nr02,Ben,extra\n", "wrong number of fields", spec.ClassBadData},
		{"CSV with a stray quote", "{format: csv}", ".", "id,name\nr01,An\"a\n", `bare " in non-quoted-field`, spec.ClassBadData},
		{"CSV header naming a column twice", "{format: csv}", ".", "id,id\n1,2\n", `names column "id" twice`, spec.ClassBadData},
		{"JSON Lines with a broken line", "{format: jsonl}", ".", "{\"id\":\"r01\"}\n{\"id\": }\n", "line 2: invalid JSON", spec.ClassBadData},
		{"JSON Lines with two values on a line", "{format: jsonl}", ".", "{\"id\":\"r01\"} {\"id\":\"r02\"}\n", "line 1: invalid JSON: trailing data", spec.ClassBadData},
		{"JSON Lines whose records expression fails", "{format: jsonl}", ".items[]", "{\"items\": 5}\n", "records: line 1:", spec.ClassBadData},
		{"streamed JSON with a broken record", "", "", `{"data": [{"id": "r01"}, {"id": ]}`, "invalid JSON", spec.ClassBadData},
		{"streamed JSON with trailing data", "", "", `{"data": [{"id": "r01"}]} {}`, "trailing data", spec.ClassBadData},
		// A stray closing bracket after the document: json.Decoder.More is false
		// before one, so it passed for the end of the body.
		{"JSON read whole with a stray brace", "", ".data[] | select(.id)", `{"data": [{"id": "r01"}]}}`, "trailing data", spec.ClassBadData},
		{"streamed JSON with a stray bracket", "", "", `{"data": [{"id": "r01"}]}]`, "invalid JSON", spec.ClassBadData},
		{"JSON Lines with a stray brace", "{format: jsonl}", ".", "{\"id\":\"r01\"}}\n", "line 1: invalid JSON: trailing data", spec.ClassBadData},
		// Records at .[] and a document that is no array: it must still end there
		// (found by FuzzStreamMatchesWhole).
		{"streamed .[] on two numbers", "", ".[]", "0 0", "trailing data", spec.ClassBadData},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
				_, _ = io.WriteString(w, tc.body)
			})
			c, it := load(t, specOpts{Response: tc.response, Records: tc.records})
			_, _, err := collect(t, newClient(t, c, api.URL, clientOpts{}), it, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Equal(t, tc.class, retrieve.Classify(err), "%v", err)
		})
	}
}

// bigJSON is a document of n records at .data, with a next cursor after them.
func bigJSON(n int, next string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"object": "list", "data": [`)
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id": "r%05d", "name": "Item %d"}`, i, i)
	}
	b.WriteString(`], "next": `)
	if next == "" {
		b.WriteString("null")
	} else {
		b.WriteString(strconv.Quote(next))
	}
	b.WriteString(`, "has_more": ` + strconv.FormatBool(next != "") + `}`)
	return b.Bytes()
}

type partInfo struct {
	Number, Part, Records int
	Last                  bool
}

func partsOf(pages []retrieve.Page) []partInfo {
	out := []partInfo{}
	for _, p := range pages {
		out = append(out, partInfo{p.Number, p.Part, len(p.Records), p.Last})
	}
	return out
}

func TestBodyParts(t *testing.T) {
	cases := []struct {
		name       string
		sizes      []int // records of each response
		records    string
		pagination string
		want       []partInfo
	}{
		{
			name: "a large response comes in parts; the next cursor after the records is kept", sizes: []int{2500, 3},
			want: []partInfo{{1, 1, 1000, false}, {1, 2, 1000, false}, {1, 3, 500, true}, {2, 1, 3, true}},
		},
		{
			name: "exactly two parts: no empty third", sizes: []int{2000},
			want: []partInfo{{1, 1, 1000, false}, {1, 2, 1000, true}},
		},
		{
			name: "an empty response is one empty last part", sizes: []int{0},
			want: []partInfo{{1, 1, 0, true}},
		},
		{
			name: "read whole (records is not a plain path): parts all the same", sizes: []int{1001}, records: ".data[] | select(.id != null)",
			want: []partInfo{{1, 1, 1000, false}, {1, 2, 1, true}},
		},
		{
			name: "read whole ($records is read): parts all the same", sizes: []int{1500, 1500}, pagination: "{type: cursor, next: .next, stop: '$records | length < 1000'}",
			want: []partInfo{{1, 1, 1000, false}, {1, 2, 500, true}, {2, 1, 1000, false}, {2, 2, 500, true}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var api *fakeAPI
			api = newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
				next := ""
				if n < len(tc.sizes) {
					next = fmt.Sprintf("c%d", n)
				}
				_, _ = w.Write(bigJSON(tc.sizes[n-1], next))
			})
			pagination := tc.pagination
			if pagination == "" {
				pagination = "{type: cursor, next: .next, has_more: .has_more}"
			}
			c, it := load(t, specOpts{Records: tc.records, Pagination: pagination})
			cl := newClient(t, c, api.URL, clientOpts{})
			var pages []retrieve.Page
			total := 0
			err := cl.Pages(testCtx(t), it, retrieve.Query{}, func(p retrieve.Page) error {
				// The next page is asked for only once this one has been read whole.
				if got := api.Count(); got != p.Number {
					t.Errorf("page %d part %d: %d requests sent", p.Number, p.Part, got)
				}
				pages = append(pages, p)
				total += len(p.Records)
				return nil
			})
			require.NoError(t, err)
			assert.Equal(t, tc.want, partsOf(pages))
			sum := 0
			for _, s := range tc.sizes {
				sum += s
			}
			assert.Equal(t, sum, total)
			assert.Equal(t, len(tc.sizes), api.Count())
		})
	}
}

func TestBodyPartSizeOption(t *testing.T) {
	api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
		_, _ = io.WriteString(w, "id\nr1\nr2\nr3\nr4\nr5\n")
	})
	c, it := load(t, specOpts{Response: "{format: csv}", Records: "."})
	_, pages, err := records(t, newClient(t, c, api.URL, clientOpts{partSize: 2}), it)
	require.NoError(t, err)
	assert.Equal(t, []partInfo{{1, 1, 2, false}, {1, 2, 2, false}, {1, 3, 1, true}}, partsOf(pages))
}

// cutAfter serves body, declaring its full length but closing the connection after
// the first n bytes: a response cut short in transit.
func cutAfter(w http.ResponseWriter, body []byte, n int) {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body[:n])
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

func TestBodyCutShortWhileStreaming(t *testing.T) {
	formats := []struct {
		name     string
		response string
		records  string
		body     []byte
	}{
		{"JSON", "", "", bigJSON(1500, "")},
		{"JSON Lines", "{format: jsonl}", ".", func() []byte {
			var b bytes.Buffer
			for i := 1; i <= 1500; i++ {
				fmt.Fprintf(&b, "{\"id\": \"r%05d\"}\n", i)
			}
			return b.Bytes()
		}()},
		{"CSV", "{format: csv}", ".", func() []byte {
			var b bytes.Buffer
			b.WriteString("id,name\n")
			for i := 1; i <= 1500; i++ {
				fmt.Fprintf(&b, "r%05d,Item %d\n", i, i)
			}
			return b.Bytes()
		}()},
	}
	for _, f := range formats {
		t.Run(f.name+", then whole", func(t *testing.T) {
			api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					cutAfter(w, f.body, len(f.body)*4/5) // past the first part
					return
				}
				_, _ = w.Write(f.body)
			})
			c, it := load(t, specOpts{Response: f.response, Records: f.records, Retries: "2"})
			_, pages, err := records(t, newClient(t, c, api.URL, clientOpts{}), it)
			require.NoError(t, err)
			// The first part of the broken answer was handed over; the answer read again
			// starts again at part 1.
			assert.Equal(t, []partInfo{{1, 1, 1000, false}, {1, 1, 1000, false}, {1, 2, 500, true}}, partsOf(pages))
			assert.Equal(t, 2, api.Count())
		})
		t.Run(f.name+", every time", func(t *testing.T) {
			api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
				cutAfter(w, f.body, len(f.body)*4/5)
			})
			c, it := load(t, specOpts{Response: f.response, Records: f.records, Retries: "1"})
			_, pages, err := records(t, newClient(t, c, api.URL, clientOpts{}), it)
			require.Error(t, err)
			var be *retrieve.BodyError
			require.ErrorAs(t, err, &be, "%v", err)
			assert.Equal(t, spec.ClassTransient, retrieve.Classify(err), "%v", err)
			assert.Equal(t, 2, api.Count())
			for _, p := range pages {
				assert.False(t, p.Last, "no part of a broken answer is its last")
			}
		})
	}
}

func TestBodyRecordTooLarge(t *testing.T) {
	// Larger than the limit and what a decoder reads ahead.
	blob := strings.Repeat("x", 100<<10)
	big := `{"id": "r02", "blob": "` + blob + `"}`
	cases := []struct {
		name, response, records, body string
	}{
		{"JSON record", "", "", `{"data": [{"id": "r01"}, ` + big + `]}`},
		{"JSON envelope", "", "", `{"meta": "` + blob + `", "data": []}`},
		{"JSON Lines line", "{format: jsonl}", ".", "{\"id\": \"r01\"}\n" + big + "\n"},
		{"CSV row", "{format: csv}", ".", "id,blob\nr01,x\nr02," + blob + "\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
				_, _ = io.WriteString(w, tc.body)
			})
			c, it := load(t, specOpts{Response: tc.response, Records: tc.records, Retries: "2"})
			_, _, err := records(t, newClient(t, c, api.URL, clientOpts{maxBody: 1024}), it)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "larger than 1024 bytes")
			assert.Equal(t, 1, api.Count(), "the same answer would be too large again")
		})
	}

	t.Run("a large body of small records streams", func(t *testing.T) {
		api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
			_, _ = w.Write(bigJSON(5000, "")) // about 200 kB
		})
		c, it := load(t, specOpts{})
		got, _, err := records(t, newClient(t, c, api.URL, clientOpts{maxBody: 1024}), it)
		require.NoError(t, err)
		assert.Len(t, got, 5000)
	})

	t.Run("a large body read whole is refused", func(t *testing.T) {
		api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
			_, _ = w.Write(bigJSON(2000, ""))
		})
		c, it := load(t, specOpts{Records: ".data[] | select(.id)"})
		_, _, err := records(t, newClient(t, c, api.URL, clientOpts{maxBody: 1024}), it)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "is larger than 1024 bytes")
	})
}

func TestBodyStopPagingInsideAResponse(t *testing.T) {
	api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
		_, _ = w.Write(bigJSON(3000, fmt.Sprintf("c%d", n)))
	})
	c, it := load(t, specOpts{Pagination: "{type: cursor, next: .next}"})
	var parts []int
	err := newClient(t, c, api.URL, clientOpts{}).Pages(testCtx(t), it, retrieve.Query{}, func(p retrieve.Page) error {
		parts = append(parts, p.Part)
		if p.Part == 2 {
			return retrieve.ErrStopPaging
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2}, parts)
	assert.Equal(t, 1, api.Count())
}

func TestBodyCallbackErrorIsNotRetried(t *testing.T) {
	// A callback error that wraps a body error (a child sync's, say) ends paging as is:
	// it is not this answer's body that broke.
	api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
		_, _ = w.Write(bigJSON(3, ""))
	})
	c, it := load(t, specOpts{Retries: "3"})
	child := fmt.Errorf("child: %w", &retrieve.BodyError{URL: "u", Err: io.ErrUnexpectedEOF})
	err := newClient(t, c, api.URL, clientOpts{}).Pages(testCtx(t), it, retrieve.Query{}, func(p retrieve.Page) error { return child })
	assert.Same(t, child, err)
	assert.Equal(t, 1, api.Count())
}

func TestBodyRulesOnStreamedDocuments(t *testing.T) {
	cases := []struct {
		name   string
		rules  string
		bodies []string // answer of each request
		err    string
		class  string
		parts  []partInfo
	}{
		{
			name:   "a key before the records is judged before any record is handed over",
			rules:  `[{body: '.error == "busy"', action: retry}]`,
			bodies: []string{`{"error": "busy", "data": [{"id": "r01"}]}`, `{"data": [{"id": "r01"}, {"id": "r02"}]}`},
			parts:  []partInfo{{1, 1, 2, true}},
		},
		{
			name:   "a key after the records is judged at the end: retried, the records handed over again",
			rules:  `[{body: '.error == "busy"', action: retry}]`,
			bodies: []string{bigJSONWith(1500, `"error": "busy"`), bigJSONWith(1500, "")},
			parts:  []partInfo{{1, 1, 1000, false}, {1, 1, 1000, false}, {1, 2, 500, true}},
		},
		{
			name:   "a key after the records fails the sync at the end",
			rules:  `[{body: '.errors != null', action: fail, class: permanent, message: partial failure}]`,
			bodies: []string{bigJSONWith(1500, `"errors": [{"message": "timeout on shard 3"}]`)},
			err:    "partial failure", class: spec.ClassPermanent,
			parts: []partInfo{{1, 1, 1000, false}},
		},
		{
			name:   "a rule true on a missing key waits for the key",
			rules:  `[{body: '.ok != true', action: fail}]`,
			bodies: []string{bigJSONWith(3, `"ok": true`)},
			parts:  []partInfo{{1, 1, 3, true}},
		},
		{
			name:   "a rule matching at the end says ignore: no further records, no next page",
			rules:  `[{body: '.skip == true', action: ignore}]`,
			bodies: []string{bigJSONWith(1500, `"skip": true`)},
			parts:  []partInfo{{1, 1, 1000, false}, {1, 1, 0, true}},
		},
		{
			name:   "an error document without records is judged whole",
			rules:  `[{body: '.errors[0].type == "RATE_LIMITED"', action: rate_limited}]`,
			bodies: []string{`{"errors": [{"type": "RATE_LIMITED"}], "data": null}`, `{"data": [{"id": "r01"}]}`},
			parts:  []partInfo{{1, 1, 1, true}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newAPI(t, wantBearer, func(w http.ResponseWriter, r *http.Request, n int) {
				_, _ = io.WriteString(w, tc.bodies[min(n, len(tc.bodies))-1])
			})
			c, it := rulesSpec{typeRules: tc.rules, retries: 2}.load(t)
			cl := bearerClient(t, c, api.URL)
			var pages []retrieve.Page
			err := cl.Pages(testCtx(t), it, retrieve.Query{}, func(p retrieve.Page) error {
				pages = append(pages, p)
				return nil
			})
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				assert.Equal(t, tc.class, retrieve.Classify(err))
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tc.parts, partsOf(pages))
		})
	}
}

// bigJSONWith is a document of n records at .data followed by extra keys.
func bigJSONWith(n int, extra string) string {
	doc := string(bigJSON(n, ""))
	if extra == "" {
		return doc
	}
	return strings.TrimSuffix(doc, "}") + ", " + extra + "}"
}

func TestBodyErrorStatusesReadWhole(t *testing.T) {
	// Whatever the format, an error answer is read whole (and as JSON when it is).
	api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, http.StatusForbidden, map[string]any{"error": "export not enabled"})
	})
	c, it := load(t, specOpts{Response: "{format: csv}", Records: "."})
	_, _, err := records(t, newClient(t, c, api.URL, clientOpts{}), it)
	var he *retrieve.HTTPError
	require.True(t, errors.As(err, &he), "%v", err)
	assert.Contains(t, he.Body, "export not enabled")
}

// A callback that sends requests of its own through the same client (a child stream
// per parent record) while a large parent response is still being read does not wait
// for the concurrency slot the parent's body would hold.
func TestBodyCallbackRequestsUnderConcurrencyCap(t *testing.T) {
	api := newAPI(t, wantHeaderKey, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.URL.Path == "/v1/children" {
			writeJSON(w, http.StatusOK, map[string]any{"data": rows(ids(1))})
			return
		}
		_, _ = w.Write(bigJSON(2500, ""))
	})
	src := specOpts{}.yaml() + `  children:
    kind: item
    request: {path: /children}
    records: .data[]
    id: .id
`
	src = strings.Replace(src, "retries: 1\n", "retries: 1\nrate_limit: {requests: 1000, per: 1s, burst: 100, concurrency: 1}\n", 1)
	c := mustLoad(t, src)
	cl := newClient(t, c, api.URL, clientOpts{})
	parents, children := 0, 0
	err := cl.Pages(testCtx(t), c.InteractionTypes.Map["items"], retrieve.Query{}, func(p retrieve.Page) error {
		parents += len(p.Records)
		return cl.Pages(testCtx(t), c.InteractionTypes.Map["children"], retrieve.Query{}, func(cp retrieve.Page) error {
			children += len(cp.Records)
			return nil
		})
	})
	require.NoError(t, err)
	assert.Equal(t, 2500, parents)
	assert.Equal(t, 3, children, "one child request per part, none blocked")
}
