package itch

import "fmt"

// Message types handled by this package.
const (
	TypeSystemEvent        byte = 'S'
	TypeStockDirectory     byte = 'R'
	TypeTradingAction      byte = 'H'
	TypeAddOrder           byte = 'A'
	TypeAddOrderMPID       byte = 'F'
	TypeOrderExecuted      byte = 'E'
	TypeOrderExecutedPrice byte = 'C'
	TypeOrderCancel        byte = 'X'
	TypeOrderDelete        byte = 'D'
	TypeOrderReplace       byte = 'U'
	TypeTrade              byte = 'P'
	TypeCrossTrade         byte = 'Q'
)

// Buy/Sell indicator values.
const (
	SideBuy  byte = 'B'
	SideSell byte = 'S'
)

// Wire lengths of the message types, type byte included.
const (
	lenSystemEvent        = 12
	lenStockDirectory     = 39
	lenTradingAction      = 25
	lenAddOrder           = 36
	lenAddOrderMPID       = 40
	lenOrderExecuted      = 31
	lenOrderExecutedPrice = 36
	lenOrderCancel        = 23
	lenOrderDelete        = 19
	lenOrderReplace       = 35
	lenTrade              = 44
	lenCrossTrade         = 40

	// maxTimestamp bounds the 6-byte Timestamp field.
	maxTimestamp = 1<<48 - 1
)

// Message is one decoded ITCH message. It is a flat value meant to be
// reused across Decode calls; Decode sets the fields of the message's type
// and zeroes all others. The comment on each field lists the types that
// carry it.
//
// Every message starts with the same header: Type, StockLocate,
// TrackingNumber and Timestamp.
type Message struct {
	Type           byte
	StockLocate    uint16 // locate code assigned by Stock Directory; 0 for System Event
	TrackingNumber uint16 // in this feed, the low 16 bits of the SoupBinTCP sequence number
	Timestamp      uint64 // nanoseconds since midnight; 6 bytes on the wire

	OrderRef    uint64  // A F E C X D P; U: original order reference number
	NewOrderRef uint64  // U
	Shares      uint64  // A F: shares; E C: executed; X: cancelled; U: new shares; P; Q (8 bytes on the wire, 4 elsewhere)
	MatchNumber uint64  // E C P Q
	Price       uint32  // Price(4). A F P: price; C: execution price; U: new price; Q: cross price
	Stock       [8]byte // A F P Q R H: left-justified, space-padded
	Side        byte    // A F P: SideBuy or SideSell
	Printable   byte    // C: 'Y' or 'N'
	MPID        [4]byte // F: attribution
	EventCode   byte    // S
	CrossType   byte    // Q

	// Stock Trading Action (H).
	TradingState byte
	Reserved     byte
	Reason       [4]byte

	// Stock Directory (R).
	MarketCategory      byte
	FinancialStatus     byte
	RoundLotSize        uint32
	RoundLotsOnly       byte
	IssueClassification byte
	IssueSubType        [2]byte
	Authenticity        byte
	ShortSaleThreshold  byte
	IPOFlag             byte
	LULDRefPriceTier    byte
	ETPFlag             byte
	ETPLeverageFactor   uint32
	InverseIndicator    byte
}

// Length returns the wire length, type byte included, of messages of type
// t, or 0 if this package does not handle t.
func Length(t byte) int {
	switch t {
	case TypeSystemEvent:
		return lenSystemEvent
	case TypeStockDirectory:
		return lenStockDirectory
	case TypeTradingAction:
		return lenTradingAction
	case TypeAddOrder:
		return lenAddOrder
	case TypeAddOrderMPID:
		return lenAddOrderMPID
	case TypeOrderExecuted:
		return lenOrderExecuted
	case TypeOrderExecutedPrice:
		return lenOrderExecutedPrice
	case TypeOrderCancel:
		return lenOrderCancel
	case TypeOrderDelete:
		return lenOrderDelete
	case TypeOrderReplace:
		return lenOrderReplace
	case TypeTrade:
		return lenTrade
	case TypeCrossTrade:
		return lenCrossTrade
	}
	return 0
}

// TypeName returns a short name for message type t, such as "add-order",
// or "unknown(0x..)" for a type this package does not handle. It is meant
// for logs and metrics labels.
func TypeName(t byte) string {
	switch t {
	case TypeSystemEvent:
		return "system-event"
	case TypeStockDirectory:
		return "stock-directory"
	case TypeTradingAction:
		return "trading-action"
	case TypeAddOrder:
		return "add-order"
	case TypeAddOrderMPID:
		return "add-order-mpid"
	case TypeOrderExecuted:
		return "order-executed"
	case TypeOrderExecutedPrice:
		return "order-executed-price"
	case TypeOrderCancel:
		return "order-cancel"
	case TypeOrderDelete:
		return "order-delete"
	case TypeOrderReplace:
		return "order-replace"
	case TypeTrade:
		return "trade"
	case TypeCrossTrade:
		return "cross-trade"
	}
	return fmt.Sprintf("unknown(0x%02x)", t)
}

// title returns the spec's name of message type t for error messages.
func title(t byte) string {
	switch t {
	case TypeSystemEvent:
		return "system event"
	case TypeStockDirectory:
		return "stock directory"
	case TypeTradingAction:
		return "stock trading action"
	case TypeAddOrder:
		return "add order"
	case TypeAddOrderMPID:
		return "add order with mpid"
	case TypeOrderExecuted:
		return "order executed"
	case TypeOrderExecutedPrice:
		return "order executed with price"
	case TypeOrderCancel:
		return "order cancel"
	case TypeOrderDelete:
		return "order delete"
	case TypeOrderReplace:
		return "order replace"
	case TypeTrade:
		return "trade"
	case TypeCrossTrade:
		return "cross trade"
	}
	return fmt.Sprintf("message type 0x%02x", t)
}

// Symbol returns the message's Stock with the space padding removed. It
// allocates, so it is meant for set-up paths such as reading the Stock
// Directory, not for every order message.
func (m *Message) Symbol() string {
	n := len(m.Stock)
	for n > 0 && m.Stock[n-1] == ' ' {
		n--
	}
	return string(m.Stock[:n])
}

// StockOf returns sym as an 8-byte Stock field, left-justified and
// space-padded. sym must be 1 to 8 printable ASCII bytes without spaces;
// otherwise StockOf returns a *FieldError.
func StockOf(sym string) ([8]byte, error) {
	var s [8]byte
	if len(sym) == 0 || len(sym) > len(s) {
		return s, &FieldError{Field: "stock", Value: sym, Reason: "not 1 to 8 bytes long"}
	}
	for i := 0; i < len(sym); i++ {
		if c := sym[i]; c <= ' ' || c > '~' {
			return s, &FieldError{Field: "stock", Value: sym, Reason: "not printable ASCII without spaces"}
		}
	}
	n := copy(s[:], sym)
	for i := n; i < len(s); i++ {
		s[i] = ' '
	}
	return s, nil
}

// validStock reports whether s is a well-formed Stock field: a symbol of
// printable ASCII without spaces starting in the first byte, then only
// space padding.
func validStock(s *[8]byte) bool {
	if s[0] <= ' ' || s[0] > '~' {
		return false
	}
	pad := false
	for _, c := range s[1:] {
		switch {
		case c == ' ':
			pad = true
		case pad || c < ' ' || c > '~':
			return false
		}
	}
	return true
}

// checkSideStock validates the Side and Stock fields of a message of type
// t, as read from the wire or about to be written, returning a *FieldError
// for a side other than B or S or a malformed stock.
func checkSideStock(t, side byte, checkSide bool, stock *[8]byte) error {
	if checkSide && side != SideBuy && side != SideSell {
		return &FieldError{Type: t, Field: "side", Value: string([]byte{side}), Reason: "not B or S"}
	}
	if !validStock(stock) {
		return &FieldError{Type: t, Field: "stock", Value: string(stock[:]),
			Reason: "not a left-justified, space-padded printable ASCII symbol"}
	}
	return nil
}
