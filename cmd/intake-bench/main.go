// Command intake-bench measures intake's throughput against a floor: `make bench`
// (docs/performance.md). Without a subcommand it drives the whole benchmark, running
// itself as the mock provider and once per measurement, so that each process's peak
// RSS is its own.
//
//	intake-bench [-records N] [-pages 100,1000] [-runs 3] [-changed 1] [-profile DIR]
//	intake-bench mock -records N                       (prints its URL, serves until stdin closes)
//	intake-bench engine|floor -url URL -dir DIR -page P (prints a JSON result)
//	intake-bench compare [-records N] [-page P] [-runs K] BUILD...  (A/B of builds' engines)
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/intakehq/intake/internal/bench"
)

func main() {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	var err error
	switch cmd := first(os.Args); cmd {
	case "mock":
		err = mock(os.Args[2:])
	case "engine", "floor":
		err = measure(ctx, cmd, os.Args[2:])
	case "compare":
		err = compare(ctx, os.Args[2:])
	default:
		err = drive(ctx, os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "intake-bench:", err)
		os.Exit(1)
	}
}

func first(args []string) string {
	if len(args) > 1 {
		return args[1]
	}
	return ""
}

func drive(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("intake-bench", flag.ContinueOnError)
	records := fs.Int("records", 200000, "records the mock serves")
	pages := fs.String("pages", "100,1000", "page sizes to measure, comma-separated")
	runs := fs.Int("runs", 3, "runs of each measurement; the best counts")
	changed := fs.Float64("changed", 1, "percent of records changed before the incremental sync")
	profile := fs.String("profile", "", "directory for the engine runs' CPU and heap profiles")
	keep := fs.Bool("keep", false, "keep the temporary databases")
	if err := fs.Parse(args); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	o := bench.DriverOptions{Exe: exe, Records: *records, Runs: max(1, *runs), Changed: *changed, ProfileDir: *profile, Keep: *keep, Out: os.Stdout, Log: os.Stderr}
	for _, p := range strings.Split(*pages, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 || n > 1000 {
			return fmt.Errorf("-pages: %q is not a page size from 1 to 1000", p)
		}
		o.Pages = append(o.Pages, n)
	}
	if *profile != "" {
		if err := os.MkdirAll(*profile, 0o755); err != nil {
			return err
		}
	}
	return bench.Drive(ctx, o)
}

// compare runs the engines of several intake-bench builds in turns against one mock.
func compare(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	records := fs.Int("records", 50000, "records the mock serves")
	page := fs.Int("page", 1000, "records per request")
	runs := fs.Int("runs", 5, "runs of each build, taken in turns")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("compare: name the intake-bench builds to compare")
	}
	if *page < 1 || *page > 1000 {
		return fmt.Errorf("compare: -page %d is not from 1 to 1000", *page)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return bench.Compare(ctx, bench.CompareOptions{Exe: exe, Builds: fs.Args(), Records: *records, Page: *page, Runs: max(1, *runs), Out: os.Stdout, Log: os.Stderr})
}

// mock serves the mock provider on a free local port, printing its URL, until stdin
// closes (the driver ends or dies).
func mock(args []string) error {
	fs := flag.NewFlagSet("mock", flag.ContinueOnError)
	records := fs.Int("records", 200000, "records to serve")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	m := bench.NewMock(*records)
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	fmt.Println("http://" + ln.Addr().String())
	return http.Serve(ln, m.Admin())
}

// measure runs one engine or floor sync and prints its result as JSON.
func measure(ctx context.Context, kind string, args []string) error {
	fs := flag.NewFlagSet(kind, flag.ContinueOnError)
	o := bench.Options{}
	fs.StringVar(&o.URL, "url", "", "the mock's URL")
	fs.StringVar(&o.Dir, "dir", "", "directory of the database")
	fs.IntVar(&o.Page, "page", 1000, "records per request")
	cpu := fs.String("cpuprofile", "", "write a CPU profile here")
	mem := fs.String("memprofile", "", "write an allocation profile here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.URL == "" || o.Dir == "" {
		return fmt.Errorf("%s: -url and -dir are required", kind)
	}
	if *cpu != "" {
		f, err := os.Create(*cpu)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	run := bench.RunEngine
	if kind == "floor" {
		run = bench.RunFloor
	}
	r, err := run(ctx, o)
	if err != nil {
		return err
	}
	if *mem != "" {
		f, err := os.Create(*mem)
		if err != nil {
			return err
		}
		defer f.Close()
		runtime.GC()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return err
		}
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}
