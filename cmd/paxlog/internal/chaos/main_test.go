package chaos

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// binary is the paxlog executable every test runs, built once by TestMain
// with the storage fault hooks compiled in (-tags paxlogfaults) and
// without -race (the children are separate processes; the race detector
// only slows them down).
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "paxlog-chaos-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "paxlog")
	cmd := exec.Command("go", "build", "-tags", "paxlogfaults", "-o", binary, "github.com/paxlog/paxlog/cmd/paxlog")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: building paxlog:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	// Every client, proxy and process goroutine must be gone.
	if err := goleak.Find(); code == 0 && err != nil {
		fmt.Fprintln(os.Stderr, "chaos: leaked goroutines:", err)
		code = 1
	}
	os.Exit(code)
}
