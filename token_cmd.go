package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"sgw/auth"
	"sgw/configs"
)

// runToken parses the token command line, mints a token issued at now and
// prints it. The key comes from a config's auth section (-config, with -kid
// to pick one of its keys) or from a key file (-key, -alg, -kid).
func runToken(args []string, stdout, stderr io.Writer, now time.Time) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file whose auth section holds the key (its signing_key, or -kid)")
	keyFile := fs.String("key", "", "private key PEM (EdDSA, ES256, SM2SM3) or secret file (HS256), instead of -config")
	alg := fs.String("alg", "", "algorithm of -key: HS256, EdDSA, ES256 or SM2SM3")
	kid := fs.String("kid", "", "key id written as the token's kid (with -config: which key to sign with)")
	sub := fs.String("sub", "", "subject (required)")
	iss := fs.String("iss", "", "issuer (default: the config's issuer)")
	aud := fs.String("aud", "", "audience (default: the config's audience)")
	admin := fs.Bool("admin", false, "an operator's token (adm claim)")
	ttl := fs.Duration("ttl", time.Hour, "time to live")
	var accounts []string
	fs.Func("accounts", "comma-separated accounts the subject may trade (default: none, market data only)", func(v string) error {
		accounts = strings.Split(v, ",")
		return nil
	})
	var ent auth.Entitlements
	fs.Func("ent", "market-data entitlements, such as SH:L2,SZ:L1 or *:L1 (default: no ent claim, so the gateway's default_entitlements)", func(v string) error {
		var err error
		ent, err = auth.ParseEntitlements(v)
		return err
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("token: unexpected arguments %q", fs.Args())
	}
	if *sub == "" {
		return errors.New("token: -sub is required")
	}
	var s *auth.Signer
	var err error
	switch {
	case *configPath != "" && *keyFile != "":
		return errors.New("token: give -config or -key, not both")
	case *configPath != "":
		if *alg != "" {
			return errors.New("token: -alg goes with -key; a config's keys name their own")
		}
		cfg, err := configs.Load(*configPath)
		if err != nil {
			return err
		}
		if cfg.Auth == nil {
			return fmt.Errorf("token: %s has no auth section", *configPath)
		}
		if s, err = cfg.Auth.Signer(*kid); err != nil {
			return err
		}
	case *keyFile != "":
		if *alg == "" || *kid == "" {
			return errors.New("token: -key needs -alg and -kid")
		}
		k := auth.KeyConfig{ID: *kid, Alg: *alg, PrivateKeyFile: *keyFile}
		if *alg == auth.AlgHS256 {
			k.PrivateKeyFile, k.SecretFile = "", *keyFile
		}
		if s, err = auth.NewSigner(auth.SignerConfig{Key: k}); err != nil {
			return err
		}
	default:
		return errors.New("token: -config FILE or -key FILE is required")
	}
	c := auth.Claims{Subject: *sub, Accounts: accounts, Admin: *admin, Entitlements: ent,
		Expires: now.Add(*ttl).Unix(), Issuer: *iss}
	if *aud != "" {
		c.Audience = []string{*aud}
	}
	tok, err := s.Sign(c, now)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}
