package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// DriverOptions configures a whole benchmark.
type DriverOptions struct {
	Exe        string  // the intake-bench binary, run for the mock and for each measurement
	Records    int     // records the mock serves
	Pages      []int   // page sizes to measure
	Runs       int     // runs of each measurement; the best counts
	Changed    float64 // percent of records changed before the incremental sync
	ProfileDir string  // when set, engine runs write CPU and heap profiles there
	Keep       bool    // keep the temporary databases
	Out, Log   io.Writer
}

// Drive starts the mock, measures the engine and the floor at each page size, then an
// incremental sync, and prints the summary lines to Out (details go to Log).
func Drive(ctx context.Context, o DriverOptions) error {
	mockURL, stop, err := startMock(ctx, o.Exe, o.Records, o.Log)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(o.Log, "# machine: %s/%s, %d CPUs, %s; load average at start: %s\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), loadAvg())
	type best struct{ engine, floor Result }
	bests := map[int]*best{}
	var lastEngineDir string
	for run := 1; run <= o.Runs; run++ {
		for _, page := range o.Pages {
			b := bests[page]
			if b == nil {
				b = &best{}
				bests[page] = b
			}
			for _, kind := range []string{"floor", "engine"} {
				dir, err := os.MkdirTemp("", "intake-bench-")
				if err != nil {
					return err
				}
				args := []string{kind, "-url", mockURL, "-dir", dir, "-page", fmt.Sprint(page)}
				if kind == "engine" && o.ProfileDir != "" {
					args = append(args, "-cpuprofile", fmt.Sprintf("%s/cpu-page%d-run%d.pprof", o.ProfileDir, page, run),
						"-memprofile", fmt.Sprintf("%s/mem-page%d-run%d.pprof", o.ProfileDir, page, run))
				}
				r, err := child(ctx, o.Exe, args...)
				if err != nil {
					return fmt.Errorf("%s run %d page %d: %w", kind, run, page, err)
				}
				if r.Records != o.Records || (kind == "engine" && r.New != o.Records) {
					return fmt.Errorf("%s run %d page %d: read %d records (%d new), want %d", kind, run, page, r.Records, r.New, o.Records)
				}
				fmt.Fprintf(o.Log, "# run %d page=%d %s: %d records in %.2fs = %.0f records/s, cpu %.2fs (%.0f µs/record), peak RSS %.1f MB, load %s\n",
					run, page, kind, r.Records, r.Seconds, r.RPS(), r.CPUSeconds, r.CPUMicros(), float64(r.PeakRSSKB)/1024, loadAvg())
				cur := &b.floor
				if kind == "engine" {
					cur = &b.engine
				}
				rss := max(cur.PeakRSSKB, r.PeakRSSKB) // the worst peak of any run
				if r.RPS() > cur.RPS() {
					*cur = r
				}
				cur.PeakRSSKB = rss
				if kind == "engine" && page == o.Pages[len(o.Pages)-1] && run == o.Runs {
					lastEngineDir = dir
				} else if !o.Keep {
					os.RemoveAll(dir)
				}
			}
		}
	}
	for _, page := range o.Pages {
		b := bests[page]
		fmt.Fprintf(o.Out, "bench: page=%d records=%d engine_rps=%.0f floor_rps=%.0f ratio=%.2f peak_rss_mb=%.0f\n",
			page, o.Records, b.engine.RPS(), b.floor.RPS(), b.engine.RPS()/b.floor.RPS(), float64(b.engine.PeakRSSKB)/1024)
	}
	// Incremental: change some records, sync again from the last full sync's cursor.
	if !o.Keep {
		defer os.RemoveAll(lastEngineDir)
	}
	changed, err := mockPost(ctx, mockURL+"/_bench/mutate?percent="+fmt.Sprint(o.Changed))
	if err != nil {
		return err
	}
	if _, err := mockPost(ctx, mockURL+"/_bench/reset"); err != nil {
		return err
	}
	page := o.Pages[len(o.Pages)-1]
	r, err := child(ctx, o.Exe, "engine", "-url", mockURL, "-dir", lastEngineDir, "-page", fmt.Sprint(page))
	if err != nil {
		return fmt.Errorf("incremental sync: %w", err)
	}
	if r.Updated != changed {
		return fmt.Errorf("incremental sync: %d records updated, the mock changed %d", r.Updated, changed)
	}
	reqs, err := mockGet(ctx, mockURL+"/_bench/requests")
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Log, "# incremental: the mock changed %d records; the sync read %d (%d updated, %d unchanged) at page=%d\n", changed, r.Records, r.Updated, r.Unchanged, page)
	fmt.Fprintf(o.Out, "bench: incremental changed=%g%% requests=%d seconds=%.2f\n", o.Changed, reqs, r.Seconds)
	fmt.Fprintf(o.Log, "# load average at end: %s\n", loadAvg())
	return nil
}

// startMock runs the mock provider in a process of its own: its memory is not the
// engine's, and it serves from the other core while the engine works.
func startMock(ctx context.Context, exe string, records int, log io.Writer) (string, func(), error) {
	cmd := exec.CommandContext(ctx, exe, "mock", "-records", fmt.Sprint(records))
	cmd.Stderr = log
	stdin, err := cmd.StdinPipe() // the mock exits when this closes
	if err != nil {
		return "", nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("mock: %w", err)
	}
	return strings.TrimSpace(line), stop, nil
}

// child runs one measurement in its own process and reads its result.
func child(ctx context.Context, exe string, args ...string) (Result, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return Result{}, fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	var r Result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return Result{}, fmt.Errorf("result: %w (%q)", err, stdout.String())
	}
	r.PeakRSSKB = peakRSSKB(cmd.ProcessState)
	r.CPUSeconds = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	return r, nil
}

func mockPost(ctx context.Context, u string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return 0, err
	}
	return mockDo(req)
}

func mockGet(ctx context.Context, u string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	return mockDo(req)
}

// mockDo sends an admin request and returns the one number its answer holds, if any.
func mockDo(req *http.Request) (int, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(resp.Body)
		return 0, fmt.Errorf("mock %s: %s: %s", req.URL.Path, resp.Status, b)
	}
	var m map[string]int
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	for _, v := range m {
		return v, nil
	}
	return 0, nil
}

// loadAvg is the 1, 5 and 15 minute load averages, "?" where unknown.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
