// Package freeport gives tests loopback TCP ports that must be known
// before the process that listens on them starts (a cluster member's
// address is in every member's configuration; a child process restarted
// after kill -9 listens again on its old address).
//
// Binding port 0 and releasing it is not enough: the kernel hands the
// released port to the next port-0 listener or outgoing connection of any
// process, and on a loaded machine running test packages in parallel that
// happens. A port from Take is therefore chosen below the kernel's
// ephemeral range (/proc/sys/net/ipv4/ip_local_port_range), which the
// kernel never assigns on its own, and is locked against every other
// process using this package by an flock on a file named after it, held
// until the test ends. Such a port stays the caller's for the whole test,
// across restarts of whatever listens on it.
//
// Take may be called from any goroutine.
package freeport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// floor is the lowest port handed out: below it live well-known services.
const floor = 10000

// Take reserves n ports on 127.0.0.1 until tb ends and returns them as
// "127.0.0.1:port" addresses. It fails tb when it cannot.
func Take(tb testing.TB, n int) []string {
	tb.Helper()
	lo, hi, err := span()
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]string, 0, n)
	for attempts := 0; len(out) < n; attempts++ {
		if attempts == 1000 {
			tb.Fatalf("freeport: no free port in [%d, %d) after %d attempts", lo, hi, attempts)
		}
		port := lo + rand.IntN(hi-lo)
		lock, ok, err := reserve(port)
		if err != nil {
			tb.Fatal(err)
		}
		if !ok {
			continue
		}
		tb.Cleanup(func() { lock.Close() })
		out = append(out, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}
	return out
}

// span returns the ports handed out: from floor up to the ephemeral range.
func span() (lo, hi int, err error) {
	hi = 32768 // Linux's default lower bound
	if raw, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(raw)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil {
				hi = v
			}
		}
	}
	if hi-floor < 1000 {
		return 0, 0, fmt.Errorf("freeport: the ephemeral range starts at %d: too few ports below it", hi)
	}
	return floor, hi, nil
}

// reserve locks port for this process (false when another process holds
// it) and checks that nothing listens on it now. The lock is held while the
// returned file is open.
func reserve(port int) (*os.File, bool, error) {
	dir := filepath.Join(os.TempDir(), "sgw-freeport")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, false, fmt.Errorf("freeport: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, false, fmt.Errorf("freeport: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("freeport: lock port %d: %w", port, err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil { // something outside this package uses it
		f.Close()
		return nil, false, nil
	}
	ln.Close()
	return f, true, nil
}
