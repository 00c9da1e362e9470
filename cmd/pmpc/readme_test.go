package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadmeTour runs the README's tour block, as written, with bash against
// the fake cluster. The test binary stands in for pmpc: testscript.Main in
// TestMain dispatches on the name it is invoked by.
func TestReadmeTour(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not found")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	script := tourBlock(t, string(readme))

	bin := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(bin, "pmpc")); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = work
	cmd.Env = append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+work, "NO_COLOR=1",
		"GIT_AUTHOR_NAME=README Tour", "GIT_AUTHOR_EMAIL=tour@example.com",
		"GIT_COMMITTER_NAME=README Tour", "GIT_COMMITTER_EMAIL=tour@example.com",
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(3 * time.Minute):
		err = errTimeout
	}
	// Whatever happened, stop the backgrounded fake with its shell.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if err != nil {
		t.Fatalf("README tour failed: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"No changes. The cluster matches the workspace.",
		`~ memory = "4096" -> "8192"`,
		"Apply complete: 1 applied",
		"pmpc apply: 1 changed",
		"vm.web-01: memory 4096 → 8192", // pending until it restarts
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("README tour output lacks %q:\n%s", want, out.String())
		}
	}
	for _, f := range []string{"terraform/main.tf", "ansible/playbook.yml", "infra/vms/web-01.cue"} {
		if _, err := os.Stat(filepath.Join(work, f)); err != nil {
			t.Errorf("README tour did not produce %s: %v", f, err)
		}
	}
}

type timeoutError struct{}

func (timeoutError) Error() string { return "timed out after 3 minutes" }

var errTimeout error = timeoutError{}

// tourBlock returns the shell block that follows the "<!-- tour -->" marker.
func tourBlock(t *testing.T, readme string) string {
	t.Helper()
	_, rest, ok := strings.Cut(readme, "<!-- tour -->\n```sh\n")
	if !ok {
		t.Fatal("README.md has no <!-- tour --> sh block")
	}
	block, _, ok := strings.Cut(rest, "\n```")
	if !ok {
		t.Fatal("README.md tour block is not closed")
	}
	return block
}
