package pipeline

import (
	"fmt"
	"time"

	"github.com/intakehq/intake/engine/process"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

// spans plans the ranges a sync reads. Without incremental, one span reads
// everything. Otherwise it reads from the starting point (startingPoint) up to now;
// with incremental.step, a range longer than step (the first backfill, a catch-up
// after an outage) is sliced into windows [from, from+step), [from+step, from+2step),
// ... of which the last ends at now. Each window but the last commits its end as the
// cursor when it completes, so an interrupted backfill resumes in the window it was in.
func (r *run) spans() ([]span, error) {
	return plan(r.obj, r.it, r.now)
}

func plan(obj *store.Object, it *spec.InteractionType, now time.Time) ([]span, error) {
	inc := it.Incremental
	if inc == nil || it.Parent != nil {
		return []span{{to: now, final: true}}, nil
	}
	from, err := startingPoint(obj, inc, now)
	if err != nil {
		return nil, err
	}
	step := inc.Step.D()
	if step <= 0 || from.IsZero() || from.IsInt() {
		return []span{{from: from, to: now, final: true}}, nil
	}
	var out []span
	start := from.Time()
	for now.Sub(start) > step {
		out = append(out, span{from: process.TimeCursor(start), to: start.Add(step)})
		start = start.Add(step)
	}
	return append(out, span{from: process.TimeCursor(start), to: now, final: true}), nil
}

// startingPoint is the inclusive lower bound of the records to ask for: the committed
// cursor less the lookback (never before incremental.start); on a first sync,
// incremental.start, or now less incremental.initial_window when that is later; else
// nothing (a full read).
func startingPoint(obj *store.Object, inc *spec.Incremental, now time.Time) (process.Cursor, error) {
	c, err := process.ParseCursor(obj.Cursor, inc.Format)
	if err != nil {
		// The spec changed its cursor's format: the stored one cannot be trusted.
		return process.Cursor{}, fmt.Errorf("%s/%s: %w; to read from the start again, run intake integrations resync %s --type %s", obj.IntegrationID, obj.Type, err, obj.IntegrationID, obj.Type)
	}
	if !c.IsZero() {
		if c.IsInt() {
			return c, nil
		}
		c = c.Add(-inc.Lookback.D())
		if st, ok := inc.StartTime(); ok && c.Time().Before(st) {
			c = process.TimeCursor(st)
		}
		return c, nil
	}
	if n, ok := inc.StartInt(); ok {
		return process.IntCursor(n), nil
	}
	var first process.Cursor
	if st, ok := inc.StartTime(); ok {
		first = process.TimeCursor(st)
	}
	if w := inc.InitialWindow.D(); w > 0 {
		if ws := now.Add(-w); first.IsZero() || ws.After(first.Time()) {
			first = process.TimeCursor(ws)
		}
	}
	return first, nil
}
