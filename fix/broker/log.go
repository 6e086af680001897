package broker

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

// slogFactory adapts quickfix's LogFactory to the acceptor's logger.
// Session events (logon, logout, rejects, resends) are logged at Info.
type slogFactory struct{ log *slog.Logger }

var _ quickfix.LogFactory = slogFactory{}

func (f slogFactory) Create() (quickfix.Log, error) { return slogLog{f.log}, nil }

func (f slogFactory) CreateSessionLog(sid quickfix.SessionID) (quickfix.Log, error) {
	return slogLog{f.log.With("fix_session", sid.String())}, nil
}

type slogLog struct{ log *slog.Logger }

func (l slogLog) OnIncoming(b []byte) { l.wire("in", b) }
func (l slogLog) OnOutgoing(b []byte) { l.wire("out", b) }
func (l slogLog) OnEvent(s string)    { l.log.Info("broker: " + s) }
func (l slogLog) OnEventf(format string, args ...any) {
	l.log.Info("broker: " + fmt.Sprintf(format, args...))
}

func (l slogLog) wire(dir string, b []byte) {
	if l.log.Enabled(context.Background(), levelWire) {
		l.log.Log(context.Background(), levelWire, "broker: message", "dir", dir, "msg", string(b))
	}
}
