package fix

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/quickfixgo/quickfix"
)

// levelWire is the slog level of quickfix's per-message logs (every FIX
// message in and out): below Debug, so they cost one Enabled check unless
// asked for.
const levelWire = slog.LevelDebug - 4

// LogFactory adapts quickfix's LogFactory to log, each line prefixed with
// prefix ("fix", "broker", "fixsim"). Session events (connecting, logon,
// resend, timeouts) are logged at Info with the session's id
// (fix_session); every message in and out at a level below Debug (see
// RenderMessage), formatted only when that level is enabled. Messages that
// quickfix puts in its event texts (a message it could not parse, one
// that came in the wrong state) are replaced by their size at Info and
// logged whole at the wire level: message contents never reach Info. Every
// FIX engine of the gateway logs through it. Its logs are safe for
// concurrent use.
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
	ctx := context.Background()
	if !l.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	redacted := make([]any, len(args))
	var whole [][]byte
	for i, a := range args {
		var b []byte
		switch v := a.(type) {
		case []byte:
			b = v
		case *bytes.Buffer:
			b = v.Bytes()
		case *quickfix.Message:
			b = v.Bytes()
		default:
			redacted[i] = a
			continue
		}
		redacted[i] = "<message of " + strconv.Itoa(len(b)) + " bytes>"
		whole = append(whole, b)
	}
	l.log.Info(l.prefix + fmt.Sprintf(format, redacted...))
	for _, b := range whole {
		l.wire("event", b)
	}
}

func (l slogLog) wire(dir string, b []byte) {
	if l.log.Enabled(context.Background(), levelWire) {
		l.log.Log(context.Background(), levelWire, l.prefix+"message", "dir", dir, "msg", RenderMessage(b))
	}
}

// secretTags are the fields RenderMessage masks: Password (554),
// NewPassword (925), RawData (96, which carries credentials in some
// Logons) and EncryptedPasswordMethod's EncryptedPassword (1402).
var secretTags = [...]string{"\x01554=", "\x01925=", "\x0196=", "\x011402="}

// RenderMessage renders a FIX frame for logs: SOH shown as '|', the values
// of the secretTags replaced by "***".
func RenderMessage(b []byte) string {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != 0x01 {
			out = append(out, c)
			continue
		}
		out = append(out, '|')
		for _, st := range secretTags {
			if bytes.HasPrefix(b[i:], []byte(st)) {
				out = append(out, st[1:]...)
				out = append(out, "***"...)
				j := bytes.IndexByte(b[i+len(st):], 0x01)
				if j < 0 {
					return string(out)
				}
				i += len(st) + j - 1
				break
			}
		}
	}
	return string(out)
}
