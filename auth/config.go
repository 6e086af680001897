package auth

import (
	"fmt"
	"time"
)

// DefaultKeyID is the kid of the HS256 key given by Config.Secret or
// Config.SecretFile.
const DefaultKeyID = "default"

// MaxLeeway is the largest Config.Leeway accepted: the clock skew
// Kerberos tolerates by default. A token is accepted for up to the leeway
// past its exp.
const MaxLeeway = 5 * time.Minute

// Config configures a Verifier (the `auth:` section of the gateway's YAML).
type Config struct {
	// Secret is a shorthand for one HS256 key with id DefaultKeyID
	// ("default"): at least MinSecretLen bytes. Ignored when SecretFile is
	// set. Zero (with no SecretFile) means no such key; then Keys must
	// name at least one.
	Secret string `yaml:"secret"`
	// SecretFile, when set, names a file whose contents, one trailing
	// newline trimmed, are the "default" key's secret instead of Secret;
	// its mode must give its group and others no access (600 or 400), as
	// KeyConfig.SecretFile's.
	SecretFile string `yaml:"secret_file"`
	// Keys are the keys tokens may be signed with, by kid. Several keys let
	// an issuer rotate: add the new key, move issuing to it, remove the old
	// one once its tokens have expired. Zero means only the Secret key.
	Keys []KeyConfig `yaml:"keys"`
	// SigningKey is the id of the key Issue and IssueFor sign with. Zero
	// means the first key that can sign: the Secret key, else the first of
	// Keys with a secret or a private_key_file; with none, Issue fails
	// with ErrNoSigner.
	SigningKey string `yaml:"signing_key"`
	// Issuer, when set, is the iss every token must carry, and the iss
	// Issue writes. Zero means iss is not checked (nor written).
	Issuer string `yaml:"issuer"`
	// Audience, when set, must be one of the aud entries of every token,
	// and Issue writes it as aud. Zero means aud is not checked (nor
	// written).
	Audience string `yaml:"audience"`
	// MaxTTL caps how far in the future a token's exp may be when issued,
	// counted in whole seconds. Verify does not apply it: the login service
	// sets its own. Zero means 24h.
	MaxTTL time.Duration `yaml:"max_ttl"`
	// Leeway is the clock skew tolerated on exp, nbf and iat: a token is
	// accepted until exp+leeway, from nbf-leeway, and with an iat up to
	// leeway in the future. Zero means 5s; more than MaxLeeway is refused
	// (a mistaken 24h would accept tokens a day past their exp).
	Leeway time.Duration `yaml:"leeway"`
	// Anonymous are the entitlements of a viewer without a token (when the
	// gateway allows anonymous market data): Verifier.Anonymous. Nil means
	// L1 on every market ("*:L1"); an empty set ({} or "none") grants
	// nothing.
	Anonymous Entitlements `yaml:"anonymous"`
	// DefaultEntitlements are the entitlements of a token that has no "ent"
	// claim. Nil means L2 on every market ("*:L2"), what every token
	// granted before entitlements existed; an empty set grants nothing, so
	// that only tokens with an ent claim see market data.
	DefaultEntitlements Entitlements `yaml:"default_entitlements"`
}

// keyConfigs returns every key of cfg, the Secret key first.
func (cfg Config) keyConfigs() []KeyConfig {
	var keys []KeyConfig
	if cfg.Secret != "" || cfg.SecretFile != "" {
		keys = append(keys, KeyConfig{ID: DefaultKeyID, Alg: AlgHS256, Secret: cfg.Secret, SecretFile: cfg.SecretFile})
	}
	return append(keys, cfg.Keys...)
}

// Validate checks cfg without reading its files: what a configuration
// loader can report with the file's name before anything starts. New checks
// it again, and the files.
func (cfg Config) Validate() error {
	_, err := cfg.withDefaults()
	return err
}

// withDefaults fills the documented defaults and validates cfg, without
// reading files. Errors wrap ErrConfig and never contain a secret.
func (cfg Config) withDefaults() (Config, error) {
	keys := cfg.keyConfigs()
	if len(keys) == 0 {
		return cfg, fmt.Errorf("%w: no key: set secret, secret_file or keys", ErrConfig)
	}
	seen := make(map[string]bool, len(keys))
	signing := ""
	for i, k := range keys {
		where := "secret"
		if j := i - (len(keys) - len(cfg.Keys)); j >= 0 {
			where = fmt.Sprintf("keys[%d]", j)
		}
		if err := k.check(); err != nil {
			return cfg, fmt.Errorf("%w: %s: %w", ErrConfig, where, err)
		}
		if seen[k.ID] {
			return cfg, fmt.Errorf("%w: %s: key id %q is used twice (secret's key is %q)", ErrConfig, where, k.ID, DefaultKeyID)
		}
		seen[k.ID] = true
		if signing == "" && k.canSign() {
			signing = k.ID
		}
	}
	if cfg.SigningKey != "" {
		k, ok := cfg.key(cfg.SigningKey)
		if !ok {
			return cfg, fmt.Errorf("%w: signing_key %q names no key", ErrConfig, cfg.SigningKey)
		}
		if !k.canSign() {
			return cfg, fmt.Errorf("%w: signing_key %q has no secret or private_key_file", ErrConfig, cfg.SigningKey)
		}
	} else {
		cfg.SigningKey = signing
	}
	if len(cfg.Issuer) > MaxNameLen || printable("issuer", cfg.Issuer) != nil {
		return cfg, fmt.Errorf("%w: issuer must be at most %d bytes of printable ASCII", ErrConfig, MaxNameLen)
	}
	if len(cfg.Audience) > MaxNameLen || printable("audience", cfg.Audience) != nil {
		return cfg, fmt.Errorf("%w: audience must be at most %d bytes of printable ASCII", ErrConfig, MaxNameLen)
	}
	if cfg.MaxTTL == 0 {
		cfg.MaxTTL = 24 * time.Hour
	}
	if cfg.MaxTTL < time.Second {
		return cfg, fmt.Errorf("%w: max_ttl %v must be at least 1s", ErrConfig, cfg.MaxTTL)
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = 5 * time.Second
	}
	if cfg.Leeway < 0 {
		return cfg, fmt.Errorf("%w: leeway %v is negative", ErrConfig, cfg.Leeway)
	}
	if cfg.Leeway > MaxLeeway {
		return cfg, fmt.Errorf("%w: leeway %v is more than %v: a clock skew that large is a clock to fix, and the leeway extends every token's life by as much", ErrConfig, cfg.Leeway, MaxLeeway)
	}
	if cfg.Anonymous == nil {
		cfg.Anonymous = DefaultAnonymous()
	}
	if err := cfg.Anonymous.validate(); err != nil {
		return cfg, fmt.Errorf("%w: anonymous: %w", ErrConfig, err)
	}
	if cfg.DefaultEntitlements == nil {
		cfg.DefaultEntitlements = FullEntitlements()
	}
	if err := cfg.DefaultEntitlements.validate(); err != nil {
		return cfg, fmt.Errorf("%w: default_entitlements: %w", ErrConfig, err)
	}
	return cfg, nil
}

// key returns the configuration of the key id.
func (cfg Config) key(id string) (KeyConfig, bool) {
	for _, k := range cfg.keyConfigs() {
		if k.ID == id {
			return k, true
		}
	}
	return KeyConfig{}, false
}

// Signer returns a Signer for the key id of cfg, writing cfg's Issuer and
// Audience and capped by its MaxTTL; id "" means cfg.SigningKey (see
// there). It reads that key's files only. The token command uses it.
func (cfg Config) Signer(id string) (*Signer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if id == "" {
		if id = cfg.SigningKey; id == "" {
			return nil, fmt.Errorf("%w: no key can sign (none has a secret or private_key_file)", ErrNoSigner)
		}
	}
	k, ok := cfg.key(id)
	if !ok {
		return nil, fmt.Errorf("%w: no key %q", ErrConfig, id)
	}
	return NewSigner(SignerConfig{Key: k, Issuer: cfg.Issuer, Audience: cfg.Audience, MaxTTL: cfg.MaxTTL})
}
