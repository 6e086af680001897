// Package broker is the gateway's FIX acceptor for brokers and
// institutional clients: FIX 4.2 and 4.4 sessions (QuickFIX/Go) whose
// orders enter the order manager like the WebSocket's, and whose
// execution reports go back to the session that entered the order.
//
//	broker ─> listener (address filter) ─> quickfix session (CompIDs, Password) ─> decode ─> orders.Manager ─> risk ─> journal ─> upstream
//	broker <─ pacer <─ ExecutionReport / OrderCancelReject <─ session sink <─ orders.Manager events <──────────────────────┘
//
// # Messages
//
// NewOrderSingle (D) → Manager.New; OrderCancelRequest (F) → Cancel;
// OrderCancelReplaceRequest (G) → Replace; OrderStatusRequest (H) → Get.
// The order's source is {Kind: "fix", Session: TargetCompID}. Fields:
// ClOrdID (11), Account (1: one of the session's accounts; may be omitted
// by a session with a single account), Symbol (55) with SecurityExchange
// (207: XSHG is .SH, XSHE is .SZ) or a gateway symbol in 55 alone, Side
// (54: 1 or 2), OrdType (40: 2 limit), Price (44), OrderQty (38),
// TimeInForce (59: absent or 0, day). OrigClOrdID (41) names the order in
// F, G and H requests.
//
// Answers, at the layer that fits:
//   - a missing or malformed field: a session-level Reject (3) naming the
//     tag (SessionRejectReason 1, 4 or 6). The acceptor checks the fields
//     it uses itself rather than loading a data dictionary: quickfix
//     reads dictionaries from files, and its FIX 4.2 dictionary has no
//     Password in the Logon;
//   - an unsupported MsgType: BusinessMessageReject (j), reason 3;
//   - a new order refused (an account the session may not trade, an
//     unsupported side, order type, time in force or exchange, a risk or
//     order-manager reject): ExecutionReport ExecType 8, OrdStatus 8,
//     OrdRejReason (103) from risk.Reject.FIXReason and Text (58) with the
//     reason. Nothing is journaled for it;
//   - a cancel or replace refused: OrderCancelReject (9) with CxlRejReason
//     (1 unknown order, 3 already pending, 2 otherwise) and Text;
//   - a status request: ExecutionReport ExecType I (FIX 4.2: ExecTransType
//     3 and ExecType = OrdStatus), or OrdStatus 8 with OrdRejReason 5 for
//     an order the session does not know.
//
// The order manager's events become reports to the order's session: the
// gateway's acceptance (journaled) is Pending New (A), Pending Cancel (6)
// or Pending Replace (E), with ExecIDs of the acceptor's own; the
// upstream's executions (0, F, 4, 5, 8, C, I; FIX 4.2 trades as 1 or 2)
// are forwarded with ExecID "<upstream>:<upstream ExecID>", so every
// ExecID is unique and traceable; an upstream's cancel reject is an
// OrderCancelReject. A NewOrderSingle flagged PossDupFlag or PossResend
// whose ClOrdID the gateway already has is answered with the order's
// status, never entered twice.
//
// # Logon
//
// A session is known by BeginString, SenderCompID (the gateway's) and
// TargetCompID (the broker's). Three checks, at the earliest point each
// can be made (see auth.go): the source address against the session's
// AllowedAddrs (a connection from elsewhere is closed without a word,
// before quickfix reads it if no session allows the address); CompIDs and
// BeginString naming no session get a Logout saying so; a wrong or missing
// Password (554; FIX 4.2 brokers send the same tag) gets a Logout "bad
// password". Each refusal is logged and counted; no other session is
// affected.
//
// # Concurrency and pacing
//
// quickfix runs one goroutine per session and calls the Application on it;
// the order manager calls the sinks on its journal goroutine. Every
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
// (gateway_risk_rejects_total); the acceptor does not register those
// names. On the registry passed to New it registers
// gateway_broker_rejects_total{code} (new orders it refused itself: an
// account the session may not trade, an unsupported side, order type,
// time in force or exchange, broker.malformed for a session-level Reject),
// gateway_broker_logon_rejects_total{reason} (address, session, password)
// and gateway_broker_session_up{session}. An OrderEntry that implements
// RejectCounter is told of the acceptor's own refusals too, so that
// gateway_orders_total covers them.
package broker
