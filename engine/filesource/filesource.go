// Package filesource reads interaction types out of files customers provide: CSV and
// JSON Lines, optionally gzipped, from a local directory (globs) or an http(s)
// location (file names or URLs).
//
// Files are read in name order, streamed (never whole in memory) and delivered in
// pages of files.chunk rows. Each file is processed once: the checkpoint (see state)
// holds its name, size and content hash, so an unchanged file is skipped and a changed
// one is read again. Rows that cannot be read (wrong number of fields, invalid JSON,
// bytes that are not valid in the file's encoding) are quarantined with their file and
// row number; the other rows are stored.
package filesource

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/intakehq/intake/engine/expr"
	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/source"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

// Options tune a source. The zero value is production behaviour.
type Options struct {
	// Trace receives each file opened or downloaded (Kind "request") and each page.
	Trace func(retrieve.TraceEvent)
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
	// Transport carries downloads from an http(s) location (default: a pooled one).
	Transport http.RoundTripper
	// Now is the clock of the .now header template field (default time.Now).
	Now func() time.Time
	// RetryWait is the first wait before retrying a failed download (default 500ms).
	RetryWait time.Duration
	// TempDir holds downloads while they are read (default os.TempDir()).
	TempDir string
}

// Source reads one integration's files. It is safe for concurrent use.
type Source struct {
	conn   *spec.Connector
	config map[string]any
	creds  map[string]any
	dir    string   // local location; "" when remote
	base   *url.URL // http(s) location; nil when local
	redact *secret.Redactor
	http   *http.Client
	opts   Options
}

// New renders the integration's location.
func New(ctx context.Context, src retrieve.Source, opts Options) (*Source, error) {
	conn := src.Connector
	if conn.Source != spec.SourceFiles || conn.Files == nil {
		return nil, fmt.Errorf("provider %s is not a files connector", conn.Provider)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RetryWait == 0 {
		opts.RetryWait = 500 * time.Millisecond
	}
	s := &Source{conn: conn, config: orEmpty(src.Config), creds: orEmpty(src.Credentials), opts: opts, redact: secret.NewRedactor()}
	for _, v := range src.Credentials {
		s.redact.Add(expr.Text(v))
	}
	loc, err := conn.Files.Location.RenderString(ctx, map[string]any{"config": s.config})
	if err != nil {
		return nil, fmt.Errorf("render files.location: %w", err)
	}
	loc = strings.TrimSpace(loc)
	switch {
	case loc == "":
		return nil, &retrieve.ClassError{Class: spec.ClassPermanent, Err: fmt.Errorf("files.location renders empty (%s): supply the config it reads", conn.Files.Location.Src)}
	case strings.HasPrefix(loc, "http://") || strings.HasPrefix(loc, "https://"):
		u, err := url.Parse(loc)
		if err != nil || u.Host == "" {
			return nil, &retrieve.ClassError{Class: spec.ClassPermanent, Err: fmt.Errorf("files.location %q is not a URL", s.redact.String(loc))}
		}
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/" // a directory: names resolve inside it
		}
		s.base = u
		transport := opts.Transport
		if transport == nil {
			t := http.DefaultTransport.(*http.Transport).Clone()
			t.ResponseHeaderTimeout = conn.Timeout.D()
			transport = t
		}
		s.http = &http.Client{Transport: transport, CheckRedirect: s.checkRedirect}
	default:
		s.dir = filepath.Clean(strings.TrimPrefix(loc, "file://"))
	}
	return s, nil
}

// Redact hides the integration's secrets in text.
func (s *Source) Redact(text string) string { return s.redact.String(text) }

// Pages reads every file of an interaction type, ignoring checkpoints: preview.
func (s *Source) Pages(ctx context.Context, it *spec.InteractionType, _ retrieve.Query, fn func(retrieve.Page) error) error {
	return source.Pages(ctx, s, it, fn)
}

// file is one file to read.
type file struct {
	name  string // the checkpoint key: path under the location, or URL without query
	path  string // local path
	url   string // remote URL
	size  int64
	mtime string
}

// Resume reads the files of an interaction type that changed since the checkpoint in
// cursor ("" reads them all), calling fn with each page and the checkpoint after it.
func (s *Source) Resume(ctx context.Context, it *spec.InteractionType, cursor string, fn func(source.Batch) error) error {
	if it.Files == nil {
		return fmt.Errorf("%s: interaction type has no files section", it.Name)
	}
	st, err := decodeState(cursor)
	if err != nil {
		return &retrieve.ClassError{Class: spec.ClassPermanent, Err: fmt.Errorf("%s: %w; `intake integrations resync` starts it over", it.Name, err)}
	}
	files, err := s.list(ctx, it)
	if err != nil {
		return s.redact.Error(fmt.Errorf("%s: %w", it.Name, err))
	}
	r := &run{s: s, it: it, fn: fn, st: st.clone(), sent: cursor}
	// Files no longer listed are forgotten: the checkpoint holds only what is there.
	present := map[string]bool{}
	for _, f := range files {
		present[f.name] = true
	}
	for name := range r.st.Files {
		if !present[name] {
			delete(r.st.Files, name)
		}
	}
	if r.st.Current != nil && !present[r.st.Current.Name] {
		r.st.Current = nil
	}
	for _, f := range files {
		if err := r.file(ctx, f); err != nil {
			if errors.Is(err, retrieve.ErrStopPaging) {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return s.redact.Error(err)
		}
	}
	// A checkpoint that changed without a page (files gone, a touched file found
	// unchanged) is committed with an empty page.
	if c := r.st.encode(); c != r.sent {
		if err := r.emit(nil, nil, nil, c); err != nil && !errors.Is(err, retrieve.ErrStopPaging) {
			return s.redact.Error(err)
		}
	}
	return nil
}

// list finds the files of an interaction type, sorted by name.
func (s *Source) list(ctx context.Context, it *spec.InteractionType) ([]file, error) {
	var patterns []string
	for _, t := range it.Files.Paths {
		v, err := t.Render(ctx, map[string]any{"config": s.config})
		if err != nil {
			return nil, fmt.Errorf("render files.paths: %w", err)
		}
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				if p := strings.TrimSpace(expr.Text(e)); p != "" {
					patterns = append(patterns, p)
				}
			}
		default:
			if p := strings.TrimSpace(expr.Text(x)); p != "" {
				patterns = append(patterns, p)
			}
		}
	}
	seen := map[string]bool{}
	var out []file
	add := func(f file) {
		if !seen[f.name] {
			seen[f.name] = true
			out = append(out, f)
		}
	}
	for _, pat := range patterns {
		if s.base != nil {
			f, err := s.remoteFile(pat)
			if err != nil {
				return nil, err
			}
			add(f)
			continue
		}
		fs, err := s.localFiles(pat)
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			add(f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

func (s *Source) localFiles(pattern string) ([]file, error) {
	if info, err := os.Stat(s.dir); err != nil {
		return nil, &retrieve.ClassError{Class: spec.ClassPermanent, Err: fmt.Errorf("files.location: %w", err)}
	} else if !info.IsDir() {
		return nil, &retrieve.ClassError{Class: spec.ClassPermanent, Err: fmt.Errorf("files.location %s is not a directory", s.dir)}
	}
	if filepath.IsAbs(pattern) || !filepath.IsLocal(filepath.Clean(pattern)) {
		return nil, &retrieve.ClassError{Class: spec.ClassPermanent, Err: fmt.Errorf("files.paths %q must stay inside files.location (a relative glob such as contacts*.csv)", pattern)}
	}
	matches, err := filepath.Glob(filepath.Join(s.dir, pattern))
	if err != nil {
		return nil, &retrieve.ClassError{Class: spec.ClassPermanent, Err: fmt.Errorf("files.paths %q: %w", pattern, err)}
	}
	var out []file
	for _, m := range matches {
		info, err := os.Stat(m)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed while listing
			}
			return nil, err
		}
		if !info.Mode().IsRegular() {
			continue
		}
		rel, err := filepath.Rel(s.dir, m)
		if err != nil {
			return nil, err
		}
		out = append(out, file{name: filepath.ToSlash(rel), path: m, size: info.Size(), mtime: info.ModTime().UTC().Format(time.RFC3339Nano)})
	}
	return out, nil
}

func (s *Source) remoteFile(p string) (file, error) {
	if strings.ContainsAny(p, "*?[") {
		return file{}, &retrieve.ClassError{Class: spec.ClassPermanent, Err: fmt.Errorf("files.paths %q: globs need a local files.location; over http(s), list the file names", p)}
	}
	ref, err := url.Parse(p)
	if err != nil {
		return file{}, &retrieve.ClassError{Class: spec.ClassPermanent, Err: fmt.Errorf("files.paths %q is not a URL or file name: %w", s.redact.String(p), err)}
	}
	u := s.base.ResolveReference(ref)
	// The checkpoint key leaves the query out: a signed URL's signature is a secret and
	// changes with every link.
	key := *u
	key.RawQuery, key.Fragment, key.User = "", "", nil
	return file{name: key.String(), url: u.String()}, nil
}

// run is one Resume: its checkpoint as it advances.
type run struct {
	s    *Source
	it   *spec.InteractionType
	fn   func(source.Batch) error
	st   state
	sent string // the checkpoint last handed to fn (or stored)
	page int
}

func (r *run) emit(records []any, where []string, rejected []store.Quarantined, cursor string) error {
	r.page++
	if r.s.opts.Trace != nil {
		r.s.opts.Trace(retrieve.TraceEvent{Kind: "page", Type: r.it.Name, Page: r.page, Part: 1, Last: true, Records: len(records) + len(rejected)})
	}
	r.sent = cursor
	return r.fn(source.Batch{Page: retrieve.Page{Number: r.page, Part: 1, Last: true, Records: records}, Cursor: cursor, Where: where, Rejected: rejected})
}

// file reads one file unless its checkpoint says it is unchanged.
func (r *run) file(ctx context.Context, f file) error {
	prev, known := r.st.Files[f.name]
	var body io.ReadSeekCloser
	var sum string
	if f.url != "" {
		b, entry, unchanged, err := r.s.download(ctx, r.it, f, prev, known)
		if err != nil {
			return err
		}
		if unchanged {
			r.st.Files[f.name] = entry
			return nil
		}
		body, sum, f.size = b, entry.SHA256, entry.Size
		defer body.Close()
		if known && prev.Size == entry.Size && prev.SHA256 == entry.SHA256 {
			r.st.Files[f.name] = entry
			return nil
		}
		prev = entry
	} else {
		if known && prev.Size == f.size && prev.MTime == f.mtime {
			return nil // same size and time as when it was hashed
		}
		start := time.Now()
		fh, err := os.Open(f.path)
		if err != nil {
			return fmt.Errorf("open %s: %w", f.name, err)
		}
		defer fh.Close()
		h := sha256.New()
		n, err := io.Copy(h, fh)
		if err != nil {
			return fmt.Errorf("read %s: %w", f.name, err)
		}
		r.s.trace(retrieve.TraceEvent{Kind: "request", Method: "READ", Type: r.it.Name, URL: f.name, Duration: time.Since(start)})
		sum, f.size = hex.EncodeToString(h.Sum(nil)), n
		if known && prev.Size == n && prev.SHA256 == sum {
			prev.MTime = f.mtime // touched, not changed
			r.st.Files[f.name] = prev
			return nil
		}
		if _, err := fh.Seek(0, io.SeekStart); err != nil {
			return err
		}
		body = fh
		prev = fileEntry{Size: n, SHA256: sum, MTime: f.mtime}
	}
	var skip int64
	if c := r.st.Current; c != nil && c.Name == f.name && c.Size == f.size && c.SHA256 == sum {
		skip = c.Rows // an interrupted sync committed these already
	}
	return r.read(body, f, prev, skip)
}

// read parses one file and emits its rows in chunks, each with the checkpoint after it.
func (r *run) read(body io.Reader, f file, entry fileEntry, skip int64) error {
	fl := r.it.Files
	format, err := formatOf(fl, f.name)
	if err != nil {
		return &retrieve.ClassError{Class: spec.ClassPermanent, Err: err}
	}
	cur := &progress{Name: f.name, Size: entry.Size, SHA256: entry.SHA256, Rows: skip}
	var recs []any
	var where []string
	var rejected []store.Quarantined
	pending := 0
	flush := func() error {
		c := *cur
		r.st.Current = &c
		err := r.emit(recs, where, rejected, r.st.encode())
		recs, where, rejected, pending = nil, nil, nil, 0
		return err
	}
	rd, err := open(body, fl, f.name)
	if err == nil {
		err = parse(rd, f.name, format, fl, skip, func(rw row) error {
			// A full chunk goes once the next row shows the file goes on, so that the
			// last chunk is the one that marks the file processed.
			if pending >= fl.Chunk {
				if err := flush(); err != nil {
					return err
				}
			}
			if rw.reject != nil {
				rejected = append(rejected, *rw.reject)
			} else {
				recs = append(recs, rw.record)
				where = append(where, rw.where)
			}
			cur.Rows++
			pending++
			return nil
		})
	}
	var bad *badFile
	if errors.As(err, &bad) {
		// The file as a whole cannot be read: quarantine it and go on with the others.
		raw, _ := json.Marshal(map[string]any{"file": f.name, "size": entry.Size, "sha256": entry.SHA256})
		rejected = append(rejected, store.Quarantined{Reason: bad.msg, Raw: raw})
		err = nil
	}
	if err != nil {
		return err
	}
	// The last chunk carries the file into the checkpoint as processed.
	r.st.Current = nil
	r.st.Files[f.name] = entry
	err = r.emit(recs, where, rejected, r.st.encode())
	return err
}

func (s *Source) trace(ev retrieve.TraceEvent) {
	if s.opts.Trace != nil {
		s.opts.Trace(ev)
	}
}

// checkRedirect follows up to 10 redirects; the spec's headers (credentials) do not
// follow one to another host.
func (s *Source) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if req.URL.Host != via[0].URL.Host {
		for _, k := range s.conn.Headers.Keys {
			req.Header.Del(k)
		}
	}
	return nil
}

// download fetches a remote file into a temporary file, hashing it on the way. A 304
// to If-None-Match means unchanged.
func (s *Source) download(ctx context.Context, it *spec.InteractionType, f file, prev fileEntry, known bool) (io.ReadSeekCloser, fileEntry, bool, error) {
	wait := s.opts.RetryWait
	for attempt := 0; ; attempt++ {
		body, entry, unchanged, err := s.downloadOnce(ctx, it, f, prev, known)
		if err == nil || ctx.Err() != nil || attempt >= *s.conn.Retries || !retryDownload(err) {
			if ctx.Err() != nil {
				return nil, fileEntry{}, false, ctx.Err()
			}
			return body, entry, unchanged, err
		}
		if s.opts.Logger != nil {
			s.opts.Logger.Warn("retrying a download", "file", f.name, "attempt", attempt+1, "error", s.redact.String(err.Error()))
		}
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fileEntry{}, false, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 30*time.Second)
	}
}

func retryDownload(err error) bool {
	var he *retrieve.HTTPError
	if errors.As(err, &he) {
		return he.Status == http.StatusTooManyRequests || he.Status == http.StatusRequestTimeout || he.Status >= 500
	}
	var ce *retrieve.ClassError
	return !errors.As(err, &ce)
}

func (s *Source) downloadOnce(ctx context.Context, it *spec.InteractionType, f file, prev fileEntry, known bool) (io.ReadSeekCloser, fileEntry, bool, error) {
	start := time.Now()
	shown := s.redact.String(f.name)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url, nil)
	if err != nil {
		return nil, fileEntry{}, false, &retrieve.ClassError{Class: spec.ClassPermanent, Err: fmt.Errorf("GET %s: %w", shown, err)}
	}
	vars := map[string]any{"config": s.config, "credentials": s.creds, "now": s.opts.Now().UTC().Format(time.RFC3339)}
	for _, k := range s.conn.Headers.Keys {
		v, err := s.conn.Headers.Map[k].RenderString(ctx, vars)
		if err != nil {
			return nil, fileEntry{}, false, &retrieve.ClassError{Class: spec.ClassPermanent, Err: fmt.Errorf("render headers.%s: %w", k, err)}
		}
		if v == "" {
			continue // e.g. a token the integration does not have: no header
		}
		s.redact.Add(v)
		req.Header.Set(k, v)
	}
	req.Header.Set("User-Agent", "intake/1 (+https://github.com/intakehq/intake)")
	if known && prev.ETag != "" {
		req.Header.Set("If-None-Match", prev.ETag)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		s.trace(retrieve.TraceEvent{Kind: "request", Method: "GET", Type: it.Name, URL: shown, Err: s.redact.String(err.Error()), Duration: time.Since(start)})
		return nil, fileEntry{}, false, fmt.Errorf("GET %s: %w", shown, unwrapURLError(err))
	}
	defer resp.Body.Close()
	s.trace(retrieve.TraceEvent{Kind: "request", Method: "GET", Type: it.Name, URL: shown, Status: resp.StatusCode, Duration: time.Since(start)})
	if resp.StatusCode == http.StatusNotModified && known {
		return nil, prev, true, nil
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fileEntry{}, false, &retrieve.HTTPError{Method: "GET", URL: shown, Status: resp.StatusCode, Body: s.redact.String(strings.TrimSpace(string(snippet)))}
	}
	tmp, err := os.CreateTemp(s.opts.TempDir, "intake-file-*"+path.Ext(path.Base(req.URL.Path)))
	if err != nil {
		return nil, fileEntry{}, false, fmt.Errorf("download %s: %w", shown, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), resp.Body)
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fileEntry{}, false, fmt.Errorf("download %s: %w", shown, err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fileEntry{}, false, err
	}
	entry := fileEntry{Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), ETag: resp.Header.Get("ETag")}
	return &tempFile{File: tmp}, entry, false, nil
}

// tempFile is a download, removed when closed.
type tempFile struct{ *os.File }

func (t *tempFile) Close() error {
	err := t.File.Close()
	os.Remove(t.Name())
	return err
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
