package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"

	"sgw/feed/capture"
	"sgw/sim"
)

// runReplay parses the replay command line and serves a capture as a feed
// source of its protocol (SoupBinTCP/ITCH or SZSE Binary) until ctx ends.
func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("capture", "", "capture file, or directory of a feed's capture files (required)")
	feedName := fs.String("feed", "", "the feed whose files to play, when the directory holds several")
	stream := fs.String("stream", "", "stream to play: arbitrated, primary or backup (default: arbitrated when recorded, else primary)")
	speed := fs.String("speed", "1", "1: as recorded; N: N times faster; max: as fast as possible")
	var cfg sim.PlayerConfig
	fs.StringVar(&cfg.Listen.Addr, "listen", "127.0.0.1:0", "address to serve the recording on (SoupBinTCP, or SZSE Binary for an SZSE capture)")
	fs.StringVar(&cfg.Session, "session", "", "SoupBinTCP session name (default SIM)")
	fs.StringVar(&cfg.Username, "username", "", "username a login must present (default: any login)")
	fs.StringVar(&cfg.Password, "password", "", "password a login (SZSE: Logon) must present")
	fs.StringVar(&cfg.SenderCompID, "sender-comp-id", "", "SZSE: SenderCompID a Logon must carry (default: any)")
	fs.StringVar(&cfg.TargetCompID, "target-comp-id", "", "SZSE: TargetCompID a Logon must carry, the player's own (default: any)")
	numbering := fs.Uint("numbering", 0, "which of the capture's streams numbered afresh to play (a venue's renumbering, a new session, starts one): 0 the first")
	verbose := fs.Bool("v", false, "log connections")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("replay: unexpected arguments %q", fs.Args())
	case *path == "":
		return errors.New("replay: -capture FILE_OR_DIR is required")
	}
	if *speed != "max" {
		v, err := strconv.ParseFloat(*speed, 64)
		if err != nil || !(v > 0) {
			return fmt.Errorf("replay: -speed %q: want a positive number or max", *speed)
		}
		cfg.Speed = v
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	files, err := capture.Files(*path, *feedName, *stream)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	h, err := capture.ReadHeader(files[0])
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	cfg.Protocol = h.Protocol
	if *numbering > math.MaxUint32 {
		return fmt.Errorf("replay: -numbering %d: too large", *numbering)
	}
	cfg.Stream = uint32(*numbering)
	p, err := sim.NewPlayer(cfg)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	fmt.Fprintf(stdout, "replay: serving %d %s capture file(s) from %s on %s (speed %s)\n", len(files), h.Protocol, *path, p.Addr(), *speed)
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(ctx) }()
	st, err := p.Play(ctx, files)
	if err != nil && ctx.Err() == nil {
		p.Close()
		<-runErr
		return err
	}
	if err == nil {
		fmt.Fprintf(stdout, "replay: published %d messages (last sequence number %d, %d missing from the capture); serving until interrupted\n",
			st.Messages, st.Last, st.Holes)
		if st.Streams > 1 {
			fmt.Fprintf(stdout, "replay: the capture holds %d numberings; played %d (-numbering), %d messages of the others not played\n",
				st.Streams, cfg.Stream, st.Skipped)
		}
	}
	return <-runErr
}
