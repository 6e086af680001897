package configs

import (
	"context"
	"log/slog"
)

// uniqueKeys is a slog.Handler that writes each attribute key once: an
// attribute added by Logger.With replaces an earlier one with the same key
// (a component's logger derived from its parent's names its own
// component), and a record's own attribute replaces both. Groups keep
// their attributes apart, as in slog: keys are compared within the
// innermost open group only.
//
// Like every slog.Handler it is safe for concurrent use; it is immutable.
type uniqueKeys struct {
	base  slog.Handler // the handler with the groups opened before attrs
	attrs []slog.Attr  // added since the last group, each key once
}

func newUniqueKeys(h slog.Handler) slog.Handler { return &uniqueKeys{base: h} }

func (h *uniqueKeys) Enabled(ctx context.Context, l slog.Level) bool {
	return h.base.Enabled(ctx, l)
}

func (h *uniqueKeys) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	return &uniqueKeys{base: h.base, attrs: merge(h.attrs, as)}
}

func (h *uniqueKeys) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &uniqueKeys{base: h.base.WithAttrs(h.attrs).WithGroup(name)}
}

func (h *uniqueKeys) Handle(ctx context.Context, r slog.Record) error {
	if len(h.attrs) == 0 {
		return h.base.Handle(ctx, r)
	}
	own := make([]slog.Attr, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool { own = append(own, a); return true })
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(merge(h.attrs, own)...)
	return h.base.Handle(ctx, out)
}

// merge returns a copy of old with each attribute of add appended, or
// replacing the one of old with its key in place.
func merge(old, add []slog.Attr) []slog.Attr {
	out := make([]slog.Attr, len(old), len(old)+len(add))
	copy(out, old)
next:
	for _, a := range add {
		for i := range out {
			if out[i].Key == a.Key {
				out[i] = a
				continue next
			}
		}
		out = append(out, a)
	}
	return out
}
