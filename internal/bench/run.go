// Package bench measures intake's throughput against a floor (docs/performance.md):
// a mock CRM serves N contacts of about 1 KB; the engine syncs them through the real
// pipeline (HTTP, streaming JSON decode, jq mapping, SQLite upserts, contact matching,
// the change feed), and the floor does the least work on the same data (HTTP, JSON
// decode, one plain INSERT per record, a transaction per page). cmd/intake-bench runs
// each in a process of its own, so that peak RSS is the engine's alone.
package bench

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"time"

	"github.com/intakehq/intake/engine/pipeline"
	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

//go:embed testdata/bench-crm.yaml
var specFS embed.FS

// Result is what one run did.
type Result struct {
	Kind    string  `json:"kind"` // "engine" or "floor"
	Page    int     `json:"page"`
	Records int     `json:"records"` // records read
	Seconds float64 `json:"seconds"` // from the first request to the last commit
	// The engine's run counts.
	New       int `json:"new,omitempty"`
	Updated   int `json:"updated,omitempty"`
	Unchanged int `json:"unchanged,omitempty"`
	// PeakRSSKB is the process's peak resident set, filled in by the driver.
	PeakRSSKB int64 `json:"peak_rss_kb,omitempty"`
	// CPUSeconds is the process's user and system time, filled in by the driver: on a
	// machine busy with other work it moves less than the wall clock does.
	CPUSeconds float64 `json:"cpu_seconds,omitempty"`
}

// RPS is records per second.
func (r Result) RPS() float64 {
	if r.Seconds <= 0 {
		return 0
	}
	return float64(r.Records) / r.Seconds
}

// CPUMicros is the CPU time a record took, in µs.
func (r Result) CPUMicros() float64 { return 1e6 * r.CPUSeconds / float64(max(1, r.Records)) }

// Options says what to sync, from where, into which directory.
type Options struct {
	URL  string // the mock's base URL
	Dir  string // the database's directory (reused: a second engine run is incremental)
	Page int    // records per request
}

const integrationID = "bench"

// Catalog is the connector catalog holding bench-crm.
func Catalog() (*spec.Catalog, error) {
	sub, err := fs.Sub(specFS, "testdata")
	if err != nil {
		return nil, err
	}
	cat := spec.LoadCatalog("", sub)
	if len(cat.Problems) > 0 {
		return nil, errors.Join(cat.Problems...)
	}
	return cat, nil
}

// RunEngine syncs the mock's contacts through the engine into Dir/intake.db: a full
// sync the first time, an incremental one after.
func RunEngine(ctx context.Context, o Options) (Result, error) {
	res := Result{Kind: "engine", Page: o.Page}
	cat, err := Catalog()
	if err != nil {
		return res, err
	}
	db, err := store.Open(ctx, filepath.Join(o.Dir, "intake.db"))
	if err != nil {
		return res, err
	}
	defer db.Close()
	box, err := secret.NewBox(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		return res, err
	}
	if _, err := db.Integration(ctx, integrationID); errors.Is(err, store.ErrNotFound) {
		in := store.Integration{ID: integrationID, CustomerID: "bench", Provider: "bench-crm", Config: map[string]any{"api_url": o.URL}}
		if err := db.CreateIntegration(ctx, in, map[string]any{"api_key": APIKey}, box); err != nil {
			return res, err
		}
	} else if err != nil {
		return res, err
	}
	// The page size, as a customer would set it.
	override := fmt.Sprintf("customer: bench\nprovider: bench-crm\ninteraction_types:\n  contacts:\n    pagination:\n      limit: %d\n", o.Page)
	if err := db.SetIntegrationOverride(ctx, integrationID, override); err != nil {
		return res, err
	}
	job, err := pipeline.LoadJob(ctx, db, cat, box, integrationID, retrieve.Options{PartSize: pipeline.DefaultPartSize})
	if err != nil {
		return res, err
	}
	start := time.Now()
	// As the daemon and the CLI commit.
	results, err := (&pipeline.Syncer{Store: db, CommitRecords: pipeline.DefaultCommitRecords}).Sync(ctx, job)
	res.Seconds = time.Since(start).Seconds()
	if err != nil {
		return res, err
	}
	for _, r := range results {
		if r.Err != nil {
			return res, r.Err
		}
		res.New += r.Run.RecordsNew
		res.Updated += r.Run.RecordsUpdated
		res.Unchanged += r.Run.RecordsUnchanged
		res.Records += r.Run.RecordsNew + r.Run.RecordsUpdated + r.Run.RecordsUnchanged + r.Run.RecordsQuarantined + r.Run.RecordsFiltered
		if r.Run.RecordsQuarantined > 0 {
			return res, fmt.Errorf("%d records quarantined: the bench connector and the mock disagree", r.Run.RecordsQuarantined)
		}
	}
	return res, nil
}

// RunFloor reads every record of the mock and stores it with the least work: one
// plain INSERT of its id and raw JSON per record into a table without indexes, a
// transaction per page, in Dir/floor.db opened with the engine's SQLite settings.
func RunFloor(ctx context.Context, o Options) (Result, error) {
	res := Result{Kind: "floor", Page: o.Page}
	db, err := sql.Open("sqlite", store.SQLiteDSN(filepath.Join(o.Dir, "floor.db")))
	if err != nil {
		return res, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS records (external_id TEXT NOT NULL, raw TEXT NOT NULL)`); err != nil {
		return res, err
	}
	client := &http.Client{}
	start := time.Now()
	cursor := ""
	for {
		q := url.Values{"limit": {strconv.Itoa(o.Page)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.URL+"/v1/contacts?"+q.Encode(), nil)
		if err != nil {
			return res, err
		}
		req.Header.Set("X-API-Key", APIKey)
		resp, err := client.Do(req)
		if err != nil {
			return res, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return res, err
		}
		if resp.StatusCode != http.StatusOK {
			return res, fmt.Errorf("floor: %s: %s", resp.Status, body)
		}
		next, n, err := floorPage(ctx, db, body)
		if err != nil {
			return res, err
		}
		res.Records += n
		if next == "" {
			break
		}
		cursor = next
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// floorPage decodes one response, each record into a value once (as the engine's
// streaming decoder does), and inserts each record's id and its bytes as the provider
// sent them, in one transaction.
func floorPage(ctx context.Context, db *sql.DB, body []byte) (next string, n int, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return "", 0, err
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO records (external_id, raw) VALUES (?, ?)`)
	if err != nil {
		return "", 0, err
	}
	defer ins.Close()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", 0, fmt.Errorf("floor: response is not an object (%v)", err)
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", 0, err
		}
		switch t {
		case "data":
			if t, err := dec.Token(); err != nil || t != json.Delim('[') {
				return "", 0, fmt.Errorf("floor: data is not a list (%v)", err)
			}
			for dec.More() {
				from := dec.InputOffset()
				var rec map[string]any
				if err := dec.Decode(&rec); err != nil {
					return "", 0, err
				}
				raw := bytes.TrimLeft(body[from:dec.InputOffset()], ", \t\r\n")
				id, _ := rec["id"].(string)
				if _, err := ins.ExecContext(ctx, id, string(raw)); err != nil {
					return "", 0, err
				}
				n++
			}
			if _, err := dec.Token(); err != nil { // ]
				return "", 0, err
			}
		case "next_cursor":
			var c *string
			if err := dec.Decode(&c); err != nil {
				return "", 0, err
			}
			if c != nil {
				next = *c
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return "", 0, err
			}
		}
	}
	return next, n, tx.Commit()
}
