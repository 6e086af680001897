package wireref

// The values of the specification.
const (
	Version = 1

	TypeUpdate    = 'U'
	TypeHeartbeat = 'H'
	TypeSnapshot  = 'S'
	TypeError     = 'E'

	// HeartbeatSymbol is the header symbol of every heartbeat.
	HeartbeatSymbol = "*"

	KindBook   = 1
	KindTrade  = 2
	KindStatus = 3
	KindReset  = 4

	SideBid = 1
	SideAsk = 2

	MaxSymbol    = 16
	MaxChanges   = 2
	MaxLevels    = 20
	MaxOrders    = 1<<31 - 1
	MaxErrorText = 256
	EnterLevels  = 3
	MaxBeats     = 4096
)

// Frame is one frame of any type: Update is set for TypeUpdate,
// Snapshot for TypeSnapshot, Beats for TypeHeartbeat (nil for every
// other type), and Text is meaningful for TypeError.
type Frame struct {
	Type     byte
	Epoch    uint64
	Symbol   string
	Update   *Update
	Snapshot *Snapshot
	Text     string
	Beats    []Beat
}

// Beat is one entry of a heartbeat: a symbol and the Seq of its last
// update published or lost.
type Beat struct {
	Symbol string
	Seq    uint64
}

// Level is one price level. Orders is a uvarint on the wire, wider than
// the spec allows, so that a Frame can hold a refused value.
type Level struct {
	Price  int64
	Qty    int64
	Orders uint64
}

// Change is one level change of an update.
type Change struct {
	Side  byte
	Rank  int8
	Level Level
}

// Update is the body of an update frame. Changes is nil when there are
// none; Enter is written only when EnterSide is not 0, TradePrice and
// TradeQty only for KindTrade.
type Update struct {
	Seq        uint64
	Time       uint64
	Recv       int64
	Kind       byte
	State      byte
	Changes    []Change
	EnterSide  byte
	Enter      [EnterLevels]Level
	TradePrice int64
	TradeQty   int64
	Last       int64
	Volume     int64
	Turnover   int64
	Checksum   uint32
	Checksum5  uint32
}

// Snapshot is the body of a snapshot frame. Bids and Asks are nil when
// empty.
type Snapshot struct {
	Seq       uint64
	Time      uint64
	State     byte
	Last      int64
	LastQty   int64
	Volume    int64
	Turnover  int64
	Open      int64
	High      int64
	Low       int64
	Checksum  uint32
	Checksum5 uint32
	Bids      []Level
	Asks      []Level
}
