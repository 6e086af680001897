// Package orderstest is test support for the order manager (package
// orders): a recording upstream line (Line) and a simulated venue (Venue)
// that reads what the manager sends the line and answers through the
// manager's upstream callbacks, at random, as a venue does. The model tests
// of the broker acceptor (fix/broker) and of WebSocket order entry
// (gateway) drive the manager through their own front ends against it.
//
// The venue is written from the FIX semantics of the requests, not from
// the manager's code: it shares nothing with it but the request and report
// types of package fix and the order type of package orders.
package orderstest
