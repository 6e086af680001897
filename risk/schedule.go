package risk

import (
	"fmt"
	"time"
)

// Phase is the trading phase of the A-share exchanges at an instant.
type Phase uint8

// The trading phases. Windows are half-open, [start, end), in the
// schedule's location (China Standard Time):
//
//	09:15–09:20  PhaseOpeningCall          new orders and cancels
//	09:20–09:25  PhaseOpeningCallNoCancel  new orders only
//	09:25–09:30  PhaseClosed               (auction matched; nothing accepted)
//	09:30–11:30  PhaseContinuous           new orders and cancels
//	11:30–13:00  PhaseClosed               (lunch break)
//	13:00–14:57  PhaseContinuous           new orders and cancels
//	14:57–15:00  PhaseClosingCall          new orders only
//
// So 09:15:00.000 is open and 09:14:59.999 closed; 11:29:59.999 is open and
// 11:30:00.000 closed; 14:57:00.000 is the closing call. Weekends and the
// configured holidays are closed all day.
const (
	PhaseClosed Phase = iota
	PhaseOpeningCall
	PhaseOpeningCallNoCancel
	PhaseContinuous
	PhaseClosingCall
)

var phaseNames = [...]string{"closed", "opening_call", "opening_call_no_cancel", "continuous", "closing_call"}

// String returns the phase's snake_case name.
func (p Phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return fmt.Sprintf("phase(%d)", uint8(p))
}

// AcceptsNew reports whether new orders (and replaces, as far as the new
// terms go) are accepted in the phase.
func (p Phase) AcceptsNew() bool { return p != PhaseClosed }

// AcceptsCancel reports whether cancels (and replaces) are accepted in the
// phase. Both call auctions refuse cancels in their last minutes (SSE and
// SZSE rules: 09:20–09:25 and the whole closing call 14:57–15:00).
func (p Phase) AcceptsCancel() bool { return p == PhaseOpeningCall || p == PhaseContinuous }

// Offsets from local midnight.
const (
	tOpenCall   = 9*time.Hour + 15*time.Minute
	tNoCancel   = 9*time.Hour + 20*time.Minute
	tCallEnd    = 9*time.Hour + 25*time.Minute
	tAMOpen     = 9*time.Hour + 30*time.Minute
	tAMClose    = 11*time.Hour + 30*time.Minute
	tPMOpen     = 13 * time.Hour
	tCloseCall  = 14*time.Hour + 57*time.Minute
	tMarketShut = 15 * time.Hour
)

// phaseAt returns the phase at offset d from local midnight of a trading
// day.
func phaseAt(d time.Duration) Phase {
	switch {
	case d < tOpenCall:
		return PhaseClosed
	case d < tNoCancel:
		return PhaseOpeningCall
	case d < tCallEnd:
		return PhaseOpeningCallNoCancel
	case d < tAMOpen:
		return PhaseClosed
	case d < tAMClose:
		return PhaseContinuous
	case d < tPMOpen:
		return PhaseClosed
	case d < tCloseCall:
		return PhaseContinuous
	case d < tMarketShut:
		return PhaseClosingCall
	}
	return PhaseClosed
}

// schedule maps instants to phases and trading dates. It caches the
// current local day so that the hot path is two integer comparisons; the
// checker's mutex guards the cache. It assumes the location has no
// daylight-saving changes (true of China Standard Time).
type schedule struct {
	alwaysOpen bool
	loc        *time.Location
	holidays   map[int32]bool // yyyymmdd

	// Cache of the local day last asked about.
	dayStart int64 // Unix seconds of local midnight
	dayEnd   int64 // Unix seconds of the next local midnight
	date     int32 // yyyymmdd
	trading  bool  // not a weekend or holiday
}

// at returns the phase at t and t's local date as yyyymmdd.
func (s *schedule) at(t time.Time) (Phase, int32) {
	sec := t.Unix()
	if sec < s.dayStart || sec >= s.dayEnd || s.dayEnd == 0 {
		s.load(t)
	}
	if s.alwaysOpen {
		return PhaseContinuous, s.date
	}
	if !s.trading {
		return PhaseClosed, s.date
	}
	d := time.Duration(sec-s.dayStart)*time.Second + time.Duration(t.Nanosecond())
	return phaseAt(d), s.date
}

// load fills the day cache for t's local day.
func (s *schedule) load(t time.Time) {
	lt := t.In(s.loc)
	y, m, d := lt.Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, s.loc)
	s.dayStart = start.Unix()
	s.dayEnd = start.AddDate(0, 0, 1).Unix()
	s.date = int32(y*10000 + int(m)*100 + d)
	wd := lt.Weekday()
	s.trading = wd != time.Saturday && wd != time.Sunday && !s.holidays[s.date]
}

// closedText explains why t is outside trading hours, for a reject.
func (s *schedule) closedText(t time.Time) string {
	lt := t.In(s.loc)
	date := lt.Format("2006-01-02")
	switch wd := lt.Weekday(); {
	case wd == time.Saturday || wd == time.Sunday:
		return fmt.Sprintf("market closed: %s is a %s", date, wd)
	case s.holidays[dateKey(lt)]:
		return fmt.Sprintf("market closed: %s is an exchange holiday", date)
	}
	return fmt.Sprintf("market closed at %s; orders are accepted 09:15-09:25, 09:30-11:30 and 13:00-15:00",
		lt.Format("15:04:05.000"))
}

// noCancelText explains why cancels are refused in phase p.
func noCancelText(p Phase) string {
	if p == PhaseClosingCall {
		return "cancels are not accepted during the closing call auction 14:57-15:00"
	}
	return "cancels are not accepted during the last minutes of the opening call auction 09:20-09:25"
}

// dateKey returns the local date of lt as yyyymmdd.
func dateKey(lt time.Time) int32 {
	y, m, d := lt.Date()
	return int32(y*10000 + int(m)*100 + d)
}
