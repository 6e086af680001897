package auth

import (
	"testing"
	"time"
)

func TestCanTrade(t *testing.T) {
	c := Claims{Subject: "u1", Accounts: []string{"A1", "A2"}, Expires: testExp}
	tests := []struct {
		name    string
		claims  Claims
		account string
		want    bool
	}{
		{name: "first", claims: c, account: "A1", want: true},
		{name: "second", claims: c, account: "A2", want: true},
		{name: "other", claims: c, account: "A3"},
		{name: "case differs", claims: c, account: "a1"},
		{name: "prefix", claims: c, account: "A"},
		{name: "empty account", claims: c, account: ""},
		{name: "empty account listed", claims: Claims{Accounts: []string{""}}, account: ""},
		{name: "no accounts", claims: Claims{Subject: "u1"}, account: "A1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.claims.CanTrade(tt.account); got != tt.want {
				t.Fatalf("CanTrade(%q) = %v, want %v", tt.account, got, tt.want)
			}
		})
	}
}

func TestExpiresAt(t *testing.T) {
	c := Claims{Expires: testExp}
	if got, want := c.ExpiresAt(), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("ExpiresAt = %v, want %v", got, want)
	}
}
