package atrest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	hexKey1 = "00112233445566778899aabbccddeeff"
	hexKey2 = "0f0e0d0c0b0a09080706050403020100"
)

func writeKeyFile(t *testing.T, content string, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "storage.keys")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadKeyFile(t *testing.T) {
	good := "# storage keys\n\nk1 " + hexKey1 + "\n  k2   " + hexKey2 + "  \n"
	for _, tc := range []struct {
		name    string
		content string
		perm    os.FileMode
		current string
		want    string // current key id, or "" for an error
		wantErr error
		errHas  string
	}{
		{name: "last is current", content: good, perm: 0o600, want: "k2"},
		{name: "read only", content: good, perm: 0o400, want: "k2"},
		{name: "configured current", content: good, perm: 0o600, current: "k1", want: "k1"},
		{name: "current missing", content: good, perm: 0o600, current: "k3", wantErr: ErrKey, errHas: `"k3"`},
		{name: "group readable", content: good, perm: 0o640, wantErr: ErrKeyFile, errHas: "0640"},
		{name: "world readable", content: good, perm: 0o604, wantErr: ErrKeyFile, errHas: "chmod 600"},
		{name: "group writable", content: good, perm: 0o620, wantErr: ErrKeyFile},
		{name: "empty", content: "# nothing\n", perm: 0o600, wantErr: ErrKeyFile, errHas: "no key"},
		{name: "short key", content: "k1 0011\n", perm: 0o600, wantErr: ErrKeyFile, errHas: "line 1"},
		{name: "not hex", content: "k1 " + strings.Repeat("zz", 16) + "\n", perm: 0o600, wantErr: ErrKeyFile},
		{name: "three fields", content: "k1 " + hexKey1 + " extra\n", perm: 0o600, wantErr: ErrKeyFile},
		{name: "bad id", content: "k/1 " + hexKey1 + "\n", perm: 0o600, wantErr: ErrKeyFile, errHas: "line 1: bad key id"},
		// A line whose key sits where the id goes is refused without
		// quoting it (the check below).
		{name: "key before id", content: hexKey1 + " k1\n", perm: 0o600, wantErr: ErrKeyFile, errHas: "line 1"},
		{name: "key glued to id", content: "k1=" + hexKey1 + " k2\n", perm: 0o600, wantErr: ErrKeyFile, errHas: "line 1"},
		{name: "duplicate id", content: "k1 " + hexKey1 + "\nk1 " + hexKey2 + "\n", perm: 0o600, wantErr: ErrKeyFile, errHas: "line 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeKeyFile(t, tc.content, tc.perm)
			r, err := LoadKeyFile(path, tc.current)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v, want %v containing %q", err, tc.wantErr, tc.errHas)
				}
				if strings.Contains(err.Error(), hexKey1[:8]) {
					t.Fatalf("error %q shows key material", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Current() != tc.want || !r.Has("k1") || !r.Has("k2") {
				t.Fatalf("ring = %v, want current %q", r, tc.want)
			}
			if strings.Contains(r.String(), hexKey1[:8]) {
				t.Fatalf("String %q shows key material", r)
			}
		})
	}
}

func TestLoadMissingKeyFile(t *testing.T) {
	_, err := Load(Config{KeyFile: filepath.Join(t.TempDir(), "absent.keys")})
	if !errors.Is(err, ErrKeyFile) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want ErrKeyFile wrapping not-exist", err)
	}
	if _, err := Load(Config{}); !errors.Is(err, ErrKeyFile) {
		t.Fatalf("no key_file: err = %v, want ErrKeyFile", err)
	}
}
