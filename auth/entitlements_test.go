package auth

import (
	"encoding/json"
	"errors"
	"maps"
	"testing"
)

func TestParseEntitlements(t *testing.T) {
	tests := []struct {
		in      string
		want    Entitlements
		wantErr bool
	}{
		{in: "SH:L2,SZ:L1", want: Entitlements{"SH": L2, "SZ": L1}},
		{in: " SH:L2 , *:L1 ", want: Entitlements{"SH": L2, "*": L1}},
		{in: "*:L2", want: Entitlements{"*": L2}},
		{in: "SH:none,*:L2", want: Entitlements{"SH": LevelNone, "*": L2}},
		{in: "none", want: Entitlements{}},
		{in: "", wantErr: true},
		{in: "SH", wantErr: true},
		{in: "SH:L3", wantErr: true},
		{in: "SH:l2", wantErr: true},
		{in: "sh:L2", wantErr: true},
		{in: "SH:L2,SH:L1", wantErr: true},
		{in: "SHANGHAI1:L1", wantErr: true},
		{in: ":L1", wantErr: true},
		{in: "SH:L2,", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseEntitlements(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseEntitlements = %v, want an error", got)
				}
				return
			}
			if err != nil || !maps.Equal(got, tt.want) || got == nil {
				t.Fatalf("ParseEntitlements = %v, %v; want %v", got, err, tt.want)
			}
			again, err := ParseEntitlements(got.String())
			if err != nil || !maps.Equal(again, got) {
				t.Fatalf("String %q parses to %v, %v", got.String(), again, err)
			}
		})
	}
	if s := (Entitlements{"SZ": L1, "*": L1, "SH": L2}).String(); s != "*:L1,SH:L2,SZ:L1" {
		t.Fatalf("String = %q", s)
	}
}

func TestEntitlementsJSON(t *testing.T) {
	b, err := json.Marshal(Entitlements{"SH": L2, "SZ": L1, "*": LevelNone})
	if err != nil || string(b) != `{"*":"none","SH":"L2","SZ":"L1"}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var e Entitlements
	if err := json.Unmarshal(b, &e); err != nil || !maps.Equal(e, Entitlements{"SH": L2, "SZ": L1, "*": LevelNone}) {
		t.Fatalf("Unmarshal = %v, %v", e, err)
	}
	if err := json.Unmarshal([]byte(`"SH:L2"`), &e); err == nil {
		t.Fatal("the text form is not JSON's")
	}
	if _, err := json.Marshal(Entitlements{"SH": 9}); err == nil {
		t.Fatal("marshalled level 9")
	}
}

func TestMayView(t *testing.T) {
	mixed := Claims{Subject: "u1", Entitlements: Entitlements{"SH": L2, "SZ": L1}}
	wild := Claims{Subject: "u1", Entitlements: Entitlements{"*": L1, "SH": L2, "BJ": LevelNone}}
	tests := []struct {
		name    string
		claims  Claims
		symbol  string
		channel string
		depth   int
		want    string // "" = allowed, else the error's text
	}{
		{name: "L2 book", claims: mixed, symbol: "600519.SH", channel: ChannelBook, depth: 20},
		{name: "L2 book depth 5", claims: mixed, symbol: "600519.SH", channel: ChannelBook, depth: 5},
		{name: "L2 quote", claims: mixed, symbol: "600519.SH", channel: ChannelQuote},
		{name: "L2 trades", claims: mixed, symbol: "600519.SH", channel: ChannelTrades},
		{name: "L2 book too deep", claims: mixed, symbol: "600519.SH", channel: ChannelBook, depth: 21, want: "auth: entitlement: book depth 21 is not 1..20"},
		{name: "L2 book depth 0", claims: mixed, symbol: "600519.SH", channel: ChannelBook, depth: 0, want: "auth: entitlement: book depth 0 is not 1..20"},
		{name: "L1 quote", claims: mixed, symbol: "000001.SZ", channel: ChannelQuote},
		{name: "L1 trades", claims: mixed, symbol: "000001.SZ", channel: ChannelTrades},
		{name: "L1 book", claims: mixed, symbol: "000001.SZ", channel: ChannelBook, depth: 5, want: "auth: entitlement: level-2 depth of SZ not granted"},
		{name: "market not listed", claims: mixed, symbol: "430047.BJ", channel: ChannelQuote, want: "auth: entitlement: market data of BJ not granted"},
		{name: "wildcard", claims: wild, symbol: "000001.SZ", channel: ChannelQuote},
		{name: "wildcard is L1", claims: wild, symbol: "000001.SZ", channel: ChannelBook, depth: 5, want: "auth: entitlement: level-2 depth of SZ not granted"},
		{name: "listed market beats wildcard", claims: wild, symbol: "600519.SH", channel: ChannelBook, depth: 10},
		{name: "listed none beats wildcard", claims: wild, symbol: "430047.BJ", channel: ChannelTrades, want: "auth: entitlement: market data of BJ not granted"},
		{name: "symbol without market", claims: wild, symbol: "600519", channel: ChannelQuote},
		{name: "symbol without market, not granted", claims: mixed, symbol: "600519", channel: ChannelQuote, want: "auth: entitlement: market data of 600519 not granted"},
		{name: "orders is not market data", claims: wild, symbol: "600519.SH", channel: "orders", want: `auth: entitlement: "orders" is not a market-data channel`},
		{name: "zero claims see nothing", claims: Claims{}, symbol: "600519.SH", channel: ChannelQuote, want: "auth: entitlement: market data of SH not granted"},
		{name: "default anonymous quote", claims: Claims{Entitlements: DefaultAnonymous()}, symbol: "600519.SH", channel: ChannelQuote},
		{name: "default anonymous book", claims: Claims{Entitlements: DefaultAnonymous()}, symbol: "600519.SH", channel: ChannelBook, depth: 5, want: "auth: entitlement: level-2 depth of SH not granted"},
		{name: "full", claims: Claims{Entitlements: FullEntitlements()}, symbol: "300750.SZ", channel: ChannelBook, depth: 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.claims.MayView(tt.symbol, tt.channel, tt.depth)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("MayView: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want || !errors.Is(err, ErrEntitlement) {
				t.Fatalf("MayView: %v, want %q", err, tt.want)
			}
		})
	}
}

func TestAnonymous(t *testing.T) {
	v := newTestVerifier(t, keyHS)
	a := v.Anonymous()
	if a.Subject != "" || len(a.Accounts) != 0 || !maps.Equal(a.Entitlements, Entitlements{"*": L1}) {
		t.Fatalf("Anonymous = %+v, want L1 everywhere by default", a)
	}
	a.Entitlements["*"] = L2 // the caller's copy
	if v.Anonymous().Entitlements["*"] != L1 {
		t.Fatal("Anonymous shares its map")
	}
	for _, tc := range []struct {
		cfg  Entitlements
		want Entitlements
	}{
		{cfg: Entitlements{}, want: Entitlements{}},
		{cfg: Entitlements{"SH": L2}, want: Entitlements{"SH": L2}},
	} {
		v, err := New(Config{Keys: []KeyConfig{keyHS}, Anonymous: tc.cfg})
		if err != nil {
			t.Fatal(err)
		}
		if got := v.Anonymous().Entitlements; !maps.Equal(got, tc.want) || got == nil {
			t.Fatalf("anonymous %v: %v", tc.cfg, got)
		}
	}
	if err := (Claims{}).MayView("600519.SH", ChannelQuote, 0); err == nil {
		t.Fatal("the zero Claims may view")
	}
}

func TestMarketOf(t *testing.T) {
	for sym, want := range map[string]string{"600519.SH": "SH", "000001.SZ": "SZ", "600519": "", "A.B.HK": "HK", "x.": ""} {
		if got := MarketOf(sym); got != want {
			t.Errorf("MarketOf(%q) = %q, want %q", sym, got, want)
		}
	}
}
