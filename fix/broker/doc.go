// Package broker is the gateway's FIX acceptor for brokers and
// institutional clients: FIX 4.2 and 4.4 sessions (QuickFIX/Go) whose
// orders enter the order manager like the WebSocket's, and whose
// execution reports go back to the session that entered the order.
//
//	broker ─> listener (PROXY v2, address filter, TLS) ─> frame verifier + logon gate ─> quickfix session ─> decode ─> orders.Manager ─> risk ─> journal ─> upstream
//	broker <─ pacer <─ ExecutionReport / OrderCancelReject <─ session sink <─ orders.Manager events <─────────────────────────────────────────────────────┘
//
// # Frames
//
// Every connection is read through a fix.InboundConn, before quickfix
// (v0.9.11 never checks CheckSum, finds a frame's end by searching for the
// CheckSum field rather than by BodyLength, and buffers whatever
// BodyLength announces):
//   - each frame's BodyLength and CheckSum are verified; a garbled frame
//     (a CheckSum that does not match, BodyLength not ending at the
//     CheckSum field, bytes that do not begin a frame) is discarded
//     unprocessed: it consumes no sequence number, so the broker's next
//     message shows a gap, the session sends a ResendRequest and the
//     broker resends the message, as FIX's session layer prescribes.
//     Discards are counted and logged (reason, size, broker; the contents
//     only at Debug, password masked);
//   - a frame declaring more than MaxMessageBytes (default 16 KiB, at most
//     1 MiB) closes the connection before its body is read, logged on or
//     not: a connection never buffers more than MaxMessageBytes plus one
//     read. A broker must not send messages that large: resent after its
//     next logon, such a message would close the connection again;
//   - before its Logon a connection is held to more: its first bytes must
//     be one verified frame, a Logon, within LogonTimeout (default 10s);
//     anything else (junk, another message, silence) closes it.
//
// # Messages
//
// NewOrderSingle (D) → Manager.New; OrderCancelRequest (F) → Cancel;
// OrderCancelReplaceRequest (G) → Replace; OrderStatusRequest (H) → Get.
// The order's source is {Kind: "fix", Session: TargetCompID}. Fields:
// ClOrdID (11), Account (1: one of the session's accounts; may be omitted
// by a session with a single account), Symbol (55) with SecurityExchange
// (207: XSHG is .SH, XSHE is .SZ) or a gateway symbol in 55 alone, Side
// (54: 1 or 2), OrdType (40: 2 limit), Price (44: at most four
// significant decimals), OrderQty (38: whole shares), TimeInForce (59:
// absent or 0, day). OrigClOrdID (41) names the order in F, G and H
// requests.
//
// Identifiers follow the order path's rules (refdata.ValidID): ClOrdID,
// OrigClOrdID and OrdStatusReqID (790; FIX 4.4 only: a FIX 4.2 session's,
// no field of its version, is ignored) 1 to 32 characters, Account 1 to
// 20, Symbol (and the gateway symbol it makes with 207) and
// SecurityExchange 1 to 16, all from A-Z a-z 0-9 - _ . : / # @. An invalid
// one is refused by a business reject (below), never entered and never
// echoed, but for a FIX 4.4 OrdStatusReqID: a session-level Reject
// naming 790, SessionRejectReason 5 (decodeStatus says why), and for a
// status request's Account: a BusinessMessageReject. A report
// that must carry an invalid one carries fix.EchoID's placeholder
// instead, '?', the first 16 bytes with every other character as '_', and
// '~' and the length when longer ("?AAAAAAAAAAAAAAAA~70000"), which can
// never be the id of an order.
//
// Answers, at the layer that fits:
//   - a missing or malformed field: a session-level Reject (3) naming the
//     tag (SessionRejectReason 1, 4 or 6; 5 for a Side or OrdType that is
//     no value of the session's FIX version, which a refusal would echo
//     to an engine that refuses it). The acceptor checks the fields
//     it uses itself rather than loading a data dictionary: quickfix
//     reads dictionaries from files, and its FIX 4.2 dictionary has no
//     Password in the Logon;
//   - an unsupported MsgType: BusinessMessageReject (j), reason 3;
//   - a new order refused (an invalid identifier, an account the session
//     may not trade, an unsupported side, order type, time in force or
//     exchange, a risk or order-manager reject): ExecutionReport ExecType
//     8, OrdStatus 8, OrdRejReason (103) from risk.Reject.FIXReason (99
//     for an invalid identifier; FIX 4.2 has no 99 and gets 0) and Text
//     (58) with the reason, naming the field. Nothing is journaled for it.
//     One whose ClOrdID names an order the session entered that still
//     holds it (working, or ended this trading day) is refused as a
//     duplicate (103 = 6, code risk.duplicate_clordid), whichever check
//     refused it first: the refusal goes under the order's ClOrdID, and
//     OrdRejReason 6 is what tells the broker's engine it is not the
//     order's rejection. A ClOrdID is unique per session, across its
//     accounts (FIX): one an order of another of the session's accounts
//     holds is refused so before it reaches risk, which checks ClOrdIDs
//     per account; a cancel or replace reusing one, with an
//     OrderCancelReject (CxlRejReason 2);
//   - a cancel or replace refused: OrderCancelReject (9) with CxlRejReason
//     (1 unknown order, 3 already pending, 2 otherwise, an invalid
//     identifier included, and a replace of an order another session
//     entered: orders.CodeNotOwner) and Text;
//   - a status request: ExecutionReport ExecType I (FIX 4.2: ExecTransType
//     3 and ExecType = OrdStatus), OrdStatus 6 or E while a cancel or
//     replace of the order awaits the venue, or OrdStatus 8 with OrdRejReason 5 for
//     an order the session does not know or an invalid ClOrdID (echoing
//     the request's Symbol and SecurityExchange; FIX 4.2, which requires
//     Symbol, "[N/A]" if it named none; and its Side, which every report
//     carries: such a request without one gets a Reject naming 54
//     instead). OrdStatusReqID (790) is echoed to FIX 4.4 sessions only:
//     FIX 4.2 has none. An invalid one (FIX 4.4) gets a Reject naming 790,
//     SessionRejectReason 5, never a report under the ClOrdID; an invalid
//     Account, the ClOrdID valid, a BusinessMessageReject (j,
//     BusinessRejectReason 0) whose Text names the Account.
//
// The order manager's events become reports to the order's session: the
// gateway's acceptance (journaled) is Pending New (A), Pending Cancel (6)
// or Pending Replace (E), with ExecIDs of the acceptor's own; the
// upstream's executions (0, F, 4, 5, 8, C, I; FIX 4.2 trades as 1 or 2)
// are forwarded with ExecID "<upstream>:<upstream ExecID>", so every
// ExecID is unique and traceable; an upstream's cancel reject is an
// OrderCancelReject. A cancel the broker did not send (the kill switch's,
// cancel-on-disconnect's, another session's or a WebSocket client's:
// orders.Event.Requester) gets neither a Pending Cancel nor an
// OrderCancelReject, whose ClOrdID the broker could not match: its
// Canceled, and any fill under its id, are reported unsolicited under the
// order's own ClOrdID, without OrigClOrdID; refused or overtaken by a
// fill, it leaves only the order's own reports. A NewOrderSingle flagged
// PossDupFlag or PossResend whose ClOrdID names an order the session
// entered that held it the day the message was first sent (session.sentDay)
// is answered with the order's status, never entered twice; one without
// OrigSendingTime (122), sent after the day that order ended, whose first
// sending's day cannot be told, is refused as a duplicate (103 = 6), not
// entered.
//
// # Logon
//
// A session is known by BeginString, SenderCompID (the gateway's) and
// TargetCompID (the broker's). A connection over Config.MaxConnections
// open at once, or from an address no session allows (AllowedAddrs, which
// a clustered gateway's followers check too before relaying a connection
// to the leader), is closed before anything is read. The first frame, the Logon, is
// then checked by the acceptor's logon gate before quickfix sees it (see
// auth.go): CompIDs and BeginString naming no session get a Logout saying
// so; a session's connection from an address outside its AllowedAddrs is
// closed without a word; a wrong or missing Password (554; FIX 4.2 brokers
// send the same tag) gets a Logout "bad password". Because quickfix never
// sees a refused Logon, a refusal leaves the session's sequence numbers
// untouched: an impostor or a misconfigured standby cannot make the real
// broker's next logon "MsgSeqNum too low". The refusing Logout is written
// outside the session, with MsgSeqNum 1, and is not stored or counted
// (auth.go says what each FIX engine does with it). Each refusal is logged
// and counted; no other session is affected.
//
// A Logon whose MsgSeqNum is above the one the session expects is answered,
// then the session sends a ResendRequest. Every ResendRequest is followed
// by a TestRequest (TestReqID "resend"): quickfix drops a message that
// arrives ahead of the gap fill of a resend begun at logon, and the
// Heartbeat answering the TestRequest shows that gap at once, so the
// message is resent within a round trip (see resend.go and fix.ProbeAfter).
//
// # Transport
//
// With Config.TLS the acceptor serves TLS, 1.3 by default (netsec), the
// certificate reloaded when its files change. With tls.client_ca_file
// every broker must present a client certificate that CA signs (mutual
// TLS), and each session names the one it accepts, by subject common name
// (client_cert_cn) or public-key fingerprint (client_cert_spki_sha256): the
// logon gate refuses a Logon whose connection presented another
// session's certificate, with a Logout saying so, before quickfix sees it,
// so sequence numbers stay. Handshake failures are counted as
// gateway_broker_logon_rejects_total{reason="tls"}, certificate mismatches
// as reason "certificate". A plain-text listener must be on loopback,
// unless Config.TLSTerminatedBy names what terminates TLS in front of it.
// Behind layer-4 load balancers, Config.ProxyProtocol takes the broker's
// address from their PROXY v2 header, so AllowedAddrs apply to brokers,
// not to the balancers; a header from any other peer is refused (reason
// "proxy").
//
// # Concurrency and pacing
//
// quickfix runs one goroutine per session and calls the Application on it;
// the order manager calls the sinks on its dispatcher goroutine. Every
// message to a broker goes through fix.AcceptorPacer (one goroutine per
// session, one message inside quickfix at a time), which keeps quickfix's
// session loop from spinning in a process that also runs the upstream
// initiators (see package fix). The sessions' file stores are wrapped in a
// lock, as quickfix reads sequence numbers without one.
//
// quickfix keeps sessions in a process-wide registry: Run creates them and
// removes them when it returns, and two Acceptors in one process need
// distinct session ids.
//
// # Metrics
//
// The order manager counts the FIX orders that reach it
// (gateway_orders_total{source="fix",result}) and risk rejects by code
// (gateway_orders_rejects_total); the acceptor does not register those
// names. On the registry passed to New it registers
// gateway_broker_rejects_total{code} (new orders it refused itself: an
// account the session may not trade, an unsupported side, order type,
// time in force or exchange, orders.bad_id for an invalid identifier,
// risk.duplicate_clordid for any of those reusing a ClOrdID (above),
// broker.malformed for a session-level Reject),
// gateway_broker_logon_rejects_total{reason} (address, session, password;
// not_logon: a first message that is not a Logon; timeout: none within
// LogonTimeout; tls, certificate, proxy: see Transport; max_connections;
// max_waiting, counted by a clustered gateway's front through Refusals),
// gateway_broker_garbled_total{reason} (frames discarded:
// checksum, body_length, framing; too_large: the connection was closed)
// gateway_broker_session_up{session} and
// gateway_broker_store_read_errors_total{session} (reads of the session's
// stored messages that failed: a resend the broker asked for, not made;
// see fix.OnReadError). An OrderEntry that implements
// RejectCounter is told of the acceptor's own refusals too, so that
// gateway_orders_total covers them.
package broker
