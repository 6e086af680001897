package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"sgw/configs"
	"sgw/system"
)

// runCheckConfig validates the configuration file named on the command
// line completely, starting nothing (system.Check), and prints a one-line
// summary when it is valid.
func runCheckConfig(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: gateway check-config FILE\n\n"+
			"Validates FILE as `run` (or, if it names the in-process simulator, `demo`) would\n"+
			"build it, starting nothing: no socket is opened, no file written. The TLS\n"+
			"certificates, keys and CA bundles, token keys, broker passwords and the storage\n"+
			"key file it names are read and parsed. Exit status 0 and one line \"ok: ...\"\n"+
			"when valid; otherwise every invalid section, named by its YAML path.\n")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("check-config: want one configuration file")
	}
	path := fs.Arg(0)
	cfg, err := configs.Load(path)
	if err != nil {
		return fmt.Errorf("check-config: %w", err)
	}
	rep, err := system.Check(cfg)
	if err != nil {
		return fmt.Errorf("check-config: %s: %w", path, err)
	}
	fmt.Fprintf(stdout, "ok: %s: %s\n", path, rep)
	return nil
}
