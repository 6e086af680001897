package fixsim

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/quickfixgo/quickfix"
)

// logs adapts quickfix's logging to slog: session events at Info, every
// message in and out at Debug (formatted only when Debug is enabled), with
// SOH shown as '|'.
type logs struct{ log *slog.Logger }

var _ quickfix.LogFactory = logs{}

// Create implements quickfix.LogFactory.
func (f logs) Create() (quickfix.Log, error) {
	return qfLog{f.log.With("fix", "acceptor")}, nil
}

// CreateSessionLog implements quickfix.LogFactory.
func (f logs) CreateSessionLog(sid quickfix.SessionID) (quickfix.Log, error) {
	return qfLog{f.log.With("fix", sid.TargetCompID)}, nil
}

type qfLog struct{ l *slog.Logger }

func (q qfLog) msg(dir string, b []byte) {
	if q.l.Enabled(context.Background(), slog.LevelDebug) {
		q.l.Debug("fixsim: "+dir, "msg", strings.ReplaceAll(string(b), "\x01", "|"))
	}
}

func (q qfLog) OnIncoming(b []byte) { q.msg("in", b) }
func (q qfLog) OnOutgoing(b []byte) { q.msg("out", b) }
func (q qfLog) OnEvent(s string)    { q.l.Info("fixsim: " + s) }

func (q qfLog) OnEventf(format string, args ...any) {
	if q.l.Enabled(context.Background(), slog.LevelInfo) {
		q.l.Info("fixsim: " + fmt.Sprintf(format, args...))
	}
}
