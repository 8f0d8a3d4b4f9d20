package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
)

// CompareOptions configures a comparison of intake-bench builds.
type CompareOptions struct {
	Exe     string   // this binary: it runs the mock
	Builds  []string // intake-bench binaries to compare; each runs the engine
	Records int
	Page    int
	Runs    int // runs of each build
	Out     io.Writer
	Log     io.Writer
}

// Compare measures the engine of several builds against one mock, taking turns (A B A
// B ...), and prints each build's median. On a shared VM a run's throughput drifts by
// about a tenth within the hour, more than most single changes are worth: runs taken
// in turns meet the same drift, and their medians compare where two `make bench`
// runs would not.
func Compare(ctx context.Context, o CompareOptions) error {
	if len(o.Builds) == 0 {
		return fmt.Errorf("compare: no builds")
	}
	mockURL, stop, err := startMock(ctx, o.Exe, o.Records, o.Log)
	if err != nil {
		return err
	}
	defer stop()
	results := make([][]Result, len(o.Builds))
	for run := 1; run <= o.Runs; run++ {
		for i, exe := range o.Builds {
			dir, err := os.MkdirTemp("", "intake-bench-")
			if err != nil {
				return err
			}
			r, err := child(ctx, exe, "engine", "-url", mockURL, "-dir", dir, "-page", fmt.Sprint(o.Page))
			os.RemoveAll(dir)
			if err != nil {
				return fmt.Errorf("%s run %d: %w", exe, run, err)
			}
			if r.Records != o.Records || r.New != o.Records {
				return fmt.Errorf("%s run %d: read %d records (%d new), want %d", exe, run, r.Records, r.New, o.Records)
			}
			fmt.Fprintf(o.Log, "# run %d %s: %.2fs = %.0f records/s, cpu %.0f µs/record, peak RSS %.1f MB\n",
				run, exe, r.Seconds, r.RPS(), r.CPUMicros(), float64(r.PeakRSSKB)/1024)
			results[i] = append(results[i], r)
		}
	}
	var baseRPS, baseCPU float64
	for i, exe := range o.Builds {
		rps := median(results[i], Result.RPS)
		cpu := median(results[i], Result.CPUMicros)
		line := fmt.Sprintf("compare: build=%s page=%d records=%d runs=%d median_rps=%.0f median_cpu_us=%.1f", exe, o.Page, o.Records, len(results[i]), rps, cpu)
		if i == 0 {
			baseRPS, baseCPU = rps, cpu
		} else {
			line += fmt.Sprintf(" rps_vs_first=%.3f cpu_vs_first=%.3f", rps/baseRPS, cpu/baseCPU)
		}
		fmt.Fprintln(o.Out, line)
	}
	return nil
}

// median of f over rs; rs is not empty.
func median(rs []Result, f func(Result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}
