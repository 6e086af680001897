package gateway

import (
	"fmt"
	"time"
)

// WSConfig configures the WebSocket endpoint /ws.
type WSConfig struct {
	// AnonymousMarketData lets clients without a token subscribe to market
	// data. Zero (false) means a token is required for everything.
	AnonymousMarketData bool `yaml:"anonymous_market_data"`
	// Origins are the Origin host patterns (path.Match syntax, e.g.
	// "*.example.com") allowed to open a connection besides the page's own
	// host. ["*"] allows any origin. Zero means same-origin only.
	Origins []string `yaml:"origins"`
	// MaxMessageBytes caps a client message; a larger one closes the
	// connection with 1009. Zero means 4096.
	MaxMessageBytes int64 `yaml:"max_message_bytes"`
	// MaxSubscriptions caps a connection's subscriptions (channel × symbol).
	// Zero means 200.
	MaxSubscriptions int `yaml:"max_subscriptions"`
	// MaxMessagesPerSecond is the sustained rate of client messages a
	// connection may send; bursts of twice that pass. Zero means 20.
	MaxMessagesPerSecond int `yaml:"max_messages_per_second"`
	// MaxConnectionsPerIP caps concurrent connections from one address
	// (an IPv6 client's /64), relayed ones included.
	// Zero means 100.
	MaxConnectionsPerIP int `yaml:"max_connections_per_ip"`
	// MaxConnections caps all connections: those served here and, on a
	// cluster follower, those relayed to the leader. Zero means 100000.
	MaxConnections int `yaml:"max_connections"`
	// QueueBytes bounds what may wait to be written to one client. A
	// client whose backlog would exceed it has the backlog replaced by
	// fresh snapshots. Zero means 256 KiB; at least 64 KiB.
	QueueBytes int `yaml:"queue_bytes"`
	// SlowTimeout closes a client (4008) that has not caught up within
	// this long of falling behind. Zero means 5s.
	SlowTimeout time.Duration `yaml:"slow_timeout"`
	// WriteTimeout bounds one write to a client, and how long a client
	// closed for flooding gets to read the errors that preceded the close.
	// Zero means 10s.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// CloseTimeout bounds closing a connection (slow consumer, token
	// expiry, idle, server shutdown): a client that has not completed the
	// close handshake this long after the server began it, one that does
	// not read, has its TCP connection closed. Zero means 1s.
	CloseTimeout time.Duration `yaml:"close_timeout"`
	// PingInterval is how often the server pings a client. Zero means 15s.
	PingInterval time.Duration `yaml:"ping_interval"`
	// IdleTimeout closes a client from which nothing (message or pong)
	// arrived for this long. Zero means 45s.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// History is how many updates per symbol are kept for resuming
	// subscribers. Zero means 1024.
	History int `yaml:"history"`
	// MaxFrameBytes caps the frame a writer batches queued messages into.
	// Zero means 64 KiB.
	MaxFrameBytes int `yaml:"max_frame_bytes"`
}

// withDefaults fills the documented defaults and validates cfg.
func (cfg WSConfig) withDefaults() (WSConfig, error) {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if cfg.MaxMessageBytes == 0 {
		cfg.MaxMessageBytes = 4096
	}
	def(&cfg.MaxSubscriptions, 200)
	def(&cfg.MaxMessagesPerSecond, 20)
	def(&cfg.MaxConnectionsPerIP, 100)
	def(&cfg.MaxConnections, 100000)
	def(&cfg.QueueBytes, 256<<10)
	def(&cfg.History, 1024)
	def(&cfg.MaxFrameBytes, 64<<10)
	defD(&cfg.SlowTimeout, 5*time.Second)
	defD(&cfg.WriteTimeout, 10*time.Second)
	defD(&cfg.CloseTimeout, time.Second)
	defD(&cfg.PingInterval, 15*time.Second)
	defD(&cfg.IdleTimeout, 45*time.Second)
	switch {
	case cfg.MaxMessageBytes < 256:
		return cfg, fmt.Errorf("%w: ws.max_message_bytes %d: at least 256", ErrConfig, cfg.MaxMessageBytes)
	case cfg.QueueBytes < 64<<10:
		return cfg, fmt.Errorf("%w: ws.queue_bytes %d: at least 65536", ErrConfig, cfg.QueueBytes)
	case cfg.MaxSubscriptions < 0 || cfg.MaxMessagesPerSecond < 0 || cfg.MaxConnectionsPerIP < 0 || cfg.MaxConnections < 0 || cfg.History < 0:
		return cfg, fmt.Errorf("%w: ws limits must be positive", ErrConfig)
	case cfg.SlowTimeout < 0 || cfg.WriteTimeout < 0 || cfg.CloseTimeout < 0 || cfg.PingInterval < 0:
		return cfg, fmt.Errorf("%w: ws timeouts must be positive", ErrConfig)
	case cfg.IdleTimeout <= cfg.PingInterval:
		return cfg, fmt.Errorf("%w: ws.idle_timeout %v must exceed ws.ping_interval %v", ErrConfig, cfg.IdleTimeout, cfg.PingInterval)
	case cfg.MaxFrameBytes < 4096:
		return cfg, fmt.Errorf("%w: ws.max_frame_bytes %d: at least 4096", ErrConfig, cfg.MaxFrameBytes)
	}
	return cfg, nil
}
