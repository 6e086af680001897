package atrest

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"

	"sgw/internal/secretfile"
)

// KeySize is the size of an SM4 key in bytes.
const KeySize = 16

// MaxKeyIDLen is the longest key id, in bytes.
const MaxKeyIDLen = 32

// Config is the encryption section of a deployment's configuration
// (storage.encryption).
type Config struct {
	// KeyFile is the key file (see LoadKeyFile). Required.
	KeyFile string `yaml:"key_file"`
	// CurrentKey is the id of the key new files are sealed under. Zero
	// means the last key listed in the key file, so a rotation appends a
	// line and restarts.
	CurrentKey string `yaml:"current_key"`
}

// Load loads cfg.KeyFile with cfg.CurrentKey as the current key.
func Load(cfg Config) (*KeyRing, error) {
	if cfg.KeyFile == "" {
		return nil, fmt.Errorf("%w: storage.encryption.key_file is required", ErrKeyFile)
	}
	return LoadKeyFile(cfg.KeyFile, cfg.CurrentKey)
}

// KeyRing maps key ids to SM4 master keys and names the current one. It
// is immutable; share it freely.
type KeyRing struct {
	keys    map[string][KeySize]byte
	ids     []string // in the order given
	current string
}

// NewKeyRing returns a key ring of keys (id → 16-byte key) whose current
// key is current, which must be one of them.
func NewKeyRing(keys map[string][]byte, current string) (*KeyRing, error) {
	r := &KeyRing{keys: make(map[string][KeySize]byte, len(keys)), current: current}
	for id, k := range keys {
		if err := checkKeyID(id); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrKeyFile, err)
		}
		if len(k) != KeySize {
			return nil, fmt.Errorf("%w: key %q is %d bytes, want %d", ErrKeyFile, id, len(k), KeySize)
		}
		r.keys[id] = [KeySize]byte(k)
		r.ids = append(r.ids, id)
	}
	if _, ok := r.keys[current]; !ok {
		return nil, &KeyError{ID: current, Reason: "the current key is not in the key ring"}
	}
	return r, nil
}

// LoadKeyFile reads a key file: one key a line, "ID HEX", where ID is 1 to
// 32 characters of A-Z a-z 0-9 . _ - and HEX is the 16-byte key as 32 hex
// digits (openssl rand -hex 16); blank lines and lines starting with # are
// ignored; an id may appear once. current names the key new files use;
// empty means the last one listed.
//
// It refuses a file that is not a regular file or whose permissions give
// its group or others any access (chmod 600 or 400), as secretfile says.
func LoadKeyFile(path, current string) (*KeyRing, error) {
	b, err := secretfile.Read(path, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	r := &KeyRing{keys: map[string][KeySize]byte{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: %s: line %d: "+format, append([]any{ErrKeyFile, path, line}, args...)...)
		}
		fields := strings.Fields(s)
		if len(fields) != 2 {
			return nil, bad(`want "ID HEX-KEY"`) // the line may hold a key: never quote it
		}
		// A bad field may be a key (a line with the key first, or glued
		// to its id): these errors name the line, never a field.
		id := fields[0]
		if checkKeyID(id) != nil {
			return nil, bad("bad key id: want 1 to %d characters of A-Z a-z 0-9 . _ -", MaxKeyIDLen)
		}
		if _, dup := r.keys[id]; dup {
			return nil, bad("key id %q appears twice", id)
		}
		k, err := hex.DecodeString(fields[1])
		if err != nil || len(k) != KeySize {
			return nil, bad("the key after the id is not %d hex digits", 2*KeySize)
		}
		r.keys[id] = [KeySize]byte(k)
		r.ids = append(r.ids, id)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKeyFile, path, err)
	}
	if len(r.ids) == 0 {
		return nil, fmt.Errorf("%w: %s holds no key", ErrKeyFile, path)
	}
	if current == "" {
		current = r.ids[len(r.ids)-1]
	}
	if _, ok := r.keys[current]; !ok {
		return nil, &KeyError{ID: current, Reason: "the configured current key is not in " + path}
	}
	r.current = current
	return r, nil
}

// checkKeyID reports whether id is a valid key id.
func checkKeyID(id string) error {
	if len(id) == 0 || len(id) > MaxKeyIDLen {
		return fmt.Errorf("key id %q: want 1 to %d characters", id, MaxKeyIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("key id %q: want characters of A-Z a-z 0-9 . _ -", id)
		}
	}
	return nil
}

// Current returns the id of the key new files are sealed under.
func (r *KeyRing) Current() string { return r.current }

// IDs returns the key ids in the order they were listed.
func (r *KeyRing) IDs() []string { return append([]string(nil), r.ids...) }

// Has reports whether the ring holds key id.
func (r *KeyRing) Has(id string) bool {
	_, ok := r.keys[id]
	return ok
}

// String names the ring's keys, never their bytes.
func (r *KeyRing) String() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "KeyRing{current: %q, ids: %q}", r.current, r.ids)
	return b.String()
}
