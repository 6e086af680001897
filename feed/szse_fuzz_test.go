package feed

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"sgw/feed/szse"
)

// orderSZSESink fails the fuzz run if a channel's records are not
// delivered once each, in ApplSeqNum order, from 1 again after a reset.
type orderSZSESink struct {
	t    *testing.T
	last map[uint16]int64
}

func (o *orderSZSESink) ApplySZSE(m *szse.Message, _ int64) error {
	switch m.Type {
	case szse.TypeOrder, szse.TypeTrade:
		ch, seq := recordKey(m)
		if seq != o.last[ch]+1 {
			o.t.Fatalf("channel %d: record %d delivered after %d", ch, seq, o.last[ch])
		}
		o.last[ch] = seq
	case szse.TypeSnapshot:
	default:
		o.t.Fatalf("delivered a %s", m.Type)
	}
	return nil
}

func (o *orderSZSESink) ResetChannel(ch uint16) error { o.last[ch] = 0; return nil }
func (o *orderSZSESink) ChannelLive(uint16) error     { return nil }

// FuzzSZSESource feeds arbitrary bytes to a source that has just sent its
// Logon, as a misbehaving MDGW would, then lets the supervisor's checks
// run over the following minute: the source must never panic, must
// consume only whole frames (what it leaves is an unfinished frame), and
// the sink must see every channel's records once and in order. Seeded
// with real frames built by feed/szse.
func FuzzSZSESource(f *testing.F) {
	logon := func() []byte {
		var l szse.Logon
		_ = szse.PutString(l.SenderCompID[:], "MDGW")
		_ = szse.PutString(l.DefaultApplVerID[:], "1.02")
		return szse.AppendLogon(nil, &l)
	}
	stream := logon()
	for seq := int64(1); seq <= 6; seq++ {
		stream = append(stream, record(2011, seq)...)
	}
	snap := szse.Snapshot{ChannelNo: 1011, Entries: []szse.MDEntry{{MDEntryType: [2]byte{'0', ' '}, MDEntryPx: 10_000_000, MDEntrySize: 10000, MDPriceLevel: 1, NumberOfOrders: 1, Orders: []szse.Qty2{10000}}}}
	snapFrame, err := szse.AppendSnapshot(nil, &snap)
	if err != nil {
		f.Fatal(err)
	}
	ahead := append(logon(), record(2011, 5)...)
	ahead = szse.AppendChannelHeartbeat(ahead, &szse.ChannelHeartbeat{ChannelNo: 2011, ApplLastSeqNum: 9})
	ahead = szse.AppendReTransmit(ahead, &szse.ReTransmit{ResendType: 1, ChannelNo: 2011, ApplBegSeqNum: 1, ApplEndSeqNum: 4, ResendStatus: szse.ResendStatusDone})
	for seq := int64(1); seq <= 4; seq++ {
		ahead = append(ahead, record(2011, seq)...)
	}
	unknown := []byte{0, 4, 183, 19, 0, 0, 0, 2, 1, 2}
	unknown = append(unknown, 0, 0, 0, byte(szse.Checksum(unknown)))
	logout := szse.AppendLogout(nil, &szse.Logout{SessionStatus: 5})

	f.Add(logon())
	f.Add(stream)
	f.Add(append(stream, snapFrame...))
	f.Add(ahead)
	f.Add(append(append(logon(), unknown...), record(2012, 1)...))
	f.Add(append(append(logon(), record(2011, 3)...), record(2011, 2)...))
	f.Add(append(logon(), logout...))
	f.Add(append(logon(), szse.AppendHeartbeat(nil)...))
	f.Add(record(2011, 1))
	f.Add(stream[:len(stream)-3])
	f.Fuzz(func(t *testing.T, b []byte) {
		sink := &orderSZSESink{t: t, last: map[uint16]int64{}}
		fd, err := NewSZSE(Config{Name: "fuzz", Primary: SourceConfig{Addr: "127.0.0.1:1"}, Backup: SourceConfig{Addr: "127.0.0.1:2"}, Window: 64}, sink, nil)
		if err != nil {
			t.Fatal(err)
		}
		ss := &szseSession{s: fd.srcs[Primary]}
		now := time.Unix(1_700_000_000, 0)
		used, serr := ss.consume(b, now)
		if used < 0 || used > len(b) {
			t.Fatalf("consumed %d of %d bytes", used, len(b))
		}
		if serr == nil && used < len(b) {
			var m szse.Message
			if _, err := szse.Decode(b[used:], &m); !errors.Is(err, szse.ErrTruncated) {
				t.Fatalf("left %d bytes that are not an unfinished frame: %v", len(b)-used, err)
			}
		}
		if serr != nil && serr.reason == "" {
			t.Fatalf("an error without a reason: %v", serr.err)
		}
		for range 60 {
			now = now.Add(time.Second)
			fd.arb.Check(now, nil)
		}
		_ = fmt.Sprint(fd.Status())
	})
}
