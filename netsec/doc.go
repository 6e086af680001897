// Package netsec is the transport security every listener and line of the
// gateway shares, so that each concern has one implementation:
//
//   - ServerTLS: a listener's TLS from certificate and key files, TLS 1.3
//     by default and never below 1.2 (1.2 with AEAD ECDHE suites only),
//     optional mutual TLS (client CA file), and the certificate reloaded
//     from its files without dropping a connection (Reload, Watch);
//   - ClientTLS: a line's or a feed source's TLS client configuration (CA,
//     server name, optional client certificate);
//   - TLCP (package tlcp, GB/T 38636-2020 national crypto): ServerTLS
//     also loads and reloads a listener's SM2 signature and encryption
//     pairs (ServerTLCPConfig), ProtocolListener serves TLCP and TLS on
//     one port by the first record header, and ClientTLCP configures an
//     upstream line that speaks TLCP;
//   - ProxyListener: the PROXY protocol v2 header of a load balancer,
//     accepted only from the configured load-balancer addresses, so that
//     RemoteAddr is the client's;
//   - LimitListener: caps on the open connections of a listener, in total
//     and per client address;
//   - CheckPlain: a plain-text listener or line may not face a network
//     unless the configuration names what encrypts it;
//   - CA: an in-memory certificate authority for the demo, the simulator
//     and tests.
//
// The gateway's public HTTP/WebSocket listener (package gateway), the FIX
// acceptor for brokers (fix/broker), the upstream FIX lines (fix), the
// market-data sources (feed) and the simulator (sim) use it. A listener is
// stacked as raw TCP, then ProxyListener (client address), then
// LimitListener (keyed by that address), then TLS (or ProtocolListener,
// TLS and TLCP).
//
// Every type is safe for concurrent use unless its documentation says
// otherwise; nothing here keeps package-level state.
package netsec
