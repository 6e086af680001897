package feed

import (
	"net"
	"sync"
	"testing"
)

// TestSecureLinkCloseConcurrent: the reader at a connection's end and the
// supervisor stopping the source may close a secured link at once. Before,
// close checked done and then closed it, and two callers could both close
// it: "close of closed channel" (seen once in a full run, system tests).
func TestSecureLinkCloseConcurrent(t *testing.T) {
	for range 200 {
		a, b := net.Pipe()
		l := &secureLink{c: a, out: make(chan []byte, 1), done: make(chan struct{})}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				<-start
				l.close()
			})
		}
		close(start)
		wg.Wait()
		b.Close()
	}
}
