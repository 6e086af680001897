package qfcpp

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// quickfixgoModule is the Go module whose spec directory holds the QuickFIX
// data dictionaries (FIX42.xml, FIX44.xml): the QuickFIX project's, in the
// format QuickFIX C++ reads. The gateway requires the module, so the module
// cache holds it wherever the gateway builds.
const quickfixgoModule = "github.com/quickfixgo/quickfix"

// specDir is the outcome of the one look-up of the spec directory per test
// binary.
var specDir struct {
	once sync.Once
	dir  string
	err  error
}

// DataDictionary returns the path of QuickFIX's data dictionary for begin
// (FIX.4.2 or FIX.4.4): FIX42.xml or FIX44.xml in the spec directory of the
// quickfixgo module, as the go command finds it in the module cache (the
// files are read where they are, never copied). It returns an error saying
// why when the go command, the module or the file is not there. The go
// command runs once per test binary; DataDictionary is safe for concurrent
// use.
func DataDictionary(begin string) (string, error) {
	var name string
	switch begin {
	case FIX42:
		name = "FIX42.xml"
	case FIX44:
		name = "FIX44.xml"
	default:
		return "", fmt.Errorf("qfcpp: no data dictionary for BeginString %q", begin)
	}
	specDir.once.Do(func() { specDir.dir, specDir.err = findSpecDir() })
	if specDir.err != nil {
		return "", specDir.err
	}
	path := filepath.Join(specDir.dir, name)
	if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
		return "", fmt.Errorf("qfcpp: data dictionary %s: not a file in the module cache (%v)", path, err)
	}
	return path, nil
}

// RequireDataDictionary returns DataDictionary(begin) for a test whose
// point is validation with it. When the dictionary is not found it skips
// tb, or fails it when the environment variable CI is "true" (CI fills
// the module cache: .ci/run runs go mod download), as Build does for a
// missing QuickFIX C++: a CI run never passes such a test without the
// validation it is about.
func RequireDataDictionary(tb testing.TB, begin string) string {
	tb.Helper()
	return requireDictionary(tb, begin, DataDictionary)
}

// requireDictionary is RequireDataDictionary with find in place of
// DataDictionary.
func requireDictionary(tb testing.TB, begin string, find func(string) (string, error)) string {
	tb.Helper()
	path, err := find(begin)
	if err == nil {
		return path
	}
	skipOrFail(tb, fmt.Sprintf("qfcpp: no QuickFIX data dictionary to validate with: %v", err))
	return ""
}

// findSpecDir asks the go command where the module cache holds
// quickfixgoModule.
func findSpecDir() (string, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("qfcpp: finding the QuickFIX data dictionaries: the go command is not on $PATH: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, goCmd, "list", "-m", "-f", "{{.Dir}}", quickfixgoModule)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("qfcpp: finding the QuickFIX data dictionaries: go list -m %s: %v: %s",
			quickfixgoModule, err, strings.TrimSpace(stderr.String()))
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("qfcpp: finding the QuickFIX data dictionaries: %s is not in the module cache (go mod download %s)",
			quickfixgoModule, quickfixgoModule)
	}
	return filepath.Join(dir, "spec"), nil
}
