package system

import (
	"context"
	"log/slog"

	"golang.org/x/sync/errgroup"

	"sgw/configs"
	"sgw/sim"
	"sgw/sim/fixsim"
)

// Venue is the exchange simulator: the market feeds of a configuration's
// sim section and, with a fix_sim section, the FIX order acceptor trading
// on the same matching engine. `gateway sim` runs it as a process of its
// own (the gateway, run by `gateway run`, reaching it over loopback); the
// demos run it beside their gateways.
//
// NewVenue constructs; Run runs once, by one goroutine. The fields are
// read-only after NewVenue and safe to use from any goroutine.
type Venue struct {
	Sim *sim.Sim
	FIX *fixsim.Acceptor // nil without a fix_sim section
}

// NewVenue builds the simulator described by cfg, which must have a sim
// section, and binds its listeners, so that their addresses (Sim.Addr,
// FIX.LineAddr) are known at once.
func NewVenue(cfg *configs.File, log *slog.Logger) (*Venue, error) {
	sc, err := cfg.SimConfig()
	if err != nil {
		return nil, err
	}
	sc.Logger = log.With("component", "sim")
	v := &Venue{}
	if v.Sim, err = sim.New(sc); err != nil {
		return nil, err
	}
	if cfg.FIXSim != nil {
		if v.FIX, err = fixsim.New(*cfg.FIXSim, v.Sim, log.With("component", "fixsim")); err != nil {
			v.Sim.Close()
			return nil, err
		}
	}
	return v, nil
}

// Run serves the feeds and the FIX lines until ctx ends or one fails.
func (v *Venue) Run(ctx context.Context) error {
	eg, ctx := errgroup.WithContext(ctx)
	eg.Go(func() error { return v.Sim.Run(ctx) })
	if v.FIX != nil {
		eg.Go(func() error { return v.FIX.Run(ctx) })
	}
	return eg.Wait()
}

// Close releases a Venue that will not be run.
func (v *Venue) Close() {
	if v.FIX != nil {
		v.FIX.Close()
	}
	v.Sim.Close()
}
