package tlcp_test

import (
	"os"
	"path/filepath"
	"testing"

	"sgw/internal/secretfile/secretfiletest"
	"sgw/tlcp"
)

// TestLoadKeyPairRefusesPipe: a named pipe at the certificate or the key
// path is refused before it is opened. Before, the open waited for a
// writer, and the simulator's start with it. The test cannot hang on
// that wait (secretfiletest.RefusesPipe).
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
					secretfiletest.Mkfifo(t, p)
				} else {
					err = os.WriteFile(p, []byte("not read as far as the pipe\n"), 0o600)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			secretfiletest.RefusesPipe(t, files[tc.pipe], func() error {
				_, err := tlcp.LoadKeyPair(files["cert"], files["key"])
				return err
			})
		})
	}
}
