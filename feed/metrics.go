package feed

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// sourceErrorReasons are the reasons of gateway_feed_source_errors_total
// exported at zero before their first occurrence.
var sourceErrorReasons = [...]string{"dial", "disconnect", "login", "login_rejected", "login_timeout", "logout",
	"heartbeat_timeout", "framing", "length", "checksum", "malformed", "protocol", "backwards", "unknown_type", "skipped",
	"session_mismatch", "session_changed"}

// Collector exports the feeds' counters to Prometheus. It reads Status on
// each scrape, so the hot path carries no metric updates beyond atomic
// counters. Register it with the gateway's own registry.
type Collector struct {
	feeds []interface{ Status() Status }

	messages, up, gaps, lost, dups, errors, rerequests *prometheus.Desc
	divergences, rebuilds, missed, stale, dropped      *prometheus.Desc
	missingDirs, outages                               *prometheus.Desc
	// Capture.
	capDropped, capRecords, capErrors *prometheus.Desc
	// Per SZSE channel.
	chanStale, chanBehind, chanLost *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a collector for feeds.
func NewCollector(feeds ...*Feed) *Collector {
	fs := []string{"feed", "source"}
	fc := []string{"feed", "channel"}
	c := &Collector{
		messages:   prometheus.NewDesc("gateway_feed_messages_total", "Sequenced messages received from a feed source.", fs, nil),
		up:         prometheus.NewDesc("gateway_feed_source_up", "1 when a feed source is logged in and caught up.", fs, nil),
		gaps:       prometheus.NewDesc("gateway_feed_gaps_total", "Gaps missing on every source and recovered by re-request.", []string{"feed"}, nil),
		lost:       prometheus.NewDesc("gateway_feed_lost_total", "Messages never recovered.", []string{"feed"}, nil),
		dups:       prometheus.NewDesc("gateway_feed_duplicates_dropped_total", "Message copies dropped by the arbiter.", []string{"feed"}, nil),
		rerequests: prometheus.NewDesc("gateway_feed_rerequests_total", "Re-requests of a gap from a source.", []string{"feed"}, nil),
		errors:     prometheus.NewDesc("gateway_feed_source_errors_total", "Feed source errors and resets by reason.", []string{"feed", "source", "reason"}, nil),
		divergences: prometheus.NewDesc("gateway_feed_divergences_total",
			"Copies of one sequence number that differed between the sources.", []string{"feed"}, nil),
		rebuilds: prometheus.NewDesc("gateway_feed_rebuilds_total",
			"Rebuilds of the feed's books from sequence 1 after a loss, a divergence or a missed message.", []string{"feed"}, nil),
		missed: prometheus.NewDesc("gateway_feed_missed_rebuilds_total",
			"Rebuilds (also in gateway_feed_rebuilds_total) begun because a book found a message missing from the stream: an order it does not hold, or one added twice.", []string{"feed"}, nil),
		missingDirs: prometheus.NewDesc("gateway_feed_missing_directories",
			"ITCH Stock Locates whose messages came with no Stock Directory mapping them in the stream as last delivered: their instrument unknown, the books no directory mapped stale, the feed rebuilt every missed_rebuild_interval while above 0.", []string{"feed"}, nil),
		stale: prometheus.NewDesc("gateway_feed_stale",
			"1 while the feed's books may be wrong (lost messages, diverged sources or a message a book found missing; rebuild not caught up; or no source up for stale_after_outage, none yet proven to replay what was missed).", []string{"feed"}, nil),
		outages: prometheus.NewDesc("gateway_feed_outages_total",
			"Times every book of the feed was marked stale because no source had been up for stale_after_outage.", []string{"feed"}, nil),
		dropped: prometheus.NewDesc("gateway_feed_decode_dropped_total",
			"Feed messages the decoder did not turn into book events, by reason.", []string{"feed", "reason"}, nil),
		capDropped: prometheus.NewDesc("gateway_capture_dropped_total",
			"Capture records dropped because the capture queue was full or a write failed, by stream (primary, backup, arbitrated).", []string{"feed", "stream"}, nil),
		capRecords: prometheus.NewDesc("gateway_capture_records_total", "Capture records written to files.", []string{"feed"}, nil),
		capErrors:  prometheus.NewDesc("gateway_capture_write_errors_total", "Capture file opens, writes, flushes and closes that failed.", []string{"feed"}, nil),
		chanStale:  prometheus.NewDesc("gateway_feed_channel_stale", "1 while an SZSE channel's books may be wrong: records lost, rebuild not caught up; or every source down past stale_after_outage, the channel not yet proven again.", fc, nil),
		chanBehind: prometheus.NewDesc("gateway_feed_channel_behind_records", "Records of an SZSE channel known to exist and not yet delivered.", fc, nil),
		chanLost:   prometheus.NewDesc("gateway_feed_channel_lost_total", "Records of an SZSE channel declared lost (each declaration rebuilds the channel).", fc, nil),
	}
	for _, f := range feeds {
		c.feeds = append(c.feeds, f)
	}
	return c
}

// WithSZSE adds SZSE feeds to the collector and returns it; call it before
// registering.
func (c *Collector) WithSZSE(feeds ...*SZSEFeed) *Collector {
	for _, f := range feeds {
		c.feeds = append(c.feeds, f)
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.messages, c.up, c.gaps, c.lost, c.dups, c.rerequests, c.errors,
		c.divergences, c.rebuilds, c.missed, c.missingDirs, c.outages, c.stale, c.dropped, c.chanStale, c.chanBehind, c.chanLost, c.capDropped, c.capRecords, c.capErrors} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, f := range c.feeds {
		st := f.Status()
		ch <- prometheus.MustNewConstMetric(c.gaps, prometheus.CounterValue, float64(st.Gaps), st.Name)
		ch <- prometheus.MustNewConstMetric(c.lost, prometheus.CounterValue, float64(st.Lost), st.Name)
		ch <- prometheus.MustNewConstMetric(c.dups, prometheus.CounterValue, float64(st.Duplicates), st.Name)
		ch <- prometheus.MustNewConstMetric(c.rerequests, prometheus.CounterValue, float64(st.Rerequests), st.Name)
		ch <- prometheus.MustNewConstMetric(c.divergences, prometheus.CounterValue, float64(st.Diverged), st.Name)
		ch <- prometheus.MustNewConstMetric(c.rebuilds, prometheus.CounterValue, float64(st.Rebuilds), st.Name)
		ch <- prometheus.MustNewConstMetric(c.missed, prometheus.CounterValue, float64(st.MissedRebuilds), st.Name)
		stale := 0.0
		if st.Stale {
			stale = 1
		}
		ch <- prometheus.MustNewConstMetric(c.stale, prometheus.GaugeValue, stale, st.Name)
		ch <- prometheus.MustNewConstMetric(c.outages, prometheus.CounterValue, float64(st.Outages), st.Name)
		if d := st.Decode; d != nil {
			for reason, n := range map[string]uint64{"decode_error": d.DecodeErrors, "unknown_symbol": d.UnknownSymbol,
				"unknown_stock": d.UnknownStock, "ignored": d.Ignored} {
				ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(n), st.Name, reason)
			}
			ch <- prometheus.MustNewConstMetric(c.missingDirs, prometheus.GaugeValue, float64(d.MissingDirectories), st.Name)
		}
		if cs := st.Capture; cs != nil {
			ch <- prometheus.MustNewConstMetric(c.capRecords, prometheus.CounterValue, float64(cs.Records), st.Name)
			ch <- prometheus.MustNewConstMetric(c.capErrors, prometheus.CounterValue, float64(cs.WriteErrors), st.Name)
			for stream, n := range cs.Dropped {
				ch <- prometheus.MustNewConstMetric(c.capDropped, prometheus.CounterValue, float64(n), st.Name, stream)
			}
		}
		for _, s := range st.Sources {
			up := 0.0
			if s.Up {
				up = 1
			}
			ch <- prometheus.MustNewConstMetric(c.messages, prometheus.CounterValue, float64(s.Messages), st.Name, s.Name)
			ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, st.Name, s.Name)
			for _, reason := range sourceErrorReasons {
				if _, ok := s.Errors[reason]; !ok {
					ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, 0, st.Name, s.Name, reason)
				}
			}
			for reason, n := range s.Errors {
				ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, float64(n), st.Name, s.Name, reason)
			}
		}
		for _, cs := range st.Channels {
			no := strconv.Itoa(int(cs.Channel))
			stale, behind := 0.0, 0.0
			if cs.Stale {
				stale = 1
			}
			if cs.Last >= cs.Next {
				behind = float64(cs.Last - cs.Next + 1)
			}
			ch <- prometheus.MustNewConstMetric(c.chanStale, prometheus.GaugeValue, stale, st.Name, no)
			ch <- prometheus.MustNewConstMetric(c.chanBehind, prometheus.GaugeValue, behind, st.Name, no)
			ch <- prometheus.MustNewConstMetric(c.chanLost, prometheus.CounterValue, float64(cs.Lost), st.Name, no)
		}
	}
}
