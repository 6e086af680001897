package qfcpp

import (
	"os"
	"os/exec"
	"syscall"
)

// bindToParent makes the kernel kill the peer when the test binary dies,
// however it dies: a peer outliving its test would hold its port, and
// ordermatch spins on a closed stdin.
func bindToParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// lockDir takes an exclusive lock on dir (flock on dir/.lock), waiting for
// it, and returns its release.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(dir+"/.lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}
