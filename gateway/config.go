package gateway

import (
	"fmt"
	"net"
	"time"
)

// Config configures the gateway's HTTP listener.
type Config struct {
	// HTTP is the listen address. Zero means 127.0.0.1:8080.
	HTTP string `yaml:"http"`
	// DefaultDepth is the book depth served when a request names none. Zero
	// means 10.
	DefaultDepth int `yaml:"default_depth"`
	// MaxDepth caps the depth a request may ask for. Zero means the books'
	// published depth.
	MaxDepth int `yaml:"max_depth"`
	// ReadHeaderTimeout bounds reading a request's headers. Zero means 5s.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ShutdownTimeout bounds how long HTTP requests in flight at shutdown
	// may take to finish before their connections are cut; WebSocket
	// connections are bounded by WS.CloseTimeout. Zero means 5s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// WS configures the WebSocket endpoint /ws.
	WS WSConfig `yaml:"ws"`
	// Admins are the token subjects allowed to use the admin endpoints
	// (kill switch). Zero means nobody.
	Admins []string `yaml:"admins"`
	// Pprof serves Go's profiles at /debug/pprof/ on the HTTP listener.
	// Zero (false) means off; turn it on only behind an operator network.
	Pprof bool `yaml:"pprof"`
}

// withDefaults fills the documented defaults and validates cfg. publishedDepth
// is the depth the books publish.
func (cfg Config) withDefaults(publishedDepth int) (Config, error) {
	if cfg.HTTP == "" {
		cfg.HTTP = "127.0.0.1:8080"
	}
	if _, _, err := net.SplitHostPort(cfg.HTTP); err != nil {
		return cfg, fmt.Errorf("%w: http %q: %v", ErrConfig, cfg.HTTP, err)
	}
	if cfg.MaxDepth == 0 || cfg.MaxDepth > publishedDepth {
		cfg.MaxDepth = publishedDepth
	}
	if cfg.DefaultDepth == 0 {
		cfg.DefaultDepth = min(10, cfg.MaxDepth)
	}
	if cfg.DefaultDepth < 0 || cfg.DefaultDepth > cfg.MaxDepth || cfg.MaxDepth < 0 {
		return cfg, fmt.Errorf("%w: default_depth %d must be within 1..max_depth %d", ErrConfig, cfg.DefaultDepth, cfg.MaxDepth)
	}
	if cfg.ReadHeaderTimeout == 0 {
		cfg.ReadHeaderTimeout = 5 * time.Second
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 5 * time.Second
	}
	return cfg, nil
}
