package fix

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"sgw/fix/qfcpp"
)

// withSum rewrites a frame's CheckSum to match its bytes.
func withSum(f []byte) []byte {
	end := len(f) - 7
	return append(append([]byte(nil), f[:end]...), "10="+qfcpp.Checksum(f[:end])+"\x01"...)
}

// withText adds Text (58) to a frame, before its CheckSum, and sets its
// BodyLength and CheckSum.
func withText(f []byte, text string) []byte {
	out := append(append([]byte(nil), f[:len(f)-7]...), "58="+text+"\x01"...)
	i := bytes.Index(out, []byte("\x019=")) + 3
	j := i + bytes.IndexByte(out[i:], 1)
	return setBodyLength(append(out, "10=000\x01"...), strconv.Itoa(len(out)-j-1))
}

// setBodyLength rewrites a frame's BodyLength field to v (and its sum).
func setBodyLength(f []byte, v string) []byte {
	i := bytes.Index(f, []byte("\x019=")) + 3
	j := i + bytes.IndexByte(f[i:], 1)
	out := append(append(append([]byte(nil), f[:i]...), v...), f[j:]...)
	return withSum(out)
}

func TestCheckFrame(t *testing.T) {
	frames := readFrames(t, "session_in.fix")
	f := frames[1] // an ExecutionReport
	price := bytes.Index(f, []byte("44=1700.00"))
	tampered := append([]byte(nil), f...)
	tampered[price+3] = '9' // 1900.00: same length, bad sum
	longBody := setBodyLength(f, strconv.Itoa(len(f)))
	bl := func(d int) []byte {
		i := bytes.Index(f, []byte("\x019=")) + 3
		j := i + bytes.IndexByte(f[i:], 1)
		n, _ := strconv.Atoi(string(f[i:j]))
		return setBodyLength(f, strconv.Itoa(n+d))
	}
	withTag10 := withSum(bytes.Replace(f, []byte("\x0114=0\x01"), []byte("\x0110=0\x01"), 1))
	for _, tc := range []struct {
		name    string
		in      []byte
		max     int
		n       int
		garbled string
		tooBig  bool
	}{
		{name: "a frame", in: f, n: len(f)},
		{name: "a frame and more", in: append(append([]byte(nil), f...), frames[2]...), n: len(f)},
		{name: "a Logon", in: frames[0], n: len(frames[0])},
		{name: "empty", in: nil},
		{name: "a prefix", in: f[:3]},
		{name: "no trailer yet", in: f[:len(f)-1]},
		{name: "header only", in: f[:20]},
		{name: "price changed in transit", in: tampered, n: len(f), garbled: GarbledChecksum},
		{name: "checksum not digits", in: append(append([]byte(nil), f[:len(f)-4]...), "x91\x01"...), n: len(f), garbled: GarbledBodyLength},
		{name: "BodyLength one short", in: bl(-1), n: len(bl(-1)), garbled: GarbledBodyLength},
		{name: "BodyLength one long, then a frame", in: append(bl(1), frames[2]...), n: len(bl(1)), garbled: GarbledBodyLength},
		{name: "BodyLength one digit", in: []byte("8=FIX.4.4\x019=5\x0135=A\x0110=000\x01"), n: -1, garbled: GarbledBodyLength},
		{name: "CheckSum field in the body", in: withTag10, n: len(withTag10), garbled: GarbledBodyLength},
		{name: "junk, then a frame", in: append([]byte("hello\r\n"), f...), n: 7, garbled: GarbledFraming},
		{name: "junk with an 8 in a tag", in: []byte("58=FIX"), n: 1, garbled: GarbledFraming},
		{name: "junk ending in a prefix", in: []byte("xyz8=FI"), n: 3, garbled: GarbledFraming},
		{name: "BeginString too long", in: []byte("8=FIX.4.4.4.4.4.4.4.4\x019=10\x01"), n: -1, garbled: GarbledFraming},
		{name: "BeginString with a space", in: []byte("8=FIX 4.4\x019="), n: -1, garbled: GarbledFraming},
		{name: "no 9=", in: []byte("8=FIX.4.4\x0135=A\x01"), n: -1, garbled: GarbledFraming},
		{name: "BodyLength not a number", in: []byte("8=FIX.4.4\x019=1x\x01"), n: -1, garbled: GarbledFraming},
		{name: "a bad header, then a frame", in: append([]byte("8=FIX.4.4\x019=1x\x01"), f...), n: 15, garbled: GarbledFraming},
		{name: "BodyLength huge", in: []byte("8=FIX.4.4\x019=99999999"), tooBig: true},
		{name: "BodyLength over the limit", in: longBody, max: len(longBody) - 1, tooBig: true},
		{name: "at the limit", in: f, max: len(f), n: len(f)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			max := tc.max
			if max == 0 {
				max = DefaultMaxFrameBytes
			}
			n, garbled, err := CheckFrame(tc.in, max)
			if tc.n < 0 {
				tc.n = len(tc.in)
			}
			if tc.tooBig {
				if !errors.Is(err, ErrFrameTooLarge) {
					t.Fatalf("err %v; want ErrFrameTooLarge", err)
				}
				return
			}
			if err != nil || n != tc.n || garbled != tc.garbled {
				t.Fatalf("CheckFrame = %d, %q, %v; want %d, %q", n, garbled, err, tc.n, tc.garbled)
			}
			if n > 0 && garbled == "" && !qfcpp.VerifyFrame(tc.in[:n]) {
				t.Fatalf("verified %q, which the reference refuses", tc.in[:n])
			}
		})
	}
}

// chunkConn is a net.Conn reading its input in chunks of the given sizes
// (cycling), then io.EOF; writes are discarded.
type chunkConn struct {
	net.Conn // nil: only what is overridden is used
	in       []byte
	sizes    []int
	k        int
	closed   bool
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if c.closed {
		return 0, net.ErrClosed
	}
	if len(c.in) == 0 {
		return 0, io.EOF
	}
	n := len(c.in)
	if len(c.sizes) > 0 {
		n = min(n, max(1, c.sizes[c.k%len(c.sizes)]))
		c.k++
	}
	n = copy(p, c.in[:n])
	c.in = c.in[n:]
	return n, nil
}
func (c *chunkConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *chunkConn) Close() error                     { c.closed = true; return nil }
func (c *chunkConn) SetReadDeadline(time.Time) error  { return nil }
func (c *chunkConn) SetWriteDeadline(time.Time) error { return nil }
func (c *chunkConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

// readInbound reads everything an InboundConn passes on, in reads of 100
// bytes (quickfix's bufio reads are of 4 KiB; smaller ones cross more
// frame boundaries), and the events it reported.
func readInbound(in []byte, sizes []int, loggedOn bool, max int) (out []byte, evs []InboundEvent, c *InboundConn, err error) {
	c = NewInboundConn(&chunkConn{in: in, sizes: sizes}, InboundConfig{MaxFrameBytes: max,
		OnEvent: func(ev InboundEvent) { ev.Data = nil; evs = append(evs, ev) }})
	c.loggedOn = loggedOn
	buf := make([]byte, 100)
	for {
		n, rerr := c.Read(buf)
		out = append(out, buf[:n]...)
		if rerr != nil {
			return out, evs, c, rerr
		}
	}
}

func TestInboundConn(t *testing.T) {
	in := readFrames(t, "session_in.fix")
	logon, er1, er2 := in[0], in[1], in[2]
	garbled := append([]byte(nil), er1...)
	garbled[bytes.Index(garbled, []byte("44=1700"))+3] = '9'
	huge := []byte("8=FIX.4.4\x019=2000000000\x0135=D\x01")
	big := withText(er1, strings.Repeat("x", MinFrameLimit))
	cat := func(fs ...[]byte) []byte { return bytes.Join(fs, nil) }
	for _, tc := range []struct {
		name     string
		in       []byte
		loggedOn bool
		max      int
		want     []byte
		events   []InboundEvent
		closed   bool // ends with the connection closed by InboundConn (not EOF)
	}{
		{name: "a session's frames", in: cat(in...), want: cat(in...)},
		{name: "a garbled frame is dropped", in: cat(logon, garbled, er2), want: cat(logon, er2),
			events: []InboundEvent{{Reason: GarbledChecksum, Bytes: len(garbled), LoggedOn: true}}},
		{name: "junk between frames is dropped", in: cat(logon, []byte("\r\n"), er1), want: cat(logon, er1),
			events: []InboundEvent{{Reason: GarbledFraming, Bytes: 2, LoggedOn: true}}},
		{name: "first frame not a Logon", in: cat(er1, er2), closed: true,
			events: []InboundEvent{{Reason: ReasonNotLogon, Bytes: len(er1), Closed: true}}},
		{name: "first frame garbled", in: cat(garbled, logon), closed: true,
			events: []InboundEvent{{Reason: GarbledChecksum, Bytes: len(garbled), Closed: true}}},
		{name: "junk before the Logon", in: cat([]byte("GET / HTTP/1.1\r\n"), logon), closed: true,
			events: []InboundEvent{{Reason: GarbledFraming, Bytes: 16, Closed: true}}},
		{name: "huge BodyLength before the Logon", in: huge, closed: true,
			events: []InboundEvent{{Reason: ReasonTooLarge, Bytes: len(huge), Closed: true}}},
		{name: "huge BodyLength after the Logon", in: cat(logon, huge, er1), want: logon, loggedOn: false, closed: true,
			events: []InboundEvent{{Reason: ReasonTooLarge, Bytes: len(huge) + len(er1), Closed: true, LoggedOn: true}}},
		{name: "frame over a small limit", in: cat(logon, big), max: MinFrameLimit, want: logon, closed: true,
			events: []InboundEvent{{Reason: ReasonTooLarge, Closed: true, LoggedOn: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, sizes := range [][]int{nil, {1}, {7, 3, 100}} {
				out, evs, c, err := readInbound(tc.in, sizes, tc.loggedOn, tc.max)
				if !bytes.Equal(out, tc.want) {
					t.Fatalf("chunks %v: read %q; want %q", sizes, out, tc.want)
				}
				if tc.closed == errors.Is(err, io.EOF) || (tc.closed && !c.Conn.(*chunkConn).closed) {
					t.Fatalf("chunks %v: ended with %v; want closed %v", sizes, err, tc.closed)
				}
				// Junk is dropped as it arrives: in small reads, in
				// several events of the same reason.
				if sizes != nil && len(tc.events) == 1 && !tc.events[0].Closed {
					var merged InboundEvent
					for _, ev := range evs {
						merged.Bytes += ev.Bytes
						merged.Reason, merged.LoggedOn = ev.Reason, ev.LoggedOn
					}
					evs = []InboundEvent{merged}
				}
				if len(evs) != len(tc.events) {
					t.Fatalf("chunks %v: events %+v; want %+v", sizes, evs, tc.events)
				}
				for i := range evs {
					if evs[i].Reason != tc.events[i].Reason || evs[i].Closed != tc.events[i].Closed ||
						evs[i].LoggedOn != tc.events[i].LoggedOn || (!evs[i].Closed && evs[i].Bytes != tc.events[i].Bytes) {
						t.Errorf("chunks %v: event %+v; want %+v", sizes, evs[i], tc.events[i])
					}
				}
				if limit := max(tc.max, DefaultMaxFrameBytes) + inboundReadSize; c.BufferSize() > limit {
					t.Errorf("chunks %v: buffered %d bytes; want at most %d", sizes, c.BufferSize(), limit)
				}
			}
		})
	}
}

// TestInboundConnHugeBodyLength declares a BodyLength of 2 GB over TCP and
// then keeps sending: the connection is closed at once and never buffers
// more than one read.
func TestInboundConnHugeBodyLength(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write([]byte("8=FIX.4.4\x019=2000000000\x0135=A\x01"))
		junk := bytes.Repeat([]byte("x"), 64<<10)
		for range 1 << 10 { // 64 MB unless the connection is closed
			if _, err := c.Write(junk); err != nil {
				return
			}
		}
	}()
	raw, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	var evs []InboundEvent
	c := NewInboundConn(raw, InboundConfig{OnEvent: func(ev InboundEvent) { evs = append(evs, ev) }})
	n, err := io.Copy(io.Discard, c)
	if n != 0 || err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("read %d bytes, %v; want nothing and an error", n, err)
	}
	if len(evs) != 1 || evs[0].Reason != ReasonTooLarge || !evs[0].Closed {
		t.Fatalf("events %+v", evs)
	}
	if c.BufferSize() > inboundReadSize {
		t.Errorf("buffered %d bytes", c.BufferSize())
	}
}

// TestInboundConnLogon checks the Logon gate: CheckLogon sees the first
// frame and may refuse it; a silent connection times out.
func TestInboundConnLogon(t *testing.T) {
	in := readFrames(t, "session_in.fix")
	t.Run("refused", func(t *testing.T) {
		var seen []byte
		c := NewInboundConn(&chunkConn{in: bytes.Join(in, nil)}, InboundConfig{CheckLogon: func(f []byte) error {
			seen = append(seen, f...)
			return errors.New("no")
		}})
		n, err := c.Read(make([]byte, 4096))
		if n != 0 || err == nil || !c.Conn.(*chunkConn).closed || !bytes.Equal(seen, in[0]) {
			t.Fatalf("read %d, %v; CheckLogon saw %q", n, err, seen)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		local, remote := net.Pipe()
		defer remote.Close()
		var evs []InboundEvent
		c := NewInboundConn(local, InboundConfig{LogonTimeout: time.Millisecond, OnEvent: func(ev InboundEvent) { evs = append(evs, ev) }})
		if _, err := c.Read(make([]byte, 10)); err == nil {
			t.Fatal("read succeeded")
		}
		if len(evs) != 1 || evs[0].Reason != ReasonLogonTimeout || !evs[0].Closed {
			t.Fatalf("events %+v", evs)
		}
	})
}

func TestFrameFieldsOfVerified(t *testing.T) {
	logon := readFrames(t, "session_in.fix")[0]
	if mt := FrameMsgType(logon); string(mt) != "A" {
		t.Errorf("FrameMsgType = %q", mt)
	}
	var got []string
	ScanFields(logon, func(tag int, v []byte) bool {
		got = append(got, strconv.Itoa(tag)+"="+string(v))
		return tag != 56
	})
	want := "8=FIX.4.4 9=65 35=A 34=1 49=CORE 52=20261122-00:46:45.000 56=GATEWAY"
	if strings.Join(got, " ") != want {
		t.Errorf("ScanFields: %v", got)
	}
	ScanFields([]byte("x=1\x01=2\x01123456789012=3\x0155"), func(tag int, v []byte) bool {
		if tag != -1 && tag != 55 {
			t.Errorf("tag %d %q", tag, v)
		}
		return true
	})
}

// FuzzCheckFrame feeds arbitrary bytes, read in arbitrary chunks, through
// an InboundConn after its Logon, seeded with the recorded sessions'
// frames (as quickfix wrote them) and damaged copies. Whatever arrives, it
// must not panic, must pass on only frames the test's own reference
// verifier accepts, in the order they came, must pass a stream of valid
// frames through unchanged, and must pass the same bytes however the input
// is split.
func FuzzCheckFrame(f *testing.F) {
	for _, name := range []string{"session_in.fix", "session_out.fix"} {
		frames := readFrames(f, name)
		f.Add(bytes.Join(frames, nil), uint8(0), uint8(1))
		for _, fr := range frames {
			f.Add(fr, uint8(7), uint8(3))
			bad := append([]byte(nil), fr...)
			bad[len(bad)/2] ^= 0x20
			f.Add(append(bad, fr...), uint8(13), uint8(1))
		}
	}
	f.Add([]byte("8=FIX.4.4\x019=99999999\x01"), uint8(1), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, s1, s2 uint8) {
		a, _, _, _ := readInbound(in, []int{int(s1)}, true, MinFrameLimit*4)
		b, _, _, _ := readInbound(in, []int{int(s2), 1}, true, MinFrameLimit*4)
		if !bytes.Equal(a, b) {
			t.Fatalf("split %d: %q; split %d: %q", s1, a, s2, b)
		}
		rest := in
		for len(a) > 0 {
			n, garbled, err := CheckFrame(a, MinFrameLimit*4)
			if n == 0 || garbled != "" || err != nil || !qfcpp.VerifyFrame(a[:n]) {
				t.Fatalf("passed on %q", a)
			}
			i := bytes.Index(rest, a[:n])
			if i < 0 {
				t.Fatalf("frame %q not in the input after the previous one", a[:n])
			}
			rest, a = rest[i+n:], a[n:]
		}
		valid := len(in) > 0
		for rest := in; len(rest) > 0 && valid; {
			n, garbled, err := CheckFrame(rest, MinFrameLimit*4)
			valid = n > 0 && garbled == "" && err == nil
			rest = rest[n:]
		}
		if valid {
			if out, _, _, _ := readInbound(in, nil, true, MinFrameLimit*4); !bytes.Equal(out, in) {
				t.Fatalf("valid stream changed: %q -> %q", in, out)
			}
		}
	})
}

// BenchmarkInboundConn reads a recorded session's frames through an
// InboundConn after its Logon: the cost of verification per frame.
func BenchmarkInboundConn(b *testing.B) {
	frames := readFrames(b, "session_in.fix")
	stream := bytes.Repeat(bytes.Join(frames[1:], nil), 64)
	n := 64 * (len(frames) - 1)
	buf := make([]byte, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	b.ResetTimer()
	for range b.N {
		c := NewInboundConn(&chunkConn{in: stream}, InboundConfig{})
		c.loggedOn = true
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/frame")
}
