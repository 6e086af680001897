package memlimit

import (
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"testing"
	"testing/fstest"
)

func TestLimit(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	for _, tc := range []struct {
		name    string
		fs      fstest.MapFS
		limit   int64
		ok, err bool
	}{
		{name: "no /proc/self/cgroup", fs: fstest.MapFS{}},
		{name: "v2, the service's own limit", fs: fstest.MapFS{
			"proc/self/cgroup": file("0::/system.slice/gateway.service\n"),
			"sys/fs/cgroup/system.slice/gateway.service/memory.max": file("17179869184\n"),
			"sys/fs/cgroup/system.slice/memory.max":                 file("max\n"),
		}, limit: 16 << 30, ok: true},
		{name: "v2, the slice's limit binds its service", fs: fstest.MapFS{
			"proc/self/cgroup": file("0::/system.slice/gateway.service\n"),
			"sys/fs/cgroup/system.slice/gateway.service/memory.max": file("max\n"),
			"sys/fs/cgroup/system.slice/memory.max":                 file("8589934592\n"),
		}, limit: 8 << 30, ok: true},
		{name: "v2, the smaller of the group's and its parent's", fs: fstest.MapFS{
			"proc/self/cgroup":             file("0::/a/b\n"),
			"sys/fs/cgroup/a/b/memory.max": file("1073741824\n"),
			"sys/fs/cgroup/a/memory.max":   file("2147483648\n"),
		}, limit: 1 << 30, ok: true},
		{name: "v2, no limit", fs: fstest.MapFS{
			"proc/self/cgroup":                    file("0::/user.slice\n"),
			"sys/fs/cgroup/user.slice/memory.max": file("max\n"),
		}},
		{name: "v2 in a container: its group is the root", fs: fstest.MapFS{
			"proc/self/cgroup":         file("0::/\n"),
			"sys/fs/cgroup/memory.max": file("4294967296\n"),
		}, limit: 4 << 30, ok: true},
		{name: "v1 (hybrid host): the memory hierarchy's group", fs: fstest.MapFS{
			"proc/self/cgroup": file("4:memory:/process_api/x\n1:cpu:/\n0::/\n"),
			"sys/fs/cgroup/memory/process_api/x/memory.limit_in_bytes": file("2147483648\n"),
			"sys/fs/cgroup/memory/memory.limit_in_bytes":               file("9223372036854771712\n"),
		}, limit: 2 << 30, ok: true},
		{name: "v1 unlimited", fs: fstest.MapFS{
			"proc/self/cgroup": file("4:memory:/process_api/x\n0::/\n"),
			"sys/fs/cgroup/memory/process_api/x/memory.limit_in_bytes": file("9223372036854771712\n"),
			"sys/fs/cgroup/memory/memory.limit_in_bytes":               file("9223372036854771712\n"),
		}},
		{name: "v1 in a container: its group's directory is not there", fs: fstest.MapFS{
			"proc/self/cgroup":                           file("9:memory:/docker/abc\n"),
			"sys/fs/cgroup/memory/memory.limit_in_bytes": file("536870912\n"),
		}, limit: 512 << 20, ok: true},
		{name: "v1 with other controllers in its hierarchy", fs: fstest.MapFS{
			"proc/self/cgroup":                           file("7:cpu,memory:/\n"),
			"sys/fs/cgroup/memory/memory.limit_in_bytes": file("536870912\n"),
		}, limit: 512 << 20, ok: true},
		{name: "v1, use_hierarchy 0: the parent's limit does not bind the service", fs: fstest.MapFS{
			"proc/self/cgroup": file("4:memory:/system.slice/gateway.service\n"),
			"sys/fs/cgroup/memory/system.slice/gateway.service/memory.limit_in_bytes": file("9223372036854771712\n"),
			"sys/fs/cgroup/memory/system.slice/gateway.service/memory.use_hierarchy":  file("0\n"),
			"sys/fs/cgroup/memory/system.slice/memory.limit_in_bytes":                 file("536870912\n"),
			"sys/fs/cgroup/memory/system.slice/memory.use_hierarchy":                  file("0\n"),
			"sys/fs/cgroup/memory/memory.limit_in_bytes":                              file("9223372036854771712\n"),
			"sys/fs/cgroup/memory/memory.use_hierarchy":                               file("0\n"),
		}},
		{name: "v1, use_hierarchy 1: the parent's limit binds the service", fs: fstest.MapFS{
			"proc/self/cgroup": file("4:memory:/system.slice/gateway.service\n"),
			"sys/fs/cgroup/memory/system.slice/gateway.service/memory.limit_in_bytes": file("9223372036854771712\n"),
			"sys/fs/cgroup/memory/system.slice/gateway.service/memory.use_hierarchy":  file("1\n"),
			"sys/fs/cgroup/memory/system.slice/memory.limit_in_bytes":                 file("536870912\n"),
			"sys/fs/cgroup/memory/system.slice/memory.use_hierarchy":                  file("1\n"),
		}, limit: 512 << 20, ok: true},
		{name: "v2, a group outside the namespace's root: the root's limit is not its", fs: fstest.MapFS{
			"proc/self/cgroup":         file("0::/../../batch/job1\n"),
			"sys/fs/cgroup/memory.max": file("268435456\n"),
		}},
		{name: "a file that is no limit", fs: fstest.MapFS{
			"proc/self/cgroup":         file("0::/\n"),
			"sys/fs/cgroup/memory.max": file("lots\n"),
		}, err: true},
		{name: "a zero limit", fs: fstest.MapFS{
			"proc/self/cgroup":         file("0::/\n"),
			"sys/fs/cgroup/memory.max": file("0\n"),
		}, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			limit, ok, err := Limit(tc.fs)
			if (err != nil) != tc.err {
				t.Fatalf("err %v; want an error: %v", err, tc.err)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "memlimit: ") {
				t.Errorf("err %q: want the package's prefix", err)
			}
			if limit != tc.limit || ok != tc.ok {
				t.Errorf("Limit = %d, %v; want %d, %v", limit, ok, tc.limit, tc.ok)
			}
		})
	}
}

// TestApplyLeavesGOMEMLIMIT: an operator's GOMEMLIMIT is never replaced.
func TestApplyLeavesGOMEMLIMIT(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "1GiB")
	before := debug.SetMemoryLimit(-1)
	if got := Apply(slog.New(slog.NewTextHandler(io.Discard, nil))); got != 0 {
		t.Errorf("Apply set %d with GOMEMLIMIT set", got)
	}
	if after := debug.SetMemoryLimit(-1); after != before {
		t.Errorf("the runtime's limit changed from %d to %d", before, after)
	}
}
