package orders

import "sgw/risk"

// Account returns a copy of an account's cash and positions as pre-trade
// risk holds them (risk.Checker.Snapshot): what a client may show as its
// buying power and holdings. It reflects every request and execution
// report the manager has handled, including the ones whose events are
// still on their way to clients. An account risk does not know is
// risk.ErrUnknownAccount. Safe for concurrent use: it takes only risk's
// lock, never mu.
func (m *Manager) Account(account string) (risk.AccountState, error) {
	return m.risk.Snapshot(account)
}
