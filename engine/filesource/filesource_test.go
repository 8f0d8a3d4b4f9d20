package filesource_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/filesource"
	"github.com/intakehq/intake/engine/pipeline"
	"github.com/intakehq/intake/engine/process"
	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

const contactsSpec = `
provider: drops
source: files
config:
  location: {description: Where the customer's exports land.}
files: {location: '${ .config.location }'}
retries: 0
interaction_types:
  contacts:
    kind: contact
    files: {paths: [contacts*.csv, contacts*.csv.gz], chunk: 2}
    id: .email | ascii_downcase
    fields:
      email: .email | ascii_downcase
      name: .name
      title: .title
`

func load(t *testing.T, yaml string) *spec.Connector {
	t.Helper()
	c, err := spec.Load("drops.yaml", []byte(yaml))
	require.NoError(t, err)
	return c
}

func write(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
}

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, err := w.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.Bytes()
}

type harness struct {
	t      *testing.T
	db     *store.Store
	conn   *spec.Connector
	config map[string]any
	opts   filesource.Options
}

func newHarness(t *testing.T, conn *spec.Connector, config map[string]any) *harness {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "intake.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, db.CreateIntegration(ctx, store.Integration{ID: "acme-drops", CustomerID: "acme", Provider: conn.Provider, Config: config}, nil, nil))
	return &harness{t: t, db: db, conn: conn, config: config, opts: filesource.Options{RetryWait: time.Millisecond}}
}

func (h *harness) sync(ctx context.Context, typ string, onPage func(pipeline.PageEvent)) (*store.Run, error) {
	h.t.Helper()
	src, err := filesource.New(ctx, retrieve.Source{Connector: h.conn, Config: h.config}, h.opts)
	require.NoError(h.t, err)
	results, err := (&pipeline.Syncer{Store: h.db, OnPage: onPage}).Sync(ctx, pipeline.Job{IntegrationID: "acme-drops", CustomerID: "acme", Connector: h.conn, Client: src, Types: []string{typ}})
	if err != nil {
		return nil, err
	}
	return results[0].Run, results[0].Err
}

func (h *harness) stored() map[string]string {
	h.t.Helper()
	rows, err := h.db.DB().Query(`SELECT external_id, data FROM interactions`)
	require.NoError(h.t, err)
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, d string
		require.NoError(h.t, rows.Scan(&id, &d))
		_, dup := out[id]
		require.False(h.t, dup, "%s stored twice", id)
		out[id] = d
	}
	return out
}

func (h *harness) quarantine() []string {
	h.t.Helper()
	rows, err := h.db.DB().Query(`SELECT reason FROM quarantine ORDER BY id`)
	require.NoError(h.t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		require.NoError(h.t, rows.Scan(&r))
		out = append(out, r)
	}
	return out
}

func (h *harness) checkpoint(typ string) map[string]any {
	h.t.Helper()
	obj, err := h.db.EnsureObject(context.Background(), "acme-drops", typ)
	require.NoError(h.t, err)
	var m map[string]any
	if obj.Cursor != "" {
		require.NoError(h.t, json.Unmarshal([]byte(obj.Cursor), &m))
	}
	return m
}

const firstExport = "\uFEFFemail,name,title\r\n" +
	"ana@acme.example,Ana Lima,CTO\r\n" +
	"\"bo@acme.example\",\"Bo, Jr.\",\"Head of\nSales\"\r\n" +
	"cy@acme.example,Cy\r\n" + // one field short: quarantined
	"DI@acme.example,Di,VP\r\n"

// Each file is processed once: an unchanged file is skipped, a changed one read again,
// a touched one hashed and skipped, a removed one forgotten. Bad rows are quarantined
// with their file and row; the other rows are stored once each.
func TestLocalFilesProcessedOnce(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "contacts-2026-01.csv", []byte(firstExport))
	write(t, dir, "contacts-2026-02.csv.gz", gz(t, "email,name,title\neve@acme.example,Eve,CEO\n"))
	write(t, dir, "ignored.txt", []byte("not matched by paths"))
	h := newHarness(t, load(t, contactsSpec), map[string]any{"location": dir})
	ctx := context.Background()

	run, err := h.sync(ctx, "contacts", nil)
	require.NoError(t, err)
	assert.Equal(t, 4, run.RecordsNew)
	assert.Equal(t, 1, run.RecordsQuarantined)
	assert.Equal(t, 3, run.Pages, "file one: rows 1-2, rows 3-4 (with the end of the file); file two: one page")
	got := h.stored()
	require.Len(t, got, 4)
	assert.JSONEq(t, `{"email":"bo@acme.example","name":"Bo, Jr.","title":"Head of\nSales"}`, got["bo@acme.example"])
	assert.JSONEq(t, `{"email":"di@acme.example","name":"Di","title":"VP"}`, got["di@acme.example"])
	assert.Equal(t, []string{"contacts-2026-01.csv row 3 (line 5): 2 fields, but the header has 3 columns"}, h.quarantine())
	cp := h.checkpoint("contacts")
	files := cp["files"].(map[string]any)
	assert.Len(t, files, 2)
	assert.Nil(t, cp["current"])
	assert.Equal(t, float64(len(firstExport)), files["contacts-2026-01.csv"].(map[string]any)["size"])

	run, err = h.sync(ctx, "contacts", nil)
	require.NoError(t, err)
	assert.Equal(t, 0, run.Pages, "nothing changed: nothing read")

	// The first file changes (a row edited, one added); the second does not.
	write(t, dir, "contacts-2026-01.csv", []byte(strings.Replace(firstExport, "Ana Lima,CTO", "Ana Lima,CEO", 1)+"fay@acme.example,Fay,CFO\r\n"))
	run, err = h.sync(ctx, "contacts", nil)
	require.NoError(t, err)
	assert.Equal(t, 1, run.RecordsNew, "fay")
	assert.Equal(t, 1, run.RecordsUpdated, "ana")
	assert.Equal(t, 2, run.RecordsUnchanged)
	assert.Equal(t, 1, run.RecordsQuarantined, "the bad row is still bad")
	assert.Contains(t, h.stored()["ana@acme.example"], "CEO")

	// Touched, not changed: hashed again, found equal, skipped; the new time is kept.
	later := time.Now().Add(time.Hour)
	require.NoError(t, os.Chtimes(filepath.Join(dir, "contacts-2026-02.csv.gz"), later, later))
	run, err = h.sync(ctx, "contacts", nil)
	require.NoError(t, err)
	assert.Equal(t, 0, run.RecordsNew+run.RecordsUpdated+run.RecordsUnchanged)
	assert.Equal(t, 1, run.Pages, "one empty page commits the new modification time")
	run, err = h.sync(ctx, "contacts", nil)
	require.NoError(t, err)
	assert.Equal(t, 0, run.Pages)

	// A removed file leaves the checkpoint; its records stay.
	require.NoError(t, os.Remove(filepath.Join(dir, "contacts-2026-02.csv.gz")))
	_, err = h.sync(ctx, "contacts", nil)
	require.NoError(t, err)
	assert.Len(t, h.checkpoint("contacts")["files"], 1)
	assert.Len(t, h.stored(), 5)
}

// A large file is read in chunks, each committed with the position in the file: a sync
// cancelled after two chunks resumes at the third, and no row is stored twice.
func TestResumeInsideAFile(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("email,name,title\n")
	for i := 1; i <= 11; i++ {
		fmt.Fprintf(&b, "p%02d@acme.example,Person %d,Staff\n", i, i)
	}
	write(t, dir, "contacts.csv", []byte(b.String()))
	h := newHarness(t, load(t, contactsSpec), map[string]any{"location": dir})
	ctx, cancel := context.WithCancel(context.Background())
	pages := 0
	_, err := h.sync(ctx, "contacts", func(pipeline.PageEvent) {
		if pages++; pages == 2 {
			cancel()
		}
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.Len(t, h.stored(), 4)
	cur := h.checkpoint("contacts")["current"].(map[string]any)
	assert.Equal(t, "contacts.csv", cur["name"])
	assert.Equal(t, float64(4), cur["rows"])

	run, err := h.sync(context.Background(), "contacts", nil)
	require.NoError(t, err)
	assert.Equal(t, 7, run.RecordsNew)
	assert.Equal(t, 0, run.RecordsUnchanged, "the committed rows are not read again")
	assert.Len(t, h.stored(), 11)
	assert.Nil(t, h.checkpoint("contacts")["current"])
}

// A file that cannot be read at all (here, a header naming one column twice) is
// quarantined as a whole; the other files are still read.
func TestUnreadableFileIsQuarantined(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "contacts-a.csv", []byte("email,name,email\nx@acme.example,X,y@acme.example\n"))
	write(t, dir, "contacts-b.csv", []byte("email,name,title\nz@acme.example,Z,\n"))
	write(t, dir, "contacts-c.csv.gz", []byte("\x1f\x8bnot really gzip"))
	h := newHarness(t, load(t, contactsSpec), map[string]any{"location": dir})
	run, err := h.sync(context.Background(), "contacts", nil)
	require.NoError(t, err)
	assert.Equal(t, 1, run.RecordsNew)
	assert.Equal(t, 2, run.RecordsQuarantined)
	q := h.quarantine()
	require.Len(t, q, 2)
	assert.Equal(t, `contacts-a.csv: column "email" appears twice in the header row`, q[0])
	assert.Contains(t, q[1], "contacts-c.csv.gz: not gzip data")
	assert.Len(t, h.checkpoint("contacts")["files"], 3, "bad files are checkpointed: read again only once they change")
}

func TestPathsStayInsideTheLocation(t *testing.T) {
	dir := t.TempDir()
	conn := load(t, strings.Replace(contactsSpec, "paths: [contacts*.csv, contacts*.csv.gz]", "paths: '../*.csv'", 1))
	h := newHarness(t, conn, map[string]any{"location": dir})
	run, err := h.sync(context.Background(), "contacts", nil)
	require.Error(t, err)
	assert.Equal(t, spec.ClassPermanent, run.ErrorClass)
	assert.Contains(t, run.Error, "must stay inside files.location")

	h = newHarness(t, load(t, contactsSpec), map[string]any{"location": filepath.Join(dir, "missing")})
	run, err = h.sync(context.Background(), "contacts", nil)
	require.Error(t, err)
	assert.Equal(t, spec.ClassPermanent, run.ErrorClass)
	assert.Contains(t, run.Error, "files.location")
}

// preview reads one file with the files block given and returns the records (as
// JSON) and the problems reported.
func preview(t *testing.T, block string, name string, data []byte) ([]string, []string) {
	t.Helper()
	dir := t.TempDir()
	write(t, dir, name, data)
	conn := load(t, `
provider: drops
source: files
files: {location: '`+dir+`'}
interaction_types:
  rows:
    kind: row
    files: `+block+`
    id: .id
`)
	src, err := pipeline.NewClient(context.Background(), retrieve.Source{Connector: conn}, retrieve.Options{})
	require.NoError(t, err)
	var recs, problems []string
	err = pipeline.Preview(context.Background(), src, conn.InteractionTypes.Map["rows"], 0, func(m *process.Mapped, err error) error {
		if err != nil {
			problems = append(problems, err.Error())
			return nil
		}
		recs = append(recs, string(m.Data))
		return nil
	})
	require.NoError(t, err)
	return recs, problems
}

func TestFormatsAndEncodings(t *testing.T) {
	latin1 := []byte("id;name\n1;M\xfcller\n2;\"Caf\xe9; Bar\"\n")
	cp1252 := []byte("id,price\n1,\x80 5\n")
	utf16 := []byte{0xFF, 0xFE} // BOM, then "id\tname\n1\tÅsa\n" little-endian
	for _, r := range "id\tname\n1\tÅsa\n" {
		utf16 = append(utf16, byte(r), byte(r>>8))
	}
	cases := []struct {
		name, block, file string
		data              []byte
		recs              []string
		problems          []string
	}{
		{"latin-1 with semicolons", "{paths: '*.csv', delimiter: ';', encoding: latin-1}", "a.csv", latin1,
			[]string{`{"id":"1","name":"Müller"}`, `{"id":"2","name":"Café; Bar"}`}, nil},
		{"windows-1252", "{paths: '*.csv', encoding: windows-1252}", "a.csv", cp1252,
			[]string{`{"id":"1","price":"€ 5"}`}, nil},
		{"utf-16 tsv", "{paths: '*.tsv', encoding: utf-16}", "a.tsv", utf16,
			[]string{`{"id":"1","name":"Åsa"}`}, nil},
		{"single quotes", `{paths: '*.csv', quote: "'"}`, "a.csv", []byte("id,name\n1,'O''Hara, Scarlett'\n2,\"quoted\"\n"),
			[]string{`{"id":"1","name":"O'Hara, Scarlett"}`, `{"id":"2","name":"\"quoted\""}`}, nil},
		{"no quoting", "{paths: '*.tsv', quote: none}", "a.tsv", []byte("id\tsize\n1\t12\" pipe\n2\t\"3\"\n"),
			[]string{`{"id":"1","size":"12\" pipe"}`, `{"id":"2","size":"\"3\""}`}, nil},
		{"no header", "{paths: '*.csv', header: false, columns: [id, email]}", "a.csv", []byte("1,a@x.example\n2,b@x.example\n"),
			[]string{`{"email":"a@x.example","id":"1"}`, `{"email":"b@x.example","id":"2"}`}, nil},
		{"invalid utf-8", "{paths: '*.csv'}", "a.csv", []byte("id,name\n1,ok\n2,M\xfcller\n"),
			[]string{`{"id":"1","name":"ok"}`}, []string{"record: a.csv row 2 (line 3): not valid UTF-8; set files.encoding (latin-1, windows-1252 or utf-16)"}},
		{"bare quote", "{paths: '*.csv'}", "a.csv", []byte("id,name\n1,a \"b\" c\n2,ok\n"),
			[]string{`{"id":"2","name":"ok"}`}, []string{`record: a.csv row 1 (line 2): bare " in non-quoted-field`}},
		{"gzip without .gz", "{paths: '*.csv'}", "a.csv", gz(t, "id,name\n1,zipped\n"),
			[]string{`{"id":"1","name":"zipped"}`}, nil},
		{"json lines", "{paths: '*.jsonl'}", "a.jsonl", []byte("{\"id\": 1, \"tags\": [\"a\"], \"n\": 1.50}\n\n{not json}\n[1]\r\n{\"id\": 2}"),
			[]string{`{"id":1,"n":1.50,"tags":["a"]}`, `{"id":2}`},
			[]string{"record: a.jsonl line 3: invalid JSON: invalid character 'n' looking for beginning of object key string", "record: a.jsonl line 4: not a JSON object"}},
		{"json lines with a stray brace or a second value", "{paths: '*.jsonl'}", "a.jsonl", []byte("{\"id\": 1}}\n{\"id\": 2} {\"id\": 3}\n{\"id\": 4}\n"),
			[]string{`{"id":4}`},
			[]string{"record: a.jsonl line 1: invalid JSON: something follows the value on the line", "record: a.jsonl line 2: invalid JSON: something follows the value on the line"}},
		{"json lines gzipped with BOM", "{paths: '*.ndjson.gz'}", "a.ndjson.gz", gz(t, "\uFEFF{\"id\":\"x\"}\n"),
			[]string{`{"id":"x"}`}, nil},
		{"mapping failure names the row", "{paths: '*.csv'}", "a.csv", []byte("name\nno id here\n"),
			nil, []string{"record: a.csv row 1 (line 2): id: .id gave null; it must yield a non-empty string or number"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			recs, problems := preview(t, tc.block, tc.file, tc.data)
			assert.Equal(t, tc.recs, recs)
			assert.Equal(t, tc.problems, problems)
		})
	}
}

// Rows come in pages of chunk rows: a large file never sits in memory whole.
func TestLargeFileStreamsInChunks(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "big.csv"))
	require.NoError(t, err)
	fmt.Fprintln(f, "id,payload")
	pad := strings.Repeat("x", 200)
	const rows = 50000
	for i := 0; i < rows; i++ {
		fmt.Fprintf(f, "%d,%s\n", i, pad)
	}
	require.NoError(t, f.Close())
	conn := load(t, `
provider: drops
source: files
files: {location: '`+dir+`'}
interaction_types:
  rows: {kind: row, files: {paths: big.csv, chunk: 1000}, id: .id}
`)
	src, err := filesource.New(context.Background(), retrieve.Source{Connector: conn}, filesource.Options{})
	require.NoError(t, err)
	pages, total, most := 0, 0, 0
	err = src.Pages(context.Background(), conn.InteractionTypes.Map["rows"], retrieve.Query{}, func(pg retrieve.Page) error {
		pages++
		total += len(pg.Records)
		most = max(most, len(pg.Records))
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, rows, total)
	assert.Equal(t, 1000, most)
	assert.Equal(t, 50, pages, "50 full chunks, the last one marking the file done")
}

// exportServer serves a customer's exports over HTTP the way a file host does: a bearer
// token, ETags with If-None-Match, a redirect to storage on another host, one file that
// fails once.
type exportServer struct {
	files    map[string][]byte
	gets     map[string]int
	notMod   int
	failOnce map[string]bool
}

func (e *exportServer) handler(storage string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok-123" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/exports/")
		e.gets[name]++
		if name == "moved.csv" {
			http.Redirect(w, r, storage+"/blob/moved.csv?sig=abc", http.StatusFound)
			return
		}
		if e.failOnce[name] {
			delete(e.failOnce, name)
			http.Error(w, "upstream hiccup", http.StatusBadGateway)
			return
		}
		data, ok := e.files[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		etag := fmt.Sprintf(`"%x"`, sha256.Sum256(data))
		if r.Header.Get("If-None-Match") == etag {
			e.notMod++
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		_, _ = w.Write(data)
	}
}

const httpSpec = `
provider: drops
source: files
config:
  location: {}
  files: {default: contacts-1.csv contacts-2.csv.gz}
credentials: {token: {}}
files: {location: '${ .config.location }'}
headers: {Authorization: 'Bearer ${ .credentials.token }'}
retries: 2
interaction_types:
  contacts:
    kind: contact
    files: {paths: '${ .config.files | split(" ") }'}
    id: .email
    fields: {email: .email, name: .name}
`

func TestHTTPLocation(t *testing.T) {
	var leaked atomic.Value
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("Authorization"))
		fmt.Fprint(w, "email,name\nmo@acme.example,Mo\n")
	}))
	defer storage.Close()
	exp := &exportServer{gets: map[string]int{}, failOnce: map[string]bool{"contacts-1.csv": true}, files: map[string][]byte{
		"contacts-1.csv":    []byte("email,name\nana@acme.example,Ana\n"),
		"contacts-2.csv.gz": gz(t, "email,name\nbo@acme.example,Bo\n"),
	}}
	srv := httptest.NewServer(exp.handler(storage.URL))
	defer srv.Close()
	conn := load(t, httpSpec)
	h := newHarness(t, conn, map[string]any{"location": srv.URL + "/exports", "files": "contacts-1.csv contacts-2.csv.gz moved.csv"})
	src := func() *filesource.Source {
		s, err := filesource.New(context.Background(), retrieve.Source{Connector: conn, Config: h.config, Credentials: map[string]any{"token": "tok-123"}}, filesource.Options{RetryWait: time.Millisecond})
		require.NoError(t, err)
		return s
	}
	sync := func() *store.Run {
		results, err := (&pipeline.Syncer{Store: h.db}).Sync(context.Background(), pipeline.Job{IntegrationID: "acme-drops", Connector: conn, Client: src()})
		require.NoError(t, err)
		return results[0].Run
	}
	run := sync()
	assert.Equal(t, store.RunSucceeded, run.Status, run.Error)
	assert.Equal(t, 3, run.RecordsNew)
	assert.Equal(t, 2, exp.gets["contacts-1.csv"], "a 502 is retried")
	assert.Equal(t, "", leaked.Load(), "the token does not follow a redirect to another host")
	files := h.checkpoint("contacts")["files"].(map[string]any)
	assert.Contains(t, files, srv.URL+"/exports/contacts-2.csv.gz")
	for name := range files {
		assert.NotContains(t, name, "sig=", "a signed URL's query is not stored")
	}

	run = sync()
	assert.Equal(t, 0, run.Pages)
	assert.Equal(t, 2, exp.notMod, "unchanged files answer 304 to If-None-Match")

	exp.files["contacts-2.csv.gz"] = gz(t, "email,name\nbo@acme.example,Bo Changed\n")
	run = sync()
	assert.Equal(t, 1, run.RecordsUpdated)

	// A file that is not there fails the sync for good; a refused token is auth.
	h.config["files"] = "contacts-1.csv nope.csv"
	run = sync()
	assert.Equal(t, spec.ClassPermanent, run.ErrorClass, run.Error)
	assert.Contains(t, run.Error, "nope.csv: HTTP 404")
	h.config["files"] = "contacts-1.csv"
	s, err := filesource.New(context.Background(), retrieve.Source{Connector: conn, Config: h.config, Credentials: map[string]any{"token": "wrong-token"}}, filesource.Options{})
	require.NoError(t, err)
	results, err := (&pipeline.Syncer{Store: h.db}).Sync(context.Background(), pipeline.Job{IntegrationID: "acme-drops", Connector: conn, Client: s})
	require.NoError(t, err)
	assert.Equal(t, spec.ClassAuth, results[0].Run.ErrorClass)
	assert.NotContains(t, results[0].Run.Error, "wrong-token")
}
