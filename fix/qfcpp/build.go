package qfcpp

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// ExamplesDir is where Debian's libquickfix-doc installs the QuickFIX C++
// examples.
const ExamplesDir = "/usr/share/doc/libquickfix-doc/examples"

// cxxFlags compile every peer. The QuickFIX 1.15 headers use dynamic
// exception specifications, which C++17 removed: gnu++14 it is. -w hides
// their deprecation warnings.
var cxxFlags = []string{"-std=gnu++14", "-O1", "-w", "-pthread"}

// ldFlags link every peer.
var ldFlags = []string{"-lquickfix"}

// buildTimeout bounds the compilation of all four peers on a loaded
// machine.
const buildTimeout = 10 * time.Minute

// installHint ends every skip or failure for a missing prerequisite.
const installHint = "install with: apt-get install -y libquickfix-dev libquickfix-doc g++"

//go:embed initiator/initiator.cpp
var initiatorSource []byte

//go:embed statusvenue/statusvenue.cpp
var statusVenueSource []byte

// program is one peer: its sources (gzipped ones already expanded).
type program struct {
	name    string
	sources []source
}

type source struct {
	name string
	data []byte
}

// Kit holds the four built peers. It is immutable and safe to share; its
// Start methods take the calling test's testing.TB.
type Kit struct {
	paths map[string]string // program name -> executable in the cache
}

func (k *Kit) path(name string) string { return k.paths[name] }

// built is the outcome of the one build per test binary: every Build call
// of the process shares it, so the compiler runs at most once per process
// (and once per machine while the cache holds).
var built struct {
	once sync.Once
	kit  *Kit
	skip string // why the peers cannot be built on this machine
	err  error  // the build failed although everything it needs is there
}

// Build returns the peers, compiling them on the first call of the test
// binary unless the build cache already holds them. Without g++, the
// QuickFIX headers or library, or the example sources, it skips tb, or
// fails it when the environment variable CI is "true" (CI installs the
// packages). Under go test -short it skips tb: a cold build takes about
// 40 s on two cores. A compiler error fails tb.
func Build(tb testing.TB) *Kit {
	tb.Helper()
	if testing.Short() {
		tb.Skip("qfcpp: QuickFIX C++ peers are not built under -short")
	}
	first := false
	start := time.Now()
	built.once.Do(func() {
		first = true
		built.kit, built.skip, built.err = build()
	})
	switch {
	case built.skip != "":
		unavailable(tb, built.skip)
	case built.err != nil:
		tb.Fatal(built.err)
	case first:
		tb.Logf("qfcpp: QuickFIX C++ peers ready in %s (%v to find or build)", cacheRoot(), time.Since(start).Round(time.Millisecond))
	}
	return built.kit
}

// unavailable skips tb for want of QuickFIX C++, or fails it under
// CI=true (skipOrFail).
func unavailable(tb testing.TB, reason string) {
	tb.Helper()
	skipOrFail(tb, "qfcpp: "+reason+" ("+installHint+")")
}

// skipOrFail skips tb with msg, a prerequisite missing, or fails it when
// the environment variable CI is "true": a CI run never passes a test
// without what it is about.
func skipOrFail(tb testing.TB, msg string) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// build finds the prerequisites and returns the kit from the cache,
// compiling what it lacks into the cache first. A non-empty skip says what
// is missing.
func build() (kit *Kit, skip string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cxx, err := exec.LookPath("g++")
	if err != nil {
		return nil, "g++ not found on $PATH", nil
	}
	lib := strings.TrimSpace(output(ctx, cxx, "-print-file-name=libquickfix.so"))
	if !filepath.IsAbs(lib) {
		return nil, "the QuickFIX C++ library (libquickfix.so) is not installed", nil
	}
	progs, skip := programs()
	if skip != "" {
		return nil, skip, nil
	}
	common, err := toolchainKey(ctx, cxx, lib)
	if err != nil {
		return nil, "", err
	}
	root := cacheRoot()
	kit = &Kit{paths: map[string]string{}}
	dirs := map[string]string{} // program name -> its directory in the cache
	for _, p := range progs {
		dirs[p.name] = filepath.Join(root, p.name+"-"+p.key(common))
		kit.paths[p.name] = filepath.Join(dirs[p.name], p.name)
	}
	missing := func() []program {
		var out []program
		for _, p := range progs {
			if st, err := os.Stat(kit.paths[p.name]); err != nil || !st.Mode().IsRegular() {
				out = append(out, p)
			}
		}
		return out
	}
	if len(missing()) == 0 {
		return kit, "", nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, "", fmt.Errorf("qfcpp: build cache: %w", err)
	}
	// One build per machine at a time: a test binary that got here first
	// leaves its result for the others.
	unlock, err := lockDir(root)
	if err != nil {
		return nil, "", fmt.Errorf("qfcpp: build cache lock: %w", err)
	}
	defer unlock()
	todo := missing()
	if len(todo) == 0 {
		return kit, "", nil
	}
	if msg := checkHeaders(ctx, cxx); msg != "" {
		return nil, "the QuickFIX C++ headers are not installed: " + msg, nil
	}
	errs := make([]error, len(todo))
	var wg sync.WaitGroup
	for i, p := range todo {
		wg.Go(func() { errs[i] = compile(ctx, cxx, root, dirs[p.name], p) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, "", err
	}
	return kit, "", nil
}

// programs reads the sources of the four peers.
func programs() ([]program, string) {
	executor, err := readSources(filepath.Join(ExamplesDir, "executor", "C++"),
		"executor.cpp", "Application.h", "Application.cpp")
	if err != nil {
		return nil, "the QuickFIX C++ examples (libquickfix-doc) are not installed: " + err.Error()
	}
	ordermatch, err := readSources(filepath.Join(ExamplesDir, "ordermatch"),
		"ordermatch.cpp", "Application.h", "Application.cpp", "Market.cpp", "Market.h",
		"Order.h", "OrderMatcher.h", "IDGenerator.h")
	if err != nil {
		return nil, "the QuickFIX C++ examples (libquickfix-doc) are not installed: " + err.Error()
	}
	return []program{
		{name: "executor", sources: executor},
		{name: "ordermatch", sources: ordermatch},
		{name: "initiator", sources: []source{{name: "initiator.cpp", data: initiatorSource}}},
		{name: "statusvenue", sources: []source{{name: "statusvenue.cpp", data: statusVenueSource}}},
	}, ""
}

// readSources reads the named files of dir, each as it is or gzipped (name
// + ".gz"), as Debian compresses the larger ones.
func readSources(dir string, names ...string) ([]source, error) {
	var out []source
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			data, err = gunzipFile(filepath.Join(dir, name+".gz"))
		}
		if err != nil {
			return nil, err
		}
		out = append(out, source{name: name, data: data})
	}
	return out, nil
}

func gunzipFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}

// toolchainKey hashes what every executable depends on besides its
// sources: the compiler's version and target, the flags and the library
// file.
func toolchainKey(ctx context.Context, cxx, lib string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "qfcpp build 1\n%s\n%s", cxx, output(ctx, cxx, "-dumpfullversion", "-dumpmachine"))
	fmt.Fprintf(h, "%q %q\n", cxxFlags, ldFlags)
	real, err := filepath.EvalSymlinks(lib)
	if err != nil {
		return "", fmt.Errorf("qfcpp: %s: %w", lib, err)
	}
	st, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("qfcpp: %w", err)
	}
	fmt.Fprintf(h, "%s %d %d\n", real, st.Size(), st.ModTime().UnixNano())
	return hex.EncodeToString(h.Sum(nil)), nil
}

// key names p's build in the cache: a hash of the toolchain's key and of
// p's sources.
func (p program) key(toolchain string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", toolchain)
	for _, s := range p.sources {
		fmt.Fprintf(h, "%s %d\n", s.name, len(s.data))
		h.Write(s.data)
	}
	return hex.EncodeToString(h.Sum(nil))[:20]
}

// cacheRoot is $XDG_CACHE_HOME/sgw-qfcpp (or its platform equivalent),
// else sgw-qfcpp in the temporary directory.
func cacheRoot() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "sgw-qfcpp")
	}
	return filepath.Join(os.TempDir(), "sgw-qfcpp")
}

// compile builds p into a new directory under root and renames it to dir,
// which publishes the executable whole: a concurrent reader finds it
// complete or not at all. The sources stay beside it in dir/src, with the
// empty config.h the examples include (autotools would generate it).
func compile(ctx context.Context, cxx, root, dir string, p program) error {
	tmp, err := os.MkdirTemp(root, ".build-"+p.name+"-")
	if err != nil {
		return fmt.Errorf("qfcpp: build cache: %w", err)
	}
	defer os.RemoveAll(tmp) // nothing left once renamed
	src := filepath.Join(tmp, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		return fmt.Errorf("qfcpp: %w", err)
	}
	var cpps []string
	for _, s := range append([]source{{name: "config.h"}}, p.sources...) {
		if err := os.WriteFile(filepath.Join(src, s.name), s.data, 0o644); err != nil {
			return fmt.Errorf("qfcpp: %w", err)
		}
		if strings.HasSuffix(s.name, ".cpp") {
			cpps = append(cpps, filepath.Join(src, s.name))
		}
	}
	args := append(append([]string{}, cxxFlags...), "-I", src, "-o", filepath.Join(tmp, p.name))
	args = append(append(args, cpps...), ldFlags...)
	cmd := exec.CommandContext(ctx, cxx, args...)
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("qfcpp: compiling %s: %s %s: %w\n%s", p.name, cxx, strings.Join(args, " "), err, out)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("qfcpp: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, p.name)); serr != nil {
			return fmt.Errorf("qfcpp: build cache: %w", err)
		}
	}
	return nil
}

// checkHeaders preprocesses an include of the QuickFIX headers and
// returns the compiler's complaint, or "".
func checkHeaders(ctx context.Context, cxx string) string {
	args := append(append([]string{}, cxxFlags...), "-E", "-x", "c++", "-o", os.DevNull, "-")
	cmd := exec.CommandContext(ctx, cxx, args...)
	cmd.Stdin = strings.NewReader("#include <quickfix/SocketInitiator.h>\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return firstLine(out)
	}
	return ""
}

// output runs a command and returns its standard output, or "" if it fails.
func output(ctx context.Context, name string, args ...string) string {
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return ""
	}
	return string(out)
}

func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(bytes.TrimSpace(b), []byte("\n"))
	return string(line)
}
