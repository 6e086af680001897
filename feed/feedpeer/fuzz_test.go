package feedpeer

import (
	"bufio"
	"bytes"
	"testing"
)

// FuzzParseLoginRequest feeds the SoupBinTCP login parser arbitrary
// payloads, seeded with real ones: it must never panic, and what it accepts
// must have been 46 bytes.
func FuzzParseLoginRequest(f *testing.F) {
	f.Add([]byte("user  secret              " + "                  17"))
	f.Add([]byte("u     p         SGWPEER   " + "5                   "))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		if _, err := parseLoginRequest(p); err == nil && len(p) != soupLoginRequestLen {
			t.Fatalf("accepted %d bytes", len(p))
		}
	})
}

// FuzzReadSZSE feeds the SZSE message reader and the client-message parsers
// arbitrary bytes, seeded with real frames.
func FuzzReadSZSE(f *testing.F) {
	f.Add(appendSZSE(nil, szseLogon, logonBody("CLIENT1", "MDGW", 3, "pw", "1.00", ' ')))
	f.Add(appendSZSE(nil, szseReTransmit, reTransmit{resendType: 1, channel: 2011, beg: 1, end: 9}.body(' ')))
	f.Add(appendSZSE(nil, szseHeartbeat, nil))
	f.Add([]byte{0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, body, err := readSZSE(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			return
		}
		if len(body) > maxClientBody {
			t.Fatalf("body of %d bytes", len(body))
		}
		switch typ {
		case szseLogon:
			parseLogon(body)
		case szseReTransmit:
			parseReTransmit(body)
		}
	})
}
