package sim

import (
	"fmt"
	"time"

	"sgw/feed/itch"
	"sgw/sim/match"
)

// ITCH System Event codes the simulator sends.
const (
	eventStartOfMessages    = 'O'
	eventStartOfSystemHours = 'S'
	eventStartOfMarketHours = 'Q'
	eventEndOfMarketHours   = 'M'
	eventEndOfSystemHours   = 'E'
	eventEndOfMessages      = 'C'
)

// ITCH Trading Action states.
const (
	stateTrading = 'T'
	stateHalted  = 'H'
)

// timestamp returns the ITCH timestamp of a message recorded now. It never
// goes backwards within a day. The caller holds s.mu.
func (s *Sim) timestamp() uint64 {
	var ns uint64
	if s.cfg.Clock != nil {
		ns = sinceMidnight(s.cfg.Clock())
	} else {
		ns = (s.base + uint64(time.Since(s.start))) % nsPerDay
	}
	if ns < s.lastTS && s.lastTS-ns < uint64(time.Hour) {
		ns = s.lastTS
	}
	s.lastTS = ns
	return ns
}

// emit stamps m (timestamp, and tracking number = low 16 bits of its
// sequence number), encodes it and appends it to the record. The caller
// holds s.mu.
func (s *Sim) emit(m *itch.Message) error {
	m.Timestamp = s.timestamp()
	_, err := s.rec.add(func(b []byte, seq uint64) ([]byte, error) {
		m.TrackingNumber = uint16(seq)
		return itch.Append(b, m)
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrEncode, err)
	}
	return nil
}

// onEvent is the engine's sink: it logs executions and deletes of resting
// orders (Changes) and publishes one book change of an instrument on ITCH.
// The caller holds s.mu (every engine call is made with it).
func (s *Sim) onEvent(ev *match.Event) {
	switch ev.Kind {
	case match.EventExecute:
		s.changes = append(s.changes, RestingChange{Ref: ev.Ref, Executed: true, Qty: ev.Qty, Match: ev.Match})
	case match.EventDelete:
		s.changes = append(s.changes, RestingChange{Ref: ev.Ref})
	}
	if s.onSZSE(ev.Locate) {
		return // published by the SZSE view once the engine call returns
	}
	m := itch.Message{StockLocate: ev.Locate, OrderRef: ev.Ref, Shares: uint64(ev.Qty)}
	switch ev.Kind {
	case match.EventAdd:
		m.Type = itch.TypeAddOrder
		m.Side = byte(ev.Side)
		m.Stock = s.stocks[ev.Locate-1]
		m.Price = uint32(ev.Price)
	case match.EventExecute:
		m.Type = itch.TypeOrderExecuted
		m.MatchNumber = ev.Match
	case match.EventCancel:
		m.Type = itch.TypeOrderCancel
	case match.EventDelete:
		m.Type = itch.TypeOrderDelete
	case match.EventReplace:
		m.Type = itch.TypeOrderReplace
		m.NewOrderRef = ev.NewRef
		m.Price = uint32(ev.Price)
	default:
		s.encErr = fmt.Errorf("%w: unknown engine event %d", ErrEncode, ev.Kind)
		return
	}
	if err := s.emit(&m); err != nil && s.encErr == nil {
		s.encErr = err
	}
}

// takeEncErr returns and clears the sink's error after an engine call. The
// caller holds s.mu.
func (s *Sim) takeEncErr() error {
	err := s.encErr
	s.encErr = nil
	if err != nil {
		s.log.Error("sim: feed message lost", "err", err)
	}
	return err
}

func (s *Sim) systemEvent(code byte) error {
	return s.emit(&itch.Message{Type: itch.TypeSystemEvent, EventCode: code})
}

func (s *Sim) tradingAction(locate uint16, state byte) error {
	reason := [4]byte{' ', ' ', ' ', ' '}
	if state == stateHalted {
		reason = [4]byte{'T', '1', ' ', ' '} // halt: news pending
	}
	return s.emit(&itch.Message{
		Type: itch.TypeTradingAction, StockLocate: locate, Stock: s.stocks[locate-1],
		TradingState: state, Reserved: ' ', Reason: reason,
	})
}

// startOfDay records the opening messages: start of messages, start of
// system hours, one Stock Directory per instrument on ITCH (locates 1..n,
// skipping those on SZSE Binary), one Trading Action "trading" per
// instrument on ITCH, start of market hours.
func (s *Sim) startOfDay() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.systemEvent(eventStartOfMessages); err != nil {
		return err
	}
	if err := s.systemEvent(eventStartOfSystemHours); err != nil {
		return err
	}
	for i, in := range s.cfg.Instruments {
		if s.onSZSE(uint16(i + 1)) {
			continue
		}
		m := itch.Message{
			Type:                itch.TypeStockDirectory,
			StockLocate:         uint16(i + 1),
			Stock:               s.stocks[i],
			MarketCategory:      ' ', // not a Nasdaq market
			FinancialStatus:     ' ', // not available
			RoundLotSize:        uint32(in.Lot),
			RoundLotsOnly:       'N', // sells may be odd lots
			IssueClassification: 'C', // common stock
			IssueSubType:        [2]byte{' ', ' '},
			Authenticity:        'P', // live/production
			ShortSaleThreshold:  ' ',
			IPOFlag:             ' ',
			LULDRefPriceTier:    ' ',
			ETPFlag:             'N',
			InverseIndicator:    'N',
		}
		if err := s.emit(&m); err != nil {
			return err
		}
	}
	for i := range s.cfg.Instruments {
		if s.onSZSE(uint16(i + 1)) {
			continue
		}
		if err := s.tradingAction(uint16(i+1), stateTrading); err != nil {
			return err
		}
	}
	return s.systemEvent(eventStartOfMarketHours)
}

// EndSession ends the trading day: it records the end of market hours, end
// of system hours and end of messages system events, after which the books
// accept no orders and the synthetic flow stops. Every connection is sent
// the rest of the record and then End of Session, and is closed; a later
// login is served the record and End of Session too. In SZSE mode it also
// records a last round of snapshots (TradingPhaseCode "E0") and ends the
// channel: its sessions stay open and their ChannelHeartbeats carry
// EndOfChannel 1 once they have sent everything. EndSession is idempotent.
func (s *Sim) EndSession() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return nil
	}
	s.ended = true
	for _, code := range []byte{eventEndOfMarketHours, eventEndOfSystemHours, eventEndOfMessages} {
		if err := s.systemEvent(code); err != nil {
			return err
		}
	}
	s.rec.end()
	s.log.Info("sim: end of session", "last_seq", s.rec.next()-1)
	if s.sz != nil {
		err := s.szseSnapshots()
		s.sz.rec.end()
		s.log.Info("sim: szse end of channel", "channel", s.sz.cfg.Channel, "last_seq", s.sz.rec.last(s.sz.cfg.Channel))
		return err
	}
	return nil
}
