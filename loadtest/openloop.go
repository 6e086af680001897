package loadtest

import "time"

// schedule is an open-loop load schedule: operation i is meant to start at
// start + i*interval, whatever happened to the operations before it. A
// sender that falls behind sends late, and the latency of each operation is
// measured from its intended start, so a stall of the system under test is
// charged to every operation it delayed (no coordinated omission).
type schedule struct {
	start    time.Time
	interval time.Duration
	n        int64
}

func newSchedule(start time.Time, perSecond int) *schedule {
	return &schedule{start: start, interval: time.Second / time.Duration(perSecond)}
}

// next returns the intended start of the next operation.
func (s *schedule) next() time.Time {
	t := s.start.Add(time.Duration(s.n) * s.interval)
	s.n++
	return t
}

// latency is the open-loop latency of an operation meant to start at
// intended and completed at done.
func latency(intended, done time.Time) time.Duration { return done.Sub(intended) }
