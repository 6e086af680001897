// Package fix will hold the gateway's FIX side: the acceptor for broker
// sessions (FIX 4.2 and 4.4) and the initiator sessions that relay orders
// to the firm's core trading and margin-trading systems over two carrier
// lines each. It is built by the order-entry issue; nothing here runs yet.
package fix
