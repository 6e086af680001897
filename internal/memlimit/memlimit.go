// Package memlimit gives the Go runtime a soft memory limit from the
// memory the process's control group may use, when the operator set none.
//
// The deploy files run the gateway with GOGC=400 (docs/OPERATIONS.md, "The
// garbage collector"): its heap may then grow to about five times what is
// live. Where the process runs under a memory limit (a container's
// --memory, a unit's MemoryMax, a Kubernetes limit) and GOMEMLIMIT is not
// set, Apply sets the runtime's soft limit to Fraction of it, so that the
// collector runs as often as it must near the limit instead of the kernel
// killing the process. GOMEMLIMIT, when set, is the operator's and is
// left alone; with no limit found nothing changes.
package memlimit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
)

// Fraction of the control group's limit Apply gives the runtime: the rest
// is room for what the runtime's limit does not count (the binary, the
// kernel's buffers charged to the group) and for the collector to catch up.
const Fraction = 0.75

// unlimitedV1 and above is cgroup v1's "no limit" (the largest page
// multiple below 2^63).
const unlimitedV1 = 1 << 62

// Limit returns the memory limit, in bytes, of the control group the
// process belongs to, reading fsys as the root of the file system
// (os.DirFS("/")): the smallest of cgroup v2's memory.max of the group
// /proc/self/cgroup names and of each group above it (a slice's limit
// binds the services in it), or, with no v2 memory controller, v1's
// memory.limit_in_bytes the same way, up to a group whose
// memory.use_hierarchy is 0 (kernels before 5.11: its limit does not bind
// the groups below it). A group whose directory is not there is skipped
// (a container sees its own group as the root); a group outside the
// namespace's root ("/../x") has none found. ok is
// false when no group has a limit ("max", v1's unlimited value) or there
// is no control group file to read; err only for a file that says
// something other than a limit.
func Limit(fsys fs.FS) (limit int64, ok bool, err error) {
	groups, err := fs.ReadFile(fsys, "proc/self/cgroup")
	if err != nil {
		return 0, false, nil
	}
	var v2, v1 string
	sc := bufio.NewScanner(bytes.NewReader(groups))
	for sc.Scan() {
		// hierarchy-ID:controller-list:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			v2 = parts[2]
		case hasController(parts[1], "memory"):
			v1 = parts[2]
		}
	}
	if v2 != "" {
		// The unified mount, or a hybrid host's "unified" one.
		for _, mount := range []string{"sys/fs/cgroup", "sys/fs/cgroup/unified"} {
			if limit, ok, found, err := smallest(fsys, mount, v2, "memory.max", ""); found || err != nil {
				return limit, ok, err
			}
		}
	}
	if v1 != "" {
		limit, ok, _, err := smallest(fsys, "sys/fs/cgroup/memory", v1, "memory.limit_in_bytes", "memory.use_hierarchy")
		return limit, ok, err
	}
	return 0, false, nil
}

// smallest reads file in group's directory under mount and in each
// directory above it up to the mount's root, and returns the smallest
// limit among them (ok false: none has one). found is whether any of the
// files was there. hierarchy, when not "", names v1's memory.use_hierarchy:
// a directory above one already read whose hierarchy file says 0 does not
// charge its children's memory to its own limit, so the walk stops there.
// A group outside the control group namespace's root ("/../x", the
// kernel's cgroup-v2.rst, "Namespace") has no directory under the mount:
// nothing there limits it, and nothing is found.
func smallest(fsys fs.FS, mount, group, file, hierarchy string) (limit int64, ok, found bool, err error) {
	if group == "/.." || strings.HasPrefix(group, "/../") {
		return 0, false, false, nil
	}
	dir := path.Clean("/" + group)
	for {
		name := path.Join(mount, strings.TrimPrefix(dir, "/"), file)
		if found && hierarchy != "" {
			h, herr := fs.ReadFile(fsys, path.Join(mount, strings.TrimPrefix(dir, "/"), hierarchy))
			if herr == nil && strings.TrimSpace(string(h)) == "0" {
				return limit, ok, found, nil
			}
		}
		b, rerr := fs.ReadFile(fsys, name)
		switch {
		case errors.Is(rerr, fs.ErrNotExist):
		case rerr != nil:
			return 0, false, true, fmt.Errorf("memlimit: %s: %w", name, rerr)
		default:
			found = true
			n, lerr := parseLimit(b)
			if lerr != nil {
				return 0, false, true, fmt.Errorf("memlimit: %s: %w", name, lerr)
			}
			if n > 0 && (!ok || n < limit) {
				limit, ok = n, true
			}
		}
		if dir == "/" {
			return limit, ok, found, nil
		}
		dir = path.Dir(dir)
	}
}

// parseLimit reads a limit file's value: 0 for none ("max", or v1's
// unlimited value).
func parseLimit(b []byte) (int64, error) {
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a memory limit", s)
	}
	if n >= unlimitedV1 {
		return 0, nil
	}
	return n, nil
}

func hasController(list, name string) bool {
	for c := range strings.SplitSeq(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// Apply sets the runtime's soft memory limit to Fraction of the control
// group's limit, unless GOMEMLIMIT is set or no limit is found, and logs
// what it did. It returns the limit set (0: none). Call it once, at the
// start of the process, before the components start.
func Apply(log *slog.Logger) int64 {
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		log.Info("memlimit: the runtime's memory limit is the operator's (GOMEMLIMIT)", "gomemlimit", v)
		return 0
	}
	limit, ok, err := Limit(os.DirFS("/"))
	if err != nil {
		log.Warn("memlimit: the control group's memory limit could not be read; the runtime has none", "err", err)
		return 0
	}
	if !ok {
		return 0
	}
	soft := int64(float64(limit) * Fraction)
	debug.SetMemoryLimit(soft)
	log.Info("memlimit: the runtime's memory limit set from the control group's", "cgroup_limit_bytes", limit, "soft_limit_bytes", soft)
	return soft
}
