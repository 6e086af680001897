package journal

import (
	"fmt"
	"time"

	"sgw/atrest"
	"sgw/internal/dirsync"
)

// DefaultMaxRecord is the body size limit when Config.MaxRecord is zero.
const DefaultMaxRecord = 64 << 10

// MaxRecordLimit is the largest body the file format admits; Config.MaxRecord
// may not exceed it. Recovery accepts any record up to this size, so
// lowering MaxRecord never makes records already written unreadable.
const MaxRecordLimit = 16 << 20

// Config configures a Journal.
type Config struct {
	// Path is the journal file. Required. The file is created
	// (atomically, with its header) when it does not exist, and so are
	// the directories leading to it (mode 0700), each new one fsynced
	// into its parent: a crash right after the first acknowledged order
	// must not lose the directory that holds it.
	Path string
	// MaxRecord is the largest record body Append accepts; a longer one
	// gets ErrTooLarge. Zero means DefaultMaxRecord (64 KiB). At most
	// MaxRecordLimit.
	MaxRecord int
	// CommitInterval is the longest a batch waits for more appends before
	// it is written and fsynced. Zero means no wait: the writer commits
	// whatever is pending as soon as the previous fsync finished, so
	// appends that arrive during an fsync share the next one (natural
	// group commit). A positive value trades latency for fewer fsyncs.
	CommitInterval time.Duration
	// NoSync skips every fsync, so an acknowledged record can be lost in a
	// power failure or kernel crash. UNSAFE: for tests and benchmarks only,
	// never in production. Zero (false) means fsync.
	NoSync bool
	// OnSync, when set, is called by the journal's writer goroutine after
	// each batch is committed (written and, unless NoSync, fsynced) with
	// the number of records and bytes in the batch and how long the write
	// and fsync took. It is not called for a failed commit. It must be
	// quick and must not call Append or Close (it runs on the goroutine
	// they wait for). Nil means no callback. Use it to observe
	// gateway_journal_fsync_seconds and batch sizes.
	OnSync func(records int, bytes int, took time.Duration)
	// Keys, when set, seals the journal with SM4-GCM (see doc.go): a new
	// file is sealed under Keys.Current(); an existing sealed file is
	// opened with the key its header names, which Keys must hold (else
	// ErrKey); a plain file is refused (ErrPlain). Nil means a plain
	// journal, which refuses a sealed file (ErrKey).
	Keys *atrest.KeyRing

	// syncDir fsyncs a directory (tests count the calls); nil means
	// dirsync.Sync.
	syncDir func(dir string) error
}

// withDefaults returns cfg with zero values replaced by their defaults, or
// an error wrapping ErrConfig.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Path == "" {
		return cfg, fmt.Errorf("%w: Path is required", ErrConfig)
	}
	switch {
	case cfg.MaxRecord == 0:
		cfg.MaxRecord = DefaultMaxRecord
	case cfg.MaxRecord < 0:
		return cfg, fmt.Errorf("%w: MaxRecord %d is negative", ErrConfig, cfg.MaxRecord)
	case cfg.MaxRecord > MaxRecordLimit:
		return cfg, fmt.Errorf("%w: MaxRecord %d exceeds the format limit %d", ErrConfig, cfg.MaxRecord, MaxRecordLimit)
	}
	if cfg.syncDir == nil {
		cfg.syncDir = dirsync.Sync
	}
	if cfg.CommitInterval < 0 {
		return cfg, fmt.Errorf("%w: CommitInterval %v is negative", ErrConfig, cfg.CommitInterval)
	}
	return cfg, nil
}
