package capture

import (
	"fmt"
	"time"
)

// Config configures the capture of one feed (the `capture` section of a
// feed in the YAML). The zero value records nothing.
type Config struct {
	// Dir is the directory the files are written to, created if missing.
	// Empty (the default) turns capture off.
	Dir string `yaml:"dir"`
	// Record lists what to record: "sources" (the raw bytes each source
	// sent, one stream per source) and "arbitrated" (the sequenced
	// messages delivered to the books). Empty means both.
	Record []string `yaml:"record"`
	// MaxFileBytes starts a new file once the current one holds this many
	// bytes. Zero means 256 MiB.
	MaxFileBytes int64 `yaml:"max_file_bytes"`
	// MaxFileAge starts a new file once the current one is this old
	// (checked every FlushInterval). Zero means 1h.
	MaxFileAge time.Duration `yaml:"max_file_age"`
	// MaxFiles is how many files of each stream are kept: opening a new
	// one removes the oldest beyond it. Zero means 48.
	MaxFiles int `yaml:"max_files"`
	// QueueBytes bounds the memory holding records not yet written: once
	// it is full, records are dropped and counted, never waited for. Zero
	// means 8 MiB; at least one batch (16 KiB to 64 KiB) is used.
	QueueBytes int `yaml:"queue_bytes"`
	// FlushInterval is how often queued records are written and the files
	// flushed to the operating system even when no batch is full. Zero
	// means 100ms.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// Fsync is when files are fsynced: "close" (on rotation and when the
	// feed stops) or "flush" (also after every flush). Empty means
	// "close". Either way a crash of the gateway process loses nothing
	// flushed; a crash of the machine loses what was not fsynced, and the
	// reader reports the torn last record as ErrTruncated.
	Fsync string `yaml:"fsync"`

	// Hold, for tests, makes the writer receive from it before writing
	// each batch, so a test can keep the writer busy and fill the queue.
	// Nil (always, outside tests) means the writer never waits.
	Hold <-chan struct{} `yaml:"-"`
}

// Enabled reports whether cfg records anything.
func (cfg Config) Enabled() bool { return cfg.Dir != "" }

// Fsync policies of Config.Fsync.
const (
	FsyncClose = "close"
	FsyncFlush = "flush"
)

// What Config.Record may list.
const (
	RecordSources    = "sources"
	RecordArbitrated = "arbitrated"
)

// WithDefaults returns cfg with the documented defaults filled in, or an
// error wrapping ErrConfig naming the first invalid field.
func (cfg Config) WithDefaults() (Config, error) {
	if len(cfg.Record) == 0 {
		cfg.Record = []string{RecordSources, RecordArbitrated}
	}
	for _, r := range cfg.Record {
		if r != RecordSources && r != RecordArbitrated {
			return cfg, fmt.Errorf("%w: record: %q: want %q or %q", ErrConfig, r, RecordSources, RecordArbitrated)
		}
	}
	if cfg.MaxFileBytes == 0 {
		cfg.MaxFileBytes = 256 << 20
	}
	if cfg.MaxFileAge == 0 {
		cfg.MaxFileAge = time.Hour
	}
	if cfg.MaxFiles == 0 {
		cfg.MaxFiles = 48
	}
	if cfg.QueueBytes == 0 {
		cfg.QueueBytes = 8 << 20
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = 100 * time.Millisecond
	}
	if cfg.Fsync == "" {
		cfg.Fsync = FsyncClose
	}
	switch {
	case cfg.MaxFileBytes < 0 || cfg.MaxFileAge < 0 || cfg.MaxFiles < 0 || cfg.QueueBytes < 0 || cfg.FlushInterval < 0:
		return cfg, fmt.Errorf("%w: max_file_bytes, max_file_age, max_files, queue_bytes and flush_interval must be positive", ErrConfig)
	case cfg.Fsync != FsyncClose && cfg.Fsync != FsyncFlush:
		return cfg, fmt.Errorf("%w: fsync: %q: want %q or %q", ErrConfig, cfg.Fsync, FsyncClose, FsyncFlush)
	}
	return cfg, nil
}
