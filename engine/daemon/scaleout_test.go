package daemon_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/daemon"
	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/store"
	"github.com/intakehq/intake/internal/mockapi"
	"github.com/intakehq/intake/internal/pgtest"
	"github.com/intakehq/intake/internal/syncbuf"
)

// Three daemons on one PostgreSQL database share 300 integration objects of four
// providers: two in this process (each with its own connection pool) and one real
// `intake run` process, killed with SIGKILL in the middle of a sync. Its leases
// expire, the others take its integrations over from their last committed cursors,
// and in the end every record is stored exactly once and no object ever had two
// runs at the same time.
func TestScaleOutOnPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	if testing.Short() {
		t.Skip("a minute of three daemons on PostgreSQL")
	}
	e := newEnv(t)
	const latency = 5 * time.Millisecond
	type provider struct {
		name         string
		integrations int
		types        int
		records      int // per integration
		url          string
	}
	crmA, crmB := newCRM(1, 5, 10), newCRM(2, 4, 8)
	itemsA := mockapi.New(mockapi.Options{Records: 20, PageSize: 5})
	itemsB := mockapi.New(mockapi.Options{Records: 15, PageSize: 5})
	providers := []*provider{
		{"crm-a", 40, 2, 15, serve(t, slow(crmA.Handler(), latency))},
		{"crm-b", 40, 2, 12, serve(t, slow(crmB.Handler(), latency))},
		{"items-a", 70, 1, 20, serve(t, slow(itemsA.Handler(), latency))},
		{"items-b", 70, 1, 15, serve(t, slow(itemsB.Handler(), latency))},
	}
	e.write("connectors/crm-a.yaml", crmSpec(t, "crm-a", "1h"))
	e.write("connectors/crm-b.yaml", crmSpec(t, "crm-b", "1h"))
	e.write("connectors/items-a.yaml", strings.Replace(itemsSpec("items-a", "1h"), "limit: 10", "limit: 5", 1))
	e.write("connectors/items-b.yaml", strings.Replace(itemsSpec("items-b", "1h"), "limit: 10", "limit: 5", 1))
	cfg := e.config(dsn, "")

	// The integrations, each of its own customer (the accounts and contacts they
	// resolve to belong to that customer).
	ctx := context.Background()
	db := openAgain(t, dsn)
	objects, records := 0, 0
	for _, p := range providers {
		for i := range p.integrations {
			id := fmt.Sprintf("%s-%02d", p.name, i)
			customer := "cust-" + id
			if strings.HasPrefix(p.name, "crm") {
				addCRM(t, db, e.box, id, customer, p.name, p.url)
			} else {
				addItems(t, db, e.box, id, customer, p.name, p.url)
			}
			objects += p.types
			records += p.records
		}
	}
	require.Equal(t, 300, objects)

	// The daemon that dies: a real process.
	bin := filepath.Join(t.TempDir(), "intake")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/intake")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	proc := exec.Command(bin, "run", "--config", e.configFile, "--log-level", "info")
	proc.Env = append(os.Environ(), secret.EnvKey+"="+base64.StdEncoding.EncodeToString(testKey), "INTAKE_DB=", "INTAKE_CONFIG=")
	stdout, err := proc.StdoutPipe()
	require.NoError(t, err)
	var procErr syncbuf.Buffer
	proc.Stderr = &procErr
	require.NoError(t, proc.Start())
	t.Cleanup(func() { _ = proc.Process.Kill(); _ = proc.Wait() })
	victim := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if owner, ok := strings.CutPrefix(sc.Text(), "intake daemon "); ok && strings.Contains(owner, ":") {
				victim <- owner[:strings.Index(owner, ":")]
			}
		}
	}()
	var victimID string
	select {
	case victimID = <-victim:
	case <-time.After(60 * time.Second):
		t.Fatalf("the intake run process did not start:\n%s", procErr.String())
	}

	// The two that live.
	_, stop1 := e.start(cfg, daemon.Options{Owner: "daemon-1"})
	_, stop2 := e.start(cfg, daemon.Options{Owner: "daemon-2"})

	// Kill the process once it has done some work and is in the middle of a sync
	// that has committed pages.
	countRuns := func(owner, status string) int {
		var n int
		require.NoError(t, db.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM sync_runs WHERE owner = $1 AND status = $2`, owner, status).Scan(&n))
		return n
	}
	eventually(t, 60*time.Second, "the process mid-run with committed pages", func() bool {
		var midRun int
		require.NoError(t, db.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM sync_runs WHERE owner = $1 AND status = 'running' AND pages > 0`, victimID).Scan(&midRun))
		return countRuns(victimID, store.RunSucceeded) >= 3 && midRun > 0
	})
	require.NoError(t, proc.Process.Signal(syscall.SIGKILL))
	_ = proc.Wait()
	killedAt := time.Now()

	// Generous: CI runs every package's tests at once, under the race detector.
	deadline := time.Now().Add(6 * time.Minute)
	for !syncedOnce(t, db, objects) {
		if time.Now().After(deadline) {
			t.Fatalf("not all 300 objects synced within 6 minutes of the kill:\n%s\nthe in-process daemons' warnings and errors:\n%s", unsynced(t, db), problems(e.logs.String()))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("all synced %s after the kill", time.Since(killedAt).Round(time.Millisecond))
	require.NoError(t, stop1())
	require.NoError(t, stop2())

	// Every record, exactly once.
	var stored, inserts, dupes, counted int
	require.NoError(t, db.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM interactions`).Scan(&stored))
	require.NoError(t, db.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM changes WHERE entity = 'interaction' AND op = 'insert'`).Scan(&inserts))
	require.NoError(t, db.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT integration_id, interaction_type, external_id FROM changes
		WHERE entity = 'interaction' AND op = 'insert' GROUP BY integration_id, interaction_type, external_id HAVING COUNT(*) > 1) d`).Scan(&dupes))
	require.NoError(t, db.DB().QueryRowContext(ctx, `SELECT COALESCE(SUM(records_new), 0) FROM sync_runs`).Scan(&counted))
	assert.Equal(t, records, stored, "records stored")
	assert.Equal(t, records, inserts, "records inserted (change feed)")
	assert.Zero(t, dupes, "records inserted twice")
	assert.Equal(t, records, counted, "records counted new by the runs")
	for _, p := range providers {
		for i := range p.integrations {
			id := fmt.Sprintf("%s-%02d", p.name, i)
			n, err := db.CountInteractions(ctx, id, "")
			require.NoError(t, err)
			require.Equal(t, p.records, n, id)
		}
	}

	// No object ever had two runs at once: each run ended before the next began.
	type run struct {
		id                int64
		object            int64
		started, finished string
		status, owner     string
		pages             int
		before            string
	}
	rows, err := db.DB().QueryContext(ctx, `SELECT id, integration_object_id, started_at, COALESCE(finished_at, ''), status, COALESCE(owner, ''), pages, COALESCE(cursor_before, '')
		FROM sync_runs ORDER BY integration_object_id, started_at, id`)
	require.NoError(t, err)
	byObject := map[int64][]run{}
	owners := map[string]int{}
	for rows.Next() {
		var r run
		require.NoError(t, rows.Scan(&r.id, &r.object, &r.started, &r.finished, &r.status, &r.owner, &r.pages, &r.before))
		byObject[r.object] = append(byObject[r.object], r)
		owners[r.owner]++
	}
	require.NoError(t, rows.Err())
	rows.Close()
	require.Len(t, byObject, objects)
	interrupted := 0
	for obj, runs := range byObject {
		sort.SliceStable(runs, func(i, j int) bool { return runs[i].started < runs[j].started })
		for i, r := range runs {
			require.NotEmpty(t, r.finished, "object %d: run %d (%s, %s) never ended", obj, r.id, r.owner, r.status)
			require.LessOrEqual(t, r.started, r.finished)
			if i+1 < len(runs) {
				next := runs[i+1]
				assert.LessOrEqual(t, r.finished, next.started, "object %d: run %d (%s) overlaps run %d (%s)", obj, r.id, r.owner, next.id, next.owner)
			}
			if r.status == store.RunInterrupted {
				interrupted++
				assert.Equal(t, victimID, r.owner, "only the killed daemon's runs were cut short")
				require.Less(t, i+1, len(runs), "an interrupted run is followed by one that finished the work")
				if r.pages > 0 && strings.HasPrefix(runs[i+1].owner, "daemon-") {
					assert.NotEmpty(t, runs[i+1].before, "object %d: the run after the kill resumed from the committed cursor", obj)
				}
			}
		}
	}
	assert.Positive(t, interrupted, "the process was killed in the middle of a run")
	t.Logf("runs by daemon: %v; interrupted by the kill: %d", owners, interrupted)
	for _, owner := range []string{victimID, "daemon-1", "daemon-2"} {
		assert.Positive(t, owners[owner], "%s did some of the work", owner)
	}

	// The survivors released their leases; the dead one's have expired.
	var live int
	require.NoError(t, db.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM integrations WHERE lease_owner IN ('daemon-1', 'daemon-2')`).Scan(&live))
	assert.Zero(t, live)
}

// unsynced describes the objects not synced yet, for a failure message.
func unsynced(t *testing.T, db *store.Store) string {
	rows, err := db.DB().Query(`SELECT o.integration_id, o.interaction_type, i.status, COALESCE(i.lease_owner, ''), COALESCE(i.lease_expires_at, ''),
			COALESCE(o.next_due_at, ''), o.consecutive_failures,
			COALESCE((SELECT r.status || ' ' || COALESCE(r.error, '') FROM sync_runs r WHERE r.integration_object_id = o.id ORDER BY r.id DESC LIMIT 1), 'no run')
		FROM integration_objects o JOIN integrations i ON i.id = o.integration_id WHERE o.last_synced_at IS NULL ORDER BY o.integration_id`)
	require.NoError(t, err)
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, typ, status, owner, until, due, last string
		var failures int
		require.NoError(t, rows.Scan(&id, &typ, &status, &owner, &until, &due, &failures, &last))
		fmt.Fprintf(&b, "%s/%s %s lease=%s until %s due=%s failures=%d last run: %s\n", id, typ, status, owner, until, due, failures, last)
	}
	var integrations int
	require.NoError(t, db.DB().QueryRow(`SELECT COUNT(*) FROM integrations i WHERE NOT EXISTS (SELECT 1 FROM integration_objects o WHERE o.integration_id = i.id)`).Scan(&integrations))
	fmt.Fprintf(&b, "%d integrations without objects; now %s\n", integrations, time.Now().UTC().Format(time.RFC3339Nano))
	return b.String()
}

// problems is the last warnings and errors of a log.
func problems(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
			out = append(out, l)
		}
	}
	return strings.Join(out[max(0, len(out)-30):], "\n")
}
