package chaos

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A short campaign against the real binary: two SIGKILLs and faults on a fifth of the
// requests, then nothing lost, duplicated or mismatched, and every failed run
// classified. `make chaos` runs the long one (docs/chaos.md).
func TestCampaignSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds intake and runs it for about ten seconds")
	}
	bin := filepath.Join(t.TempDir(), "intake")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/intake").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	var log bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Run(ctx, Options{Intake: bin, Seed: 3, Kills: 2, Records: 1500, Integrations: 1, FaultRate: 0.2, PageSize: 50,
		Retries: 1, MaxDelay: 500 * time.Millisecond, Timeout: time.Minute, Dir: t.TempDir(), Log: &log})
	require.NoError(t, err, "%s", log.String())
	t.Logf("%s\n%s", log.String(), res.Summary(true))
	assert.Equal(t, 2, res.Kills)
	assert.Positive(t, res.Faults, "faults were served")
	assert.Greater(t, res.Report.Records, 1500, "the mock grew between rounds")
	assert.True(t, res.OK(), "%s\n%v", res.Summary(true), res.Bad)
	assert.Positive(t, res.Runs["succeeded"])
}
