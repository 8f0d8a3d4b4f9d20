package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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

	t.Run("demo runs the daemon and stops cleanly on SIGINT", func(t *testing.T) {
		cmd := exec.Command(bin, "demo", "--addr", "127.0.0.1:0", "--listen", "127.0.0.1:0", "--interval", "1h")
		cmd.Env = testEnv(t)
		p := startProcess(t, cmd)
		p.waitFor(t, 60*time.Second, "360 records: 360 new")
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		p.exit(t, 10*time.Second)
		all := p.output()
		for _, want := range []string{"admin API listening on http://127.0.0.1:", "daemon syncing demo-crm every 10s", "120 records: 120 new", "360 records: 360 new", "the data is in", "interactions list"} {
			if !strings.Contains(all, want) {
				t.Errorf("output lacks %q:\n%s", want, all)
			}
		}
	})

	t.Run("run reloads on SIGHUP and stops on SIGTERM", func(t *testing.T) {
		dir := t.TempDir()
		conf := filepath.Join(dir, "intake.yaml")
		write := func(path, text string) {
			t.Helper()
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write(conf, "store: intake.db\nconnectors: specs\nadmin:\n  listen: 127.0.0.1:0\n  token: binary-test-token-0123456789\nshutdown_grace: 5s\n")
		cmd := exec.Command(bin, "run", "--config", conf, "--workers", "2")
		cmd.Env = testEnv(t)
		p := startProcess(t, cmd)
		line := p.waitFor(t, 30*time.Second, "admin API listening on http://")
		addr := strings.TrimPrefix(line, "admin API listening on ")
		if line := p.waitFor(t, 10*time.Second, "intake daemon "); !strings.Contains(line, "2 workers") {
			t.Errorf("--workers does not override the file: %s", line)
		}
		get := func(path string) int {
			req, _ := http.NewRequest("GET", addr+path, nil)
			req.Header.Set("Authorization", "Bearer binary-test-token-0123456789")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		for deadline := time.Now().Add(10 * time.Second); get("/readyz") != 200; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("not ready within 10s:\n%s", p.output())
			}
		}

		bad := filepath.Join(dir, "specs", "broken.yaml")
		write(bad, "provider: broken\nbase_url: https://x.example\ninteraction_types:\n  t:\n    kind: ticket\n    request: {path: /t}\n    recrods: .t[]\n    id: .id\n")
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		p.waitForErr(t, 10*time.Second, bad+`:7:5: interaction_types.t.recrods: unknown key`)
		if code := get("/readyz"); code != 200 {
			t.Errorf("readyz after a refused reload: %d", code)
		}
		write(bad, "provider: broken\nbase_url: https://x.example\ninteraction_types:\n  t:\n    kind: ticket\n    request: {path: /t}\n    records: .t[]\n    id: .id\n")
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		p.waitForErr(t, 10*time.Second, "msg=reloaded")

		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		p.exit(t, 10*time.Second)
		if !strings.Contains(p.output(), "intake daemon stopped") {
			t.Errorf("no goodbye:\n%s", p.output())
		}
	})
}

// process is a running intake binary whose output lines are collected.
type process struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    []string
	errOut []string
	lines  chan string
	errs   chan string
	done   chan error
}

func startProcess(t *testing.T, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{cmd: cmd, lines: make(chan string, 1000), errs: make(chan string, 1000), done: make(chan error, 1)}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	pump := func(r io.Reader, into *[]string, ch chan string) {
		defer wg.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			*into = append(*into, sc.Text())
			p.mu.Unlock()
			select {
			case ch <- sc.Text():
			default:
			}
		}
	}
	wg.Add(2)
	go pump(stdout, &p.out, p.lines)
	go pump(stderr, &p.errOut, p.errs)
	go func() {
		wg.Wait()
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return p
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.out, "\n") + "\n--- stderr ---\n" + strings.Join(p.errOut, "\n")
}

func (p *process) wait(t *testing.T, ch chan string, timeout time.Duration, want string) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l := <-ch:
			if strings.Contains(l, want) {
				return l
			}
		case <-deadline:
			_ = p.cmd.Process.Kill()
			t.Fatalf("no line with %q within %s:\n%s", want, timeout, p.output())
		}
	}
}

func (p *process) waitFor(t *testing.T, timeout time.Duration, want string) string {
	return p.wait(t, p.lines, timeout, want)
}

func (p *process) waitForErr(t *testing.T, timeout time.Duration, want string) string {
	return p.wait(t, p.errs, timeout, want)
}

// exit waits for the process to end with code 0.
func (p *process) exit(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, p.output())
		}
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		t.Fatalf("did not stop within %s of the signal:\n%s", timeout, p.output())
	}
}
