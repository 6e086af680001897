package system

import (
	"strings"
	"testing"

	"sgw/configs"
	"sgw/sim"
)

// TestDemoEverySourceDownStale is the operator drill: the demo's
// simulator loses every feed source (ITCH and SZSE, primary and backup).
// After stale_after_outage the books of both feeds are served stale
// (REST "state":"stale", gateway_feed_stale 1, an outage counted);
// once the sources are back they are valid again. Before, /readyz went
// 503 but gateway_feed_stale stayed 0 and REST showed "state":"trading"
// for as long as the sources were down.
func TestDemoEverySourceDownStale(t *testing.T) {
	cfg, err := configs.LoadDemo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Gateway.HTTP = "127.0.0.1:0"
	d, err := NewDemo(cfg, brokerLog())
	if err != nil {
		t.Fatal(err)
	}
	runDemo(t, d)
	brokerWaitUntil(t, "/readyz", func() bool { code, _ := brokerGet(t, d.BaseURL+"/readyz"); return code == 200 })
	srcs := []sim.Source{sim.Primary, sim.Backup, sim.SZSEPrimary, sim.SZSEBackup}
	for _, src := range srcs {
		if err := d.Sim.StopSource(src); err != nil {
			t.Fatal(err)
		}
	}
	state := func(sym string) string {
		_, body := brokerGet(t, d.BaseURL+"/api/v1/book/"+sym+"?depth=1")
		return string(body)
	}
	metrics := func() string {
		_, body := authGet(t, d.BaseURL+"/metrics", d.OperatorToken)
		return string(body)
	}
	brokerWaitUntil(t, "every book stale with every source down", func() bool {
		for _, sym := range []string{"600519.SH", "000001.SZ"} {
			if !strings.Contains(state(sym), `"state":"stale"`) {
				return false
			}
		}
		m := metrics()
		return strings.Contains(m, `gateway_feed_stale{feed="cn"} 1`) && strings.Contains(m, `gateway_feed_outages_total{feed="cn"} 1`) &&
			strings.Contains(m, `gateway_feed_stale{feed="szse"} 1`) && strings.Contains(m, `gateway_feed_outages_total{feed="szse"} 1`)
	})
	for _, src := range srcs {
		if err := d.Sim.StartSource(src); err != nil {
			t.Fatal(err)
		}
	}
	brokerWaitUntil(t, "the books valid again once the sources replayed what was missed", func() bool {
		code, _ := brokerGet(t, d.BaseURL+"/readyz")
		m := metrics()
		return code == 200 && !strings.Contains(state("600519.SH"), `"state":"stale"`) && !strings.Contains(state("000001.SZ"), `"state":"stale"`) &&
			strings.Contains(m, `gateway_feed_stale{feed="cn"} 0`) && strings.Contains(m, `gateway_feed_stale{feed="szse"} 0`)
	})
}
