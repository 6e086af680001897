// Package feedpeer is a conformance kit for the market-data protocols the
// gateway ingests: an independent peer, written from the public
// specifications and sharing no code with the gateway's decoders (it imports
// none of feed, feed/itch, feed/soupbin, feed/szse or orderbook), so that a
// test can hold the gateway's feed handling against a second reading of the
// same documents, as an exchange's conformance tool does.
//
// Data flow: a Flow (seeded, deterministic) generates order-by-order events
// over several symbols: passive adds around a moving mid, executions of
// resting orders in price-time priority, partial cancels, deletes,
// replaces, hidden trades and crossing orders that take one or more levels;
// in the SZSE dialect, on request (Mix.OwnBest), own-best orders.
// A feed (ITCHFeed or SZSEFeed) takes the flow, encodes each event as one
// wire message and records it under its sequence number; one or more
// servers (ITCHServer over SoupBinTCP 3.0, SZSEServer over the SZSE Binary
// market-data session) serve the recorded stream on 127.0.0.1, so a primary
// and a backup send the same messages under the same numbers. A Book is a
// reference L3 book: the feed's Reference rebuilds it at any sequence
// number, for comparison with what the gateway shows. It prices an SZSE
// own-best order (OrdType U, 本方最优) by the venue's rule: at the best
// price of its own side when it arrives, behind the orders there; with that
// side empty the venue cancels it (SZSE trading rules), and the stream
// shows its cancel right after it.
//
//	flow, _ := feedpeer.NewFlow(7, []string{"600519", "000001"}, feedpeer.FlowConfig{})
//	feed, _ := feedpeer.NewITCHFeed(feedpeer.ITCHConfig{Tracking: feedpeer.TrackingSequence}, flow)
//	primary, _ := feedpeer.NewITCHServer(feedpeer.ITCHServerConfig{}, feed)
//	backup, _ := feedpeer.NewITCHServer(feedpeer.ITCHServerConfig{}, feed)
//	go primary.Run(ctx)
//	go backup.Run(ctx)
//	_, last, _ := feed.Publish(1000)
//	// ... point the gateway at primary.Addr() and backup.Addr(), wait until
//	// it has delivered last, then compare its books with
//	want := feed.Reference(last).Levels("600519", feedpeer.Buy, 10)
//
// Faults, per server: Kill and Restart (the source disappears and comes
// back on the same address), DropRange (the source leaves messages out of
// its live stream but still has them for a later login or retransmission;
// an SZSEServer's RefuseRetransmit makes it answer a ReTransmit of them
// "unavailable"), RepeatRange (an ITCHServer sends messages of its live
// stream twice and numbers on, a relay repeating them), EndSession (an
// ITCHServer ends its clients' sessions mid-stream with End of Session; a
// later login goes on in the same session), SetLoginDelay (the login is answered late), SetLag and
// SetDelay (the source runs behind the other), NewStream (the venue
// restarted without its messages: the server serves another feed,
// numbered from 1, under a new SoupBinTCP session name or the old one;
// for SZSE, of the next day or the same one).
//
// Goroutines: a Flow and a Book belong to one goroutine. Feeds and servers
// are safe for concurrent use; a server's Run serves connections on
// goroutines of its own (an accept loop, and a reader and a writer per
// connection) and returns once they have all ended. Server.Wait lets a test
// wait for a server event (a login, a heartbeat, messages sent) instead of
// sleeping.
//
// What the specifications leave open, and this peer infers:
//
//   - SoupBinTCP: a Requested Sequence Number of 0, or beyond the next
//     message, starts at the next message to be published, and Login
//     Accepted names it. Session is padded on the left with spaces in Login
//     Accepted; the peer reads the Login Request's fields padded on either
//     side.
//   - ITCH: Trade (P) messages carry Order Reference Number 0 and Buy/Sell
//     Indicator 'B', as Nasdaq sends them; Order Executed With Price (C)
//     is printable and carries the resting order's price. Stock Directory
//     fields other than Stock and Round Lot Size are fixed (Market Category
//     Q, Financial Status N, common stock). Tracking Numbers follow no
//     profile unless ITCHConfig asks for one.
//   - SZSE Binary (from the public interface specification as laid out in
//     xinchentechnote/fin-proto's SZSE binary description for the session
//     messages, and the 300111/300191/300192/390094/390095 layouts of the
//     market-data specification): every integer is big-endian; character
//     fields are left-justified and padded with spaces (SZSEConfig.PadNUL
//     pads with NULs); the checksum is the byte sum of header and body
//     modulo 256 in a u32. Order and trade prices are Int64 N13(4) (the
//     gateway's 0.0001 units); quantities Int64 N15(2) (shares × 100);
//     snapshot entry prices Int64 N18(6) (price units × 100); TotalValueTrade
//     Int64 N18(4). The order's OrdType is one byte ('2', limit) after
//     TransactTime; an own-best order has OrdType 'U' and Price 0 (it
//     names no price; the venue gives it one), and one the venue cancels
//     for an empty side is followed at once by its cancel, LastQty the
//     whole order. A cancel (300191 ExecType '4') carries LastPx 0 and
//     names the cancelled order's ApplSeqNum on its side, 0 on the other.
//     MDStreamID is "011" for orders and trades, "010" for snapshots;
//     SecurityIDSource "102"; TradingPhaseCode "T0". LocalTimeStamp is
//     YYYYMMDDHHMMSSsss of SZSEConfig.Date and the event time. A 300111
//     lists "0" bid and "1" ask entries by level (MDPriceLevel 1 = best,
//     NumberOfOrders the level's order count, the best level's order
//     quantities up to 50 in NoOrders/OrderQty), then, once the symbol has
//     traded, "2" last, "4" open, "7" high and "8" low with size and level
//     0; PrevClosePx is the flow's start price.
//   - SZSE sessions: the server's Logon answer swaps the CompIDs and echoes
//     HeartBtInt and DefaultApplVerID. ChannelHeartbeat carries the last
//     ApplSeqNum the server has on the channel (so a client sees a gap the
//     server left at the tail of the stream). A ReTransmit with
//     ApplEndSeqNum 0 asks for everything up to the last; the answer echoes
//     the request with ResendStatus 1 (done), 2 (cut short) or 4 (nothing
//     to send, RejectText saying why), then the messages. Snapshots are
//     not retransmitted.
package feedpeer
