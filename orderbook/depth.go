package orderbook

// ApplyUpdate applies u to a client's copy of the top depth levels of a
// book (bids and asks, best first), as the Update contract describes, and
// returns the new sides; it may reuse their arrays. depth must be 5, 10 or
// 20 (the depths Update.Enter serves). A KindReset empties both sides;
// KindReload carries no changes (the owner reloads from the View).
//
// It is the one implementation of the contract: the WebSocket hub keeps
// its depth-20 copies with it and a Mirror its books. A pure function,
// safe from any goroutine on sides the caller owns; it does not allocate
// once the sides have capacity depth+1.
func ApplyUpdate(bids, asks []Level, u *Update, depth int) ([]Level, []Level) {
	if u.Kind == KindReset {
		return bids[:0], asks[:0]
	}
	for _, c := range u.Changes[:min(int(u.N), len(u.Changes))] {
		if c.Side == Bid {
			bids = applyChange(bids, c, depth)
		} else if c.Side == Ask {
			asks = applyChange(asks, c, depth)
		}
	}
	if u.EnterSide != 0 {
		l := u.Enter[EnterIndex(depth)]
		if u.EnterSide == Bid {
			bids = refill(bids, l, depth)
		} else {
			asks = refill(asks, l, depth)
		}
	}
	return bids, asks
}

// EnterIndex maps a client depth (5, 10 or 20) to its entry in
// Update.Enter: the level that refills a side of that depth after a
// removal. Depth-indexed tables of the fan-out use the same order.
func EnterIndex(depth int) int {
	switch depth {
	case 5:
		return 0
	case 10:
		return 1
	}
	return 2
}

// applyChange applies one level change to a side of depth levels.
func applyChange(side []Level, c LevelChange, depth int) []Level {
	r := int(c.Rank)
	if r < 0 || r >= depth {
		return side
	}
	switch {
	case c.Level.Qty == 0:
		if r < len(side) {
			side = append(side[:r], side[r+1:]...)
		}
	case r < len(side) && side[r].Price == c.Level.Price:
		side[r] = c.Level
	default:
		r = min(r, len(side))
		side = append(side, Level{})
		copy(side[r+1:], side[r:])
		side[r] = c.Level
	}
	if len(side) > depth {
		side = side[:depth]
	}
	return side
}

// refill appends the level entering the bottom of a side of depth levels
// after a removal.
func refill(side []Level, l Level, depth int) []Level {
	if len(side) == depth-1 && l.Qty != 0 {
		side = append(side, l)
	}
	return side
}
