package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildBinary compiles the real intake binary once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "intake")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func testEnv(t *testing.T) []string {
	dir := t.TempDir()
	return append(os.Environ(),
		"INTAKE_DB="+filepath.Join(dir, "intake.db"),
		"INTAKE_SECRET_KEY="+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{4}, 32)),
		"INTAKE_CONNECTORS="+filepath.Join(dir, "connectors"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
	)
}

// TestBinary drives the built binary as a user would: exit codes, and Ctrl-C during
// the demo ending it cleanly with its epilogue.
func TestBinary(t *testing.T) {
	bin := buildBinary(t)

	t.Run("validate exit codes", func(t *testing.T) {
		if out, err := exec.Command(bin, "validate", "../../connectors/demo-crm.yaml").CombinedOutput(); err != nil {
			t.Fatalf("validate good spec: %v\n%s", err, out)
		}
		bad := filepath.Join(t.TempDir(), "bad.yaml")
		if err := os.WriteFile(bad, []byte("provider: x\nbase_url: http://x\ninteraction_types:\n  t:\n    kind: ticket\n    request: {path: /t}\n    recrods: .t[]\n    id: .id\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "validate", bad).CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 {
			t.Fatalf("validate bad spec: want exit 1, got %v\n%s", err, out)
		}
		if !strings.Contains(string(out), bad+`:7:5: interaction_types.t.recrods: unknown key "recrods" (did you mean "records"?)`) {
			t.Errorf("output does not name file, line and key:\n%s", out)
		}
	})

	t.Run("unknown command", func(t *testing.T) {
		out, err := exec.Command(bin, "snyc").CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("want exit 1, got %v", err)
		}
		if !strings.Contains(string(out), `Did you mean this?`) || !strings.Contains(string(out), "sync") {
			t.Errorf("no suggestion:\n%s", out)
		}
	})

	t.Run("demo stops cleanly on SIGINT", func(t *testing.T) {
		cmd := exec.Command(bin, "demo", "--addr", "127.0.0.1:0", "--interval", "1h")
		cmd.Env = testEnv(t)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 100)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		var seen []string
		deadline := time.After(60 * time.Second)
	wait:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("demo exited early:\n%s\n%s", strings.Join(seen, "\n"), stderr.String())
				}
				seen = append(seen, l)
				if strings.HasPrefix(l, "syncing every 1h0m0s") {
					break wait
				}
			case <-deadline:
				_ = cmd.Process.Kill()
				t.Fatalf("no first round within 60s:\n%s", strings.Join(seen, "\n"))
			}
		}
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("demo exit after SIGINT: %v\n%s", err, stderr.String())
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatal("demo did not stop within 10s of SIGINT")
		}
		for l := range lines {
			seen = append(seen, l)
		}
		all := strings.Join(seen, "\n")
		for _, want := range []string{"round 1: first sync", "120 records: 120 new", "360 records: 360 new", "the data is in", "interactions list"} {
			if !strings.Contains(all, want) {
				t.Errorf("output lacks %q:\n%s", want, all)
			}
		}
	})
}
