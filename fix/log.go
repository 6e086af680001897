package fix

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/quickfixgo/quickfix"
)

// levelWire is the slog level of quickfix's per-message logs (every FIX
// message in and out): below Debug, so they cost one Enabled check unless
// asked for.
const levelWire = slog.LevelDebug - 4

// LogFactory adapts quickfix's LogFactory to log, each line prefixed with
// prefix ("fix", "broker"). Session events (connecting, logon, resend,
// timeouts) are logged at Info; every message in and out at a level below
// Debug. Every FIX engine of the gateway logs through it.
func LogFactory(log *slog.Logger, prefix string) quickfix.LogFactory {
	return slogFactory{log: log, prefix: prefix + ": "}
}

// slogFactory is LogFactory's quickfix.LogFactory.
type slogFactory struct {
	log    *slog.Logger
	prefix string
}

var _ quickfix.LogFactory = slogFactory{}

func (f slogFactory) Create() (quickfix.Log, error) {
	return slogLog{f.log, f.prefix}, nil
}

func (f slogFactory) CreateSessionLog(sid quickfix.SessionID) (quickfix.Log, error) {
	return slogLog{f.log.With("fix_session", sid.String()), f.prefix}, nil
}

type slogLog struct {
	log    *slog.Logger
	prefix string
}

func (l slogLog) OnIncoming(b []byte) { l.wire("in", b) }
func (l slogLog) OnOutgoing(b []byte) { l.wire("out", b) }
func (l slogLog) OnEvent(s string)    { l.log.Info(l.prefix + s) }
func (l slogLog) OnEventf(format string, args ...any) {
	l.log.Info(l.prefix + fmt.Sprintf(format, args...))
}

func (l slogLog) wire(dir string, b []byte) {
	if l.log.Enabled(context.Background(), levelWire) {
		l.log.Log(context.Background(), levelWire, l.prefix+"message", "dir", dir, "msg", string(b))
	}
}
