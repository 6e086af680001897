package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sgw/fix"
)

// dockerStage is one stage of a Dockerfile: its FROM line and the
// instructions after it, continuation lines joined.
type dockerStage struct {
	from  string
	lines []string
}

// dockerStages reads a Dockerfile's stages.
func dockerStages(t *testing.T, path string) []dockerStage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var stages []dockerStage
	var cur strings.Builder
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "#") || strings.TrimSpace(l) == "" && cur.Len() == 0 {
			continue
		}
		if s, ok := strings.CutSuffix(l, "\\"); ok {
			cur.WriteString(s)
			continue
		}
		cur.WriteString(l)
		ins := strings.TrimSpace(cur.String())
		cur.Reset()
		if from, ok := strings.CutPrefix(ins, "FROM "); ok {
			stages = append(stages, dockerStage{from: from})
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("%s: %q before the first FROM", path, ins)
		}
		stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, ins)
	}
	return stages
}

// instructions returns the arguments of the stage's instructions named
// op ("RUN", "USER").
func (s dockerStage) instructions(op string) []string {
	var out []string
	for _, l := range s.lines {
		if a, ok := strings.CutPrefix(l, op+" "); ok {
			out = append(out, a)
		}
	}
	return out
}

// TestDockerfile checks deploy/Dockerfile: a Go build stage making a
// static binary (CGO_ENABLED=0, -trimpath) and a final stage FROM scratch
// with a numeric non-root user, the ports and an entrypoint. With a
// Docker daemon it then runs the build stage's command here (a static
// binary: no interpreter, no shared library), builds the final stage from
// that binary (no base image to pull: what the build stage would have
// made is put in the context) and runs the image; without a daemon it
// says so and skips that part (a cold static build takes minutes, for an
// image nobody can build).
func TestDockerfile(t *testing.T) {
	stages := dockerStages(t, "deploy/Dockerfile")
	if len(stages) < 2 {
		t.Fatalf("deploy/Dockerfile has %d stages; want a build stage and a final one", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]
	if !strings.HasPrefix(build.from, "golang:") || !strings.HasSuffix(build.from, " AS build") {
		t.Errorf("build stage FROM %s; want a golang image named build", build.from)
	}
	var goBuild string
	for _, r := range build.instructions("RUN") {
		if strings.Contains(r, "go build") {
			goBuild = r
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-o /out/gw", "sgw/system.version=${VERSION}"} {
		if !strings.Contains(goBuild, want) {
			t.Errorf("the build stage's go build (%q) lacks %s", goBuild, want)
		}
	}
	if final.from != "scratch" {
		t.Errorf("final stage FROM %s; want scratch", final.from)
	}
	users := final.instructions("USER")
	if len(users) != 1 {
		t.Fatalf("final stage USER %q; want one", users)
	}
	for _, id := range strings.Split(users[0], ":") {
		if n, err := strconv.Atoi(id); err != nil || n == 0 {
			t.Errorf("final stage USER %s: want a numeric, non-root uid and gid (scratch has no /etc/passwd)", users[0])
		}
	}
	expose := strings.Join(final.instructions("EXPOSE"), " ")
	for _, port := range []string{"8443", "9878"} {
		if !strings.Contains(" "+expose+" ", " "+port+" ") {
			t.Errorf("final stage EXPOSE %q lacks %s", expose, port)
		}
	}
	if env := final.instructions("ENV"); !slices.Contains(env, "GOGC=400") {
		t.Errorf("final stage ENV %q lacks GOGC=400, the collector's pace of deploy/gateway.service", env)
	}
	entry := final.instructions("ENTRYPOINT")
	if len(entry) != 1 || entry[0] != `["/usr/local/bin/gw"]` {
		t.Errorf("final stage ENTRYPOINT %q; want [\"/usr/local/bin/gw\"]", entry)
	}
	// The image's context, as the final stage sees the build stage's
	// outputs; checked here whether or not a daemon can build it.
	standIn := filepath.Join(t.TempDir(), "gw")
	if err := os.WriteFile(standIn, []byte("stand-in"), 0o755); err != nil {
		t.Fatal(err)
	}
	if ctx := imageContext(t, final, standIn); t.Failed() {
		t.Fatalf("the context of the final stage, in %s, is incomplete", ctx)
	}

	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("docker: no client; the Dockerfile and the image's context were checked, the binary and the image were not built")
	}
	if b, err := exec.Command(docker, "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		t.Skipf("docker: no daemon reachable (%s); the Dockerfile and the image's context were checked, the binary and the image were not built",
			strings.TrimSpace(lastLine(string(b))))
	}

	// The build stage's command, here: WORKDIR /src is the repository.
	out := t.TempDir()
	cmd := exec.Command("sh", "-c", strings.ReplaceAll(goBuild, "/out/", out+"/"))
	cmd.Env = append(os.Environ(), "VERSION=v0.0.0-image-test")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the build stage's command: %v\n%s", err, b)
	}
	bin := filepath.Join(out, "gw")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	libs, _ := f.ImportedLibraries()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a program interpreter: not static", bin)
		}
	}
	f.Close()
	if len(libs) > 0 {
		t.Errorf("%s needs shared libraries %q: not static", bin, libs)
	}
	version := exec.Command(bin, "version")
	version.Env = []string{} // as in scratch: no environment, no files
	if b, err := version.Output(); err != nil || !strings.HasPrefix(string(b), "gateway v0.0.0-image-test\n") {
		t.Fatalf("%s version: %q, %v", bin, b, err)
	}

	tag := make([]byte, 6)
	rand.Read(tag)
	image := "sgw-image-test:" + hex.EncodeToString(tag)
	if b, err := exec.Command(docker, "build", "-t", image, imageContext(t, final, bin)).CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, b)
	}
	t.Cleanup(func() { exec.Command(docker, "image", "rm", "-f", image).Run() })
	if b, err := exec.Command(docker, "run", "--rm", image, "version").Output(); err != nil || !strings.HasPrefix(string(b), "gateway v0.0.0-image-test\n") {
		t.Fatalf("docker run %s version: %q, %v", image, b, err)
	}
	// The template is in the image, and check-config is strict there too.
	b, err := exec.Command(docker, "run", "--rm", image, "check-config", "/etc/gateway/gateway.example.yaml").CombinedOutput()
	if err == nil || !strings.Contains(string(b), "open /etc/gateway/tls/") {
		t.Fatalf("docker run %s check-config of the template without its files: %v\n%s", image, err, b)
	}
}

// imageContext returns a Docker build context for the final stage alone:
// its Dockerfile, FROM scratch, copies from the context what it copied
// from the build stage, which is put there: bin for the binary, the
// repository's template, the host's CA roots (empty if it has none), an
// empty state directory. A source the test does not know is an error.
func imageContext(t *testing.T, final dockerStage, bin string) string {
	t.Helper()
	ctx := t.TempDir()
	sources := map[string]string{"/out/gw": bin, "/out/state": "", "/src/configs/gateway.example.yaml": "configs/gateway.example.yaml",
		"/etc/ssl/certs/ca-certificates.crt": "/etc/ssl/certs/ca-certificates.crt"}
	place := func(src, dst string) error {
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if src == "" {
			return os.Mkdir(dst, 0o755)
		}
		b, err := os.ReadFile(src)
		if errors.Is(err, os.ErrNotExist) && strings.HasPrefix(src, "/etc/ssl/") {
			b, err = nil, nil // a host without CA roots
		}
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o755)
	}
	copyFrom := regexp.MustCompile(`^COPY --from=build ((?:--\S+ )*)(\S+) (\S+)$`)
	df := "FROM scratch\n"
	for _, l := range final.lines {
		m := copyFrom.FindStringSubmatch(l)
		if m == nil {
			if strings.Contains(l, "--from=") {
				t.Errorf("the final stage's %q: the test copies only COPY --from=build [--flags] SRC DST", l)
			}
			df += l + "\n"
			continue
		}
		src, ok := sources[m[2]]
		if !ok {
			t.Errorf("the final stage copies %s from the build stage: the test does not know what it is", m[2])
			continue
		}
		if err := place(src, filepath.Join(ctx, "from-build", m[2])); err != nil {
			t.Fatal(err)
		}
		df += "COPY " + m[1] + "from-build" + m[2] + " " + m[3] + "\n"
	}
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestSystemdUnit checks deploy/gateway.service: the hardening options,
// a stop timeout that covers the drain, and, where systemd-analyze is
// installed, `systemd-analyze verify` (no output) and the offline
// security rating (exposure at most 2.0, "OK").
func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile("deploy/gateway.service")
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			keys[k] = append(keys[k], v)
		}
	}
	for _, want := range []struct{ key, value string }{
		{"User", "gateway"}, {"NoNewPrivileges", "yes"}, {"ProtectSystem", "strict"}, {"ProtectHome", "yes"},
		{"PrivateTmp", "yes"}, {"CapabilityBoundingSet", ""}, {"RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"},
		{"SystemCallFilter", "@system-service"}, {"StateDirectory", "gateway"}, {"Restart", "on-failure"},
		{"ExecStart", "/usr/local/bin/gw run -config /etc/gateway/gateway.yaml"},
		{"ExecStartPre", "/usr/local/bin/gw check-config /etc/gateway/gateway.yaml"},
		{"Environment", "GOGC=400"},
	} {
		if !slices.Contains(keys[want.key], want.value) {
			t.Errorf("%s=%q; want %s=%s", want.key, keys[want.key], want.key, want.value)
		}
	}
	if n, err := strconv.Atoi(first(keys["LimitNOFILE"])); err != nil || n < 100000 {
		t.Errorf("LimitNOFILE=%q: want room for gateway.ws.max_connections (100000) and more", keys["LimitNOFILE"])
	}
	// SIGTERM drains order entry, then closes clients and HTTP requests:
	// the stop timeout must cover both defaults (orders.drain_timeout and
	// gateway.shutdown_timeout, 5s each), with room for the FIX logouts.
	const drain, shutdown = 5 * time.Second, 5 * time.Second
	if stop, err := time.ParseDuration(first(keys["TimeoutStopSec"])); err != nil || stop < drain+shutdown+2*fix.DefaultHeartBtInt {
		t.Errorf("TimeoutStopSec=%q: want at least orders.drain_timeout (5s) + gateway.shutdown_timeout (5s) + two FIX heartbeats", keys["TimeoutStopSec"])
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: the unit was not verified by systemd (apt-get install systemd)")
	}
	// verify wants the binaries to exist: this test's own stands in.
	dir := t.TempDir()
	unit := filepath.Join(dir, "gateway.service")
	if err := os.WriteFile(unit, bytes.ReplaceAll(b, []byte("/usr/local/bin/gw"), []byte(os.Args[0])), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command(analyze, "security", "--offline=true", "--threshold=20", unit).CombinedOutput()
	switch {
	case bytes.Contains(out, []byte("unrecognized option")):
		t.Logf("systemd-analyze security --offline: not in this systemd; the rating was not checked")
	case err != nil:
		t.Errorf("systemd-analyze security: exposure above 2.0 (%v)\n%s", err, out)
	default:
		t.Logf("systemd-analyze security: %s", lastLine(string(out)))
	}
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}
