package tlcp

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// messagesIn returns the handshake messages of the plaintext handshake
// records at the start of a captured flight (testdata/peer-*.bin, frames
// gmtls sent), up to the first ChangeCipherSpec.
func messagesIn(flight []byte) [][]byte {
	var hand []byte
	for len(flight) >= recordHeaderLen {
		n := int(flight[3])<<8 | int(flight[4])
		if flight[0] != byte(recordTypeHandshake) || len(flight) < recordHeaderLen+n {
			break
		}
		hand = append(hand, flight[recordHeaderLen:recordHeaderLen+n]...)
		flight = flight[recordHeaderLen+n:]
	}
	var out [][]byte
	for len(hand) >= 4 {
		n := int(hand[1])<<16 | int(hand[2])<<8 | int(hand[3])
		if len(hand) < 4+n {
			break
		}
		out = append(out, hand[:4+n])
		hand = hand[4+n:]
	}
	return out
}

// FuzzMessages checks that every handshake message parser refuses or
// accepts without a panic, and that what it accepts re-encodes to the
// same bytes (one encoding per message: no parser leniency that a
// transcript could disagree on).
func FuzzMessages(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "peer-*.bin"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, m := range messagesIn(b) {
			f.Add(m)
		}
	}
	f.Add((&clientHelloMsg{vers: VersionTLCP, random: make([]byte, 32), cipherSuites: []uint16{ECC_SM4_GCM_SM3}, compression: []byte{0}, extensions: []byte{0, 0, 0, 0}}).marshal())
	f.Add((&certificateRequestMsg{certificateTypes: []byte{certTypeECDSASign}, certificateAuthorities: [][]byte{{0x30, 0}}}).marshal())
	f.Add((&certificateVerifyMsg{signature: []byte{0x30, 0}}).marshal())
	f.Add((&finishedMsg{verifyData: make([]byte, finishedLen)}).marshal())
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, m := range []handshakeMessage{
			new(clientHelloMsg), new(serverHelloMsg), new(certificateMsg), new(serverKeyExchangeMsg),
			new(certificateRequestMsg), new(serverHelloDoneMsg), new(clientKeyExchangeMsg),
			new(certificateVerifyMsg), new(finishedMsg),
		} {
			if m.unmarshal(data) {
				if got := m.marshal(); !bytes.Equal(got, data) {
					t.Fatalf("%T: re-encoded\n% x\nfrom\n% x", m, got, data)
				}
			}
		}
	})
}
