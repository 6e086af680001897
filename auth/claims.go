package auth

import (
	"fmt"
	"slices"
	"time"
)

// Limits on Claims, checked by Issue and by Verify.
const (
	// MaxSubjectLen is the longest subject, in bytes of printable ASCII.
	MaxSubjectLen = 64
	// MaxAccounts is the most accounts one token may grant.
	MaxAccounts = 64
	// MaxAccountLen is the longest account id, in bytes of [A-Za-z0-9_-].
	MaxAccountLen = 32
)

// Claims are what a token grants.
type Claims struct {
	// Subject names the user: 1 to MaxSubjectLen printable ASCII characters
	// (0x20 to 0x7e).
	Subject string `json:"sub"`
	// Accounts are the accounts the token may trade: at most MaxAccounts ids
	// of 1 to MaxAccountLen characters of [A-Za-z0-9_-]. Empty means
	// market data only.
	Accounts []string `json:"acc"`
	// Expires is when the token stops being valid, in Unix seconds.
	Expires int64 `json:"exp"`
}

// CanTrade reports whether c grants trading on account. It does not look at
// expiry: Verify has done that.
func (c Claims) CanTrade(account string) bool {
	return account != "" && slices.Contains(c.Accounts, account)
}

// ExpiresAt returns Expires as a time.
func (c Claims) ExpiresAt() time.Time {
	return time.Unix(c.Expires, 0)
}

// validate checks the limits that hold whatever the time.
func (c Claims) validate() error {
	if c.Subject == "" {
		return fmt.Errorf("sub is empty")
	}
	if len(c.Subject) > MaxSubjectLen {
		return fmt.Errorf("sub is %d bytes, over %d", len(c.Subject), MaxSubjectLen)
	}
	for i := 0; i < len(c.Subject); i++ {
		if b := c.Subject[i]; b < 0x20 || b > 0x7e {
			return fmt.Errorf("sub has byte %#04x at %d, not printable ASCII", b, i)
		}
	}
	if len(c.Accounts) > MaxAccounts {
		return fmt.Errorf("acc has %d entries, over %d", len(c.Accounts), MaxAccounts)
	}
	for i, a := range c.Accounts {
		if a == "" || len(a) > MaxAccountLen {
			return fmt.Errorf("acc[%d] is %d bytes, not 1..%d", i, len(a), MaxAccountLen)
		}
		for j := 0; j < len(a); j++ {
			if !isURLByte(a[j]) {
				return fmt.Errorf("acc[%d] has byte %#04x at %d, not [A-Za-z0-9_-]", i, a[j], j)
			}
		}
	}
	return nil
}

// isURLByte reports whether b is in [A-Za-z0-9_-]: the base64url alphabet,
// and the characters of an account id.
func isURLByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '_' || b == '-'
}
