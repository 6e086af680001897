package tlcp_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"sgw/tlcp"
)

// TestLoadKeyPairRefusesPipe: a named pipe at the certificate or the key
// path is refused before it is opened. Before, the open waited for a
// writer, and the simulator's start with it. The test cannot hang on
// that wait (as internal/secretfile's TestReadRefusesPipe): while
// LoadKeyPair runs it opens the pipe for writing without waiting, which
// succeeds only once a reader has it open (else ENXIO), and closes its
// end, which lets that reader on.
func TestLoadKeyPairRefusesPipe(t *testing.T) {
	for _, tc := range []struct {
		name string
		pipe string // "cert" or "key"
	}{
		{name: "certificate", pipe: "cert"},
		{name: "key", pipe: "key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{"cert": filepath.Join(dir, "sign.pem"), "key": filepath.Join(dir, "sign.key")}
			for name, p := range files {
				var err error
				if name == tc.pipe {
					err = syscall.Mkfifo(p, 0o600)
				} else {
					err = os.WriteFile(p, []byte("not read as far as the pipe\n"), 0o600)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			done := make(chan error, 1)
			go func() {
				_, err := tlcp.LoadKeyPair(files["cert"], files["key"])
				done <- err
			}()
			for {
				select {
				case err := <-done:
					if err == nil || !strings.Contains(err.Error(), "is not a regular file") {
						t.Fatalf("error %v; want one saying it is not a regular file", err)
					}
					return
				default:
				}
				w, err := os.OpenFile(files[tc.pipe], os.O_WRONLY|syscall.O_NONBLOCK, 0)
				if err == nil {
					w.Close()
					<-done
					t.Fatal("the pipe was opened for reading: LoadKeyPair waits for a writer")
				}
				if !errors.Is(err, syscall.ENXIO) {
					t.Fatal(err)
				}
				runtime.Gosched()
			}
		})
	}
}
