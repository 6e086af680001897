package auth

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// MinSecretLen is the shortest secret New accepts, in bytes.
const MinSecretLen = 32

// Config configures a Verifier.
type Config struct {
	// Secret is the HMAC-SHA256 key shared with the login service, at least
	// MinSecretLen bytes. Ignored when SecretFile is set. Zero (with no
	// SecretFile) is an error.
	Secret string `yaml:"secret"`
	// SecretFile, when set, names a file whose contents, one trailing
	// newline trimmed, are the secret instead of Secret. Zero means use
	// Secret.
	SecretFile string `yaml:"secret_file"`
	// MaxTTL caps how far in the future a token's exp may be when issued,
	// counted in whole seconds. Verify does not apply it: the login service
	// sets its own. Zero means 24h.
	MaxTTL time.Duration `yaml:"max_ttl"`
	// Leeway is how long past its exp a token is still accepted, for clock
	// skew. Zero means 5s.
	Leeway time.Duration `yaml:"leeway"`
}

// withDefaults fills the documented defaults, validates cfg and returns the
// secret. Errors never contain the secret.
func (cfg Config) withDefaults() (Config, []byte, error) {
	secret := cfg.Secret
	if cfg.SecretFile != "" {
		b, err := os.ReadFile(cfg.SecretFile)
		if err != nil {
			return cfg, nil, fmt.Errorf("%w: secret_file: %w", ErrConfig, err)
		}
		secret = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	}
	if len(secret) < MinSecretLen {
		what := "secret"
		if cfg.SecretFile != "" {
			what = "secret_file " + cfg.SecretFile
		}
		return cfg, nil, fmt.Errorf("%w: %s is %d bytes, need at least %d", ErrConfig, what, len(secret), MinSecretLen)
	}
	if cfg.MaxTTL == 0 {
		cfg.MaxTTL = 24 * time.Hour
	}
	if cfg.MaxTTL < time.Second {
		return cfg, nil, fmt.Errorf("%w: max_ttl %v must be at least 1s", ErrConfig, cfg.MaxTTL)
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = 5 * time.Second
	}
	if cfg.Leeway < 0 {
		return cfg, nil, fmt.Errorf("%w: leeway %v is negative", ErrConfig, cfg.Leeway)
	}
	return cfg, []byte(secret), nil
}
