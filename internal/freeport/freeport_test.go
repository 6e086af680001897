package freeport

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestTake checks that the ports are distinct, bindable, below the
// ephemeral range, and refused to another process while held.
func TestTake(t *testing.T) {
	addrs := Take(t, 5)
	_, hi, err := span()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range addrs {
		if seen[a] {
			t.Fatalf("port %s handed out twice", a)
		}
		seen[a] = true
		_, p, _ := net.SplitHostPort(a)
		if port := mustAtoi(t, p); port < floor || port >= hi {
			t.Fatalf("port %d outside [%d, %d)", port, floor, hi)
		}
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("a taken port cannot be bound: %v", err)
		}
		ln.Close()
	}
	// Another process cannot lock a held port.
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockedElsewhere$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FREEPORT_HELD="+strings.Join(addrs, ","))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the other process: %v\n%s", err, out)
	}
}

// TestLockedElsewhere runs in the child process of TestTake.
func TestLockedElsewhere(t *testing.T) {
	held := os.Getenv("FREEPORT_HELD")
	if held == "" {
		t.Skip("run by TestTake")
	}
	for _, a := range strings.Split(held, ",") {
		_, p, _ := net.SplitHostPort(a)
		f, ok, err := reserve(mustAtoi(t, p))
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			f.Close()
			t.Fatalf("port %s was reserved by a second process", a)
		}
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
