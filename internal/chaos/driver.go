package chaos

import (
	"bufio"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/store"
	"github.com/intakehq/intake/internal/bench"
)

//go:embed chaos-crm.yaml
var connectorSpec string

// Provider and InteractionType are what the campaign syncs.
const (
	Provider        = "chaos-crm"
	InteractionType = "contacts"
)

// Lease timing of the campaign's daemons: a killed daemon's integrations are taken
// over this long after its last heartbeat (config.go allows 1s at least; 2s keeps a
// daemon starved of CPU on a busy machine from losing its lease every other page).
const (
	leaseDuration  = 2 * time.Second
	leaseHeartbeat = 500 * time.Millisecond
)

// tokenMinAge is the youngest token an expired_token fault revokes. The engine
// refreshes a rejected token once per request (its retries included) and calls a 401
// on the token it has just been given an auth failure, as it should: a real token does
// not expire seconds after it was issued. 10s is longer than a request's retries take
// after a refresh, so an injected expiry never looks like revoked credentials.
const tokenMinAge = 10 * time.Second

// tsLayout is how the store writes timestamps (fixed width, so they compare as text).
const tsLayout = "2006-01-02T15:04:05.000Z"

// Options configures a campaign.
type Options struct {
	Intake       string        // the intake binary
	Seed         uint64        // fixes the kill moments, the mutations and the faults
	Kills        int           // SIGKILLs before the final sync
	Records      int           // records the mock starts with
	Integrations int           // integrations syncing the mock, each its own customer
	Workers      int           // each daemon's workers
	Daemons      int           // daemons running at once on the one database (one is killed each round); 0: 1
	FaultRate    float64       // fraction of requests answered with a fault; 0: none
	PageSize     int           // records a page (the spec's pagination.limit); 0: 250
	Retries      int           // the connector's retries; negative: the engine's default (4)
	MaxDelay     time.Duration // a kill comes up to this long after the daemon starts syncing
	Timeout      time.Duration // how long the final sync may take
	LogLevel     string        // the daemons' log level (daemon.log in Dir); "" is info
	Store        string        // a PostgreSQL URL: the campaign runs in a fresh schema of its database; "": SQLite in Dir
	Dir          string        // work directory; "" makes a temporary one (removed unless Keep)
	Keep         bool
	Out, Log     io.Writer
}

// Result is a campaign's outcome.
type Result struct {
	Kills   int
	Faults  int64
	Report  Report
	Runs    map[string]int // sync runs by status, and failed ones by "failed/CLASS"
	Bad     []string       // what else went wrong: unclassified failures, disabled integrations, runs never ended
	Elapsed time.Duration
}

// OK reports whether nothing was lost, duplicated or mismatched and nothing else went wrong.
func (r *Result) OK() bool { return r.Report.OK() && len(r.Bad) == 0 }

// Summary is the line `make chaos` ends with.
func (r *Result) Summary(faults bool) string {
	f := ""
	if faults {
		f = fmt.Sprintf("faults=%d ", r.Faults)
	}
	return fmt.Sprintf("chaos: %skills=%d records=%d lost=%d duplicated=%d mismatched=%d", f, r.Kills, r.Report.Records, r.Report.Lost, r.Report.Duplicated, r.Report.Mismatched)
}

// classified are the failure classes of docs/operations.md that a fault may cause: the
// campaign's faults are all retryable, so a run that failed with another class (auth,
// permanent) or none at all is misclassified.
var classified = map[string]bool{"transient": true, "rate_limited": true, "bad_data": true}

// Run runs a campaign: the mock on a local port, then `intake run` started Kills times
// and each time killed with SIGKILL at a random moment, the mock's data changing
// between the rounds; then a final run until every integration has synced after the
// last change, a graceful stop, and the comparison of the store with the mock.
func Run(ctx context.Context, o Options) (*Result, error) {
	start := time.Now()
	if o.Integrations <= 0 {
		o.Integrations = 1
	}
	if o.Daemons <= 0 {
		o.Daemons = 1
	}
	if o.Workers <= 0 {
		o.Workers = o.Integrations
	}
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Minute
	}
	if o.PageSize <= 0 {
		o.PageSize = 250
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = 2 * time.Second
	}
	dir := o.Dir
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	} else {
		d, err := os.MkdirTemp("", "intake-chaos-")
		if err != nil {
			return nil, err
		}
		dir = d
		if !o.Keep {
			defer os.RemoveAll(dir)
		}
	}
	fmt.Fprintf(o.Log, "# chaos: seed=%d kills=%d records=%d integrations=%d daemons=%d fault_rate=%g page=%d retries=%d dir=%s\n", o.Seed, o.Kills, o.Records, o.Integrations, o.Daemons, o.FaultRate, o.PageSize, o.Retries, dir)

	// The provider: the mock, OAuth in front of it, faults in front of that.
	mock := bench.NewMock(o.Records)
	front := NewOAuth(mock, "X-API-Key", bench.APIKey, tokenMinAge)
	injOpts := InjectorOptions{Seed: o.Seed, Rate: o.FaultRate, Expire: front.Expire}
	if o.Keep || o.Dir != "" {
		f, err := os.Create(filepath.Join(dir, "requests.log"))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		w := bufio.NewWriter(f)
		defer w.Flush()
		injOpts.Log = w
	}
	inj := NewInjector(front, injOpts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: inj, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	mockURL := "http://" + ln.Addr().String()

	// The daemon's world: intake.yaml, the connector, a secret key (in the environment
	// of the daemon only), the integrations.
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, err
	}
	box, err := secret.NewBox(key[:])
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"connectors", "customers"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "connectors", Provider+".yaml"), []byte(specFor(o.PageSize, o.Retries)), 0o644); err != nil {
		return nil, err
	}
	configFile := filepath.Join(dir, "intake.yaml")
	dsn := filepath.Join(dir, "intake.db")
	if o.Store != "" {
		url, schema, drop, err := pgSchema(ctx, o.Store)
		if err != nil {
			return nil, err
		}
		if !o.Keep {
			defer drop()
		}
		dsn = url
		fmt.Fprintf(o.Log, "# store: PostgreSQL schema %s\n", schema)
	}
	if err := os.WriteFile(configFile, []byte(intakeYAML(dsn, o.Workers, o.LogLevel)), 0o600); err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	ids := make([]string, o.Integrations)
	for i := range ids {
		ids[i] = fmt.Sprintf("chaos-%02d", i)
		err := db.CreateIntegration(ctx, store.Integration{ID: ids[i], CustomerID: fmt.Sprintf("cust-%02d", i), Provider: Provider,
			Config: map[string]any{"api_url": mockURL}}, map[string]any{"client_id": ClientID, "client_secret": ClientSecret}, box)
		if err != nil {
			return nil, err
		}
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "daemon.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	d := &daemons{exe: o.Intake, config: configFile, env: append(os.Environ(), secret.EnvKey+"="+base64.StdEncoding.EncodeToString(key[:]), "INTAKE_DB=", "INTAKE_CONFIG="), log: logFile}

	// The rounds. Every random number a round needs is drawn up front, whatever the
	// round then does with it, so the seed fixes the same schedule on every machine.
	rng := mrand.New(mrand.NewPCG(o.Seed, 0x6b696c6c))
	res := &Result{Runs: map[string]int{}}
	mutate := func() string {
		up := mock.Mutate(1)
		added := mock.Add(max(1, o.Records/200))
		deleted := mock.Delete(max(1, o.Records/500))
		return fmt.Sprintf("%d updated, %d added, %d deleted", up, added, deleted)
	}
	// The daemons: Daemons of them at once on the one database, each round killing one.
	pool := make([]*process, o.Daemons)
	defer func() {
		for _, p := range pool {
			if p != nil {
				p.kill()
			}
		}
	}()
	crashed := func(when string) {
		for i, p := range pool {
			if p == nil {
				continue
			}
			if err := p.alive(); err != nil {
				// Only the driver ends a daemon: one that exits by itself crashed.
				res.Bad = append(res.Bad, fmt.Sprintf("%s: daemon %s %v (see %s)", when, p.owner, err, logFile.Name()))
				pool[i] = nil
			}
		}
	}
	// fill starts a daemon in every empty slot and returns the last one it started.
	fill := func() (int, error) {
		last := -1
		for i := range pool {
			if pool[i] != nil {
				continue
			}
			p, err := d.start(ctx)
			if err != nil {
				return -1, err
			}
			pool[i], last = p, i
		}
		return last, nil
	}
	for k := 1; k <= o.Kills; k++ {
		early := rng.Float64() < 0.15
		delay := time.Duration(rng.Int64N(int64(o.MaxDelay)))
		if early {
			delay = time.Duration(rng.Int64N(int64(500 * time.Millisecond)))
		}
		victim := rng.IntN(o.Daemons)
		changed := ""
		if k > 1 {
			changed = "; the mock: " + mutate()
		}
		roundStart := time.Now().UTC()
		crashed(fmt.Sprintf("round %d", k))
		started, err := fill()
		if err != nil {
			return nil, fmt.Errorf("round %d: %w", k, err)
		}
		phase := "at start"
		if early && started >= 0 {
			victim = started // the daemon that is starting now
		} else {
			// Wait for the victim to be in a sync (after a dead daemon's leases expire),
			// then kill it somewhere in the syncs that follow. With other daemons about,
			// it may have nothing to do: then it dies idle.
			p := pool[victim]
			err := waitFor(ctx, leaseDuration+10*time.Second, func() (bool, error) {
				if err := p.alive(); err != nil {
					return false, err
				}
				var n int
				err := db.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM sync_runs WHERE owner = ? AND started_at >= ?`, p.owner, roundStart.Format(tsLayout)).Scan(&n)
				return n > 0, err
			})
			switch {
			case err == nil:
				phase = "after it began a sync"
			case o.Daemons > 1 && p.alive() == nil:
				phase = "idle"
			default:
				return nil, fmt.Errorf("round %d: the daemon never started a sync: %w (see %s)", k, err, logFile.Name())
			}
		}
		if err := sleep(ctx, delay); err != nil {
			return nil, err
		}
		p := pool[victim]
		var running, pages int
		_ = db.DB().QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(pages), 0) FROM sync_runs WHERE owner = ? AND status = 'running'`, p.owner).Scan(&running, &pages)
		crashed(fmt.Sprintf("round %d", k))
		if pool[victim] == nil {
			continue // it crashed by itself: reported; not a kill
		}
		p.kill()
		pool[victim] = nil
		res.Kills++
		fmt.Fprintf(o.Log, "# kill %d: %s after %s, %s; runs in flight: %d (%d pages committed)%s\n", k, p.owner, delay.Round(time.Millisecond), phase, running, pages, changed)
	}

	// The final sync: the mock changes once more, then stays put; the daemons run until
	// every integration has a successful run that began after that, then stop.
	fmt.Fprintf(o.Log, "# final sync; the mock: %s\n", mutate())
	quiet := time.Now().UTC()
	crashed("before the final sync")
	if _, err := fill(); err != nil {
		return nil, fmt.Errorf("final sync: %w", err)
	}
	err = waitFor(ctx, o.Timeout, func() (bool, error) {
		for _, p := range pool {
			if err := p.alive(); err != nil {
				return false, err
			}
		}
		var n int
		err := db.DB().QueryRowContext(ctx, `SELECT COUNT(DISTINCT o.integration_id) FROM sync_runs r JOIN integration_objects o ON o.id = r.integration_object_id
			WHERE r.status = 'succeeded' AND r.started_at > ? AND o.interaction_type = ?`, quiet.Format(tsLayout), InteractionType).Scan(&n)
		return n == len(ids), err
	})
	if err != nil {
		res.Bad = append(res.Bad, fmt.Sprintf("the final sync did not complete within %s: %v", o.Timeout, err))
	}
	for i, p := range pool {
		if err := p.stop(30 * time.Second); err != nil {
			res.Bad = append(res.Bad, fmt.Sprintf("graceful stop of %s: %v", p.owner, err))
		}
		pool[i] = nil
	}
	res.Faults = inj.Total()
	if o.FaultRate > 0 {
		fmt.Fprintf(o.Log, "# faults served: %s; tokens issued: %d\n", inj.Summary(), front.Issued())
	}

	// The comparison, and how the runs ended.
	truth := mock.Snapshot()
	for _, id := range ids {
		rep, err := Compare(ctx, db.DB(), id, InteractionType, truth)
		if err != nil {
			return nil, err
		}
		res.Report.Add(rep)
	}
	bad, err := checkRuns(ctx, db, res.Runs)
	if err != nil {
		return nil, err
	}
	res.Bad = append(res.Bad, bad...)
	res.Elapsed = time.Since(start)
	var keys []string
	for k := range res.Runs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var runs []string
	for _, k := range keys {
		runs = append(runs, fmt.Sprintf("%s=%d", k, res.Runs[k]))
	}
	// The longest run says whether something stalled a sync (a refresh lock a killed
	// daemon left held it for 45s until store.Claim cleared such locks).
	longest, err := longestRun(ctx, db)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Log, "# sync runs: %s; the longest took %.1fs\n", strings.Join(runs, " "), longest.Seconds())
	for _, pr := range res.Report.Problems {
		fmt.Fprintf(o.Log, "# problem: %s\n", pr)
	}
	for _, b := range res.Bad {
		fmt.Fprintf(o.Log, "# problem: %s\n", b)
	}
	fmt.Fprintf(o.Log, "# %d records x %d integrations in %.1fs\n", len(truth), len(ids), res.Elapsed.Seconds())
	return res, nil
}

// longestRun is the duration of the longest finished sync run.
func longestRun(ctx context.Context, db *store.Store) (time.Duration, error) {
	rows, err := db.DB().QueryContext(ctx, `SELECT started_at, finished_at FROM sync_runs WHERE finished_at IS NOT NULL`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var longest time.Duration
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			return 0, err
		}
		ta, err1 := time.Parse(time.RFC3339, a)
		tb, err2 := time.Parse(time.RFC3339, b)
		if err1 == nil && err2 == nil {
			longest = max(longest, tb.Sub(ta))
		}
	}
	return longest, rows.Err()
}

// checkRuns counts sync runs by outcome and reports failures no fault explains, runs
// never ended after the graceful stop, and integrations the failures disabled.
func checkRuns(ctx context.Context, db *store.Store, counts map[string]int) ([]string, error) {
	var bad []string
	rows, err := db.DB().QueryContext(ctx, `SELECT status, COALESCE(error_class, ''), COUNT(*) FROM sync_runs GROUP BY status, COALESCE(error_class, '')`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var status, class string
		var n int
		if err := rows.Scan(&status, &class, &n); err != nil {
			rows.Close()
			return nil, err
		}
		counts[status] += n
		switch status {
		case store.RunFailed:
			counts["failed/"+class] += n
			if !classified[class] {
				bad = append(bad, fmt.Sprintf("%d runs failed with class %q, which no injected fault explains", n, class))
			}
		case store.RunRunning:
			bad = append(bad, fmt.Sprintf("%d runs still running after the daemon stopped", n))
		}
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if len(bad) > 0 {
		// The errors themselves, for the report (redacted by the engine before storing).
		rows, err := db.DB().QueryContext(ctx, `SELECT COALESCE(error_class, ''), COALESCE(error, '') FROM sync_runs WHERE status = 'failed' AND COALESCE(error_class, '') NOT IN ('transient', 'rate_limited', 'bad_data') LIMIT 5`)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var class, msg string
			if err := rows.Scan(&class, &msg); err != nil {
				rows.Close()
				return nil, err
			}
			bad = append(bad, fmt.Sprintf("  e.g. %s: %s", class, msg))
		}
		rows.Close()
	}
	// One object, one sync at a time (the lease): no two runs of an object overlap. An
	// interrupted run's end is when the next run found it (the process died earlier),
	// so it cannot overlap the run that ended it; a run a second worker cut short while
	// it still ran is not marked interrupted in the end (its own finish overwrites it).
	var overlaps int
	if err := db.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM sync_runs a JOIN sync_runs b
		ON a.integration_object_id = b.integration_object_id AND a.id < b.id
		WHERE a.status <> 'interrupted' AND b.started_at < COALESCE(a.finished_at, '9999')`).Scan(&overlaps); err != nil {
		return nil, err
	}
	if overlaps > 0 {
		bad = append(bad, fmt.Sprintf("%d pairs of runs of one object overlapped: two workers synced it at once", overlaps))
	}
	var disabled int
	if err := db.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM integrations WHERE status <> 'enabled'`).Scan(&disabled); err != nil {
		return nil, err
	}
	if disabled > 0 {
		bad = append(bad, fmt.Sprintf("%d integrations disabled", disabled))
	}
	return bad, nil
}

// specFor is the connector with its page size and retries set. Fewer retries than the
// default let runs of the fault campaign fail (a fault on every try of one request),
// so that failed runs, their classes and the resumption after them are exercised too.
func specFor(page, retries int) string {
	s := connectorSpec
	if page > 0 {
		s = strings.Replace(s, "      limit: 250\n", fmt.Sprintf("      limit: %d\n", page), 1)
	}
	if retries >= 0 {
		s = strings.Replace(s, "sync_every: 1s\n", fmt.Sprintf("sync_every: 1s\nretries: %d\n", retries), 1)
	}
	return s
}

// intakeYAML is the daemons' configuration: short leases and retries so a killed
// daemon's work resumes within seconds, no admin API (the driver reads the database),
// failures never disabling an integration (the campaign wants to see every sync
// through; it checks their classes instead).
func intakeYAML(dsn string, workers int, level string) string {
	if level == "" {
		level = "info"
	}
	return fmt.Sprintf(`store: %q
connectors: connectors
customers: customers
workers: %d
lease:
  duration: %s
  heartbeat: %s
schedule:
  jitter: 0
  retry_min: 1s
  retry_max: 2s
admin:
  listen: ""
alerts:
  disable_after: 0
shutdown_grace: 20s
log:
  level: %s
`, dsn, workers, leaseDuration, leaseHeartbeat, level)
}

// daemons starts `intake run` processes.
type daemons struct {
	exe, config string
	env         []string
	log         io.Writer
}

type process struct {
	cmd    *exec.Cmd
	owner  string
	exited chan struct{} // closed when the process is gone; err is then its exit
	err    error
}

// alive reports an error once the process has exited.
func (p *process) alive() error {
	select {
	case <-p.exited:
		return fmt.Errorf("intake run exited: %v", p.err)
	default:
		return nil
	}
}

// start runs `intake run` and waits for it to say who it is.
func (d *daemons) start(ctx context.Context) (*process, error) {
	cmd := exec.Command(d.exe, "run", "--config", d.config)
	cmd.Env = d.env
	cmd.Stderr = d.log
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	owner := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "intake daemon "); ok {
				if i := strings.Index(rest, ":"); i > 0 {
					select {
					case owner <- rest[:i]:
					default:
					}
				}
			}
		}
		p.err = cmd.Wait()
		close(p.exited)
	}()
	select {
	case p.owner = <-owner:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("intake run exited at start: %v", p.err)
	case <-time.After(30 * time.Second):
		p.kill()
		return nil, errors.New("intake run did not start within 30s")
	case <-ctx.Done():
		p.kill()
		return nil, ctx.Err()
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *process) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// stop sends SIGTERM and waits for a clean exit.
func (p *process) stop(timeout time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return p.err
	case <-time.After(timeout):
		p.kill()
		return fmt.Errorf("intake run did not stop within %s of SIGTERM", timeout)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitFor polls cond every 25ms until it holds.
func waitFor(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", timeout)
		}
		if err := sleep(ctx, 25*time.Millisecond); err != nil {
			return err
		}
	}
}
