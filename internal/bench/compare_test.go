package bench

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/intakehq/intake/internal/syncbuf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMedian(t *testing.T) {
	rps := func(r Result) float64 { return r.Seconds }
	tests := []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		var rs []Result
		for _, v := range tt.in {
			rs = append(rs, Result{Seconds: v})
		}
		assert.Equal(t, tt.want, median(rs, rps), "%v", tt.in)
	}
}

// Compare against the real binary: one line per build, in the order given, the
// second compared with the first.
func TestCompareSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds intake-bench and syncs 2,000 records four times")
	}
	bin := filepath.Join(t.TempDir(), "intake-bench")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/intake-bench").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout bytes.Buffer
	var log syncbuf.Buffer // the mock's stderr is copied into it from another goroutine
	err = Compare(ctx, CompareOptions{Exe: bin, Builds: []string{bin, bin}, Records: 2000, Page: 500, Runs: 2, Out: &stdout, Log: &log})
	require.NoError(t, err, "%s", log.String())
	line := `compare: build=` + regexp.QuoteMeta(bin) + ` page=500 records=2000 runs=2 median_rps=\d+ median_cpu_us=[\d.]+`
	assert.Regexp(t, `^`+line+`\n`+line+` rps_vs_first=[\d.]+ cpu_vs_first=[\d.]+\n$`, stdout.String())
	assert.Len(t, regexp.MustCompile(`(?m)^# run \d `).FindAllString(log.String(), -1), 4, "%s", log.String())
}
