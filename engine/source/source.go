// Package source is the contract between the sync pipeline and the record sources that
// keep their own position instead of an HTTP API's time cursor: SQL tables read in
// keyset order (engine/sqlsource) and files read once each (engine/filesource).
//
// Such a source encodes its position as an opaque string that the pipeline stores as
// the integration object's cursor and commits with each page, so an interrupted sync
// resumes after its last committed page.
package source

import (
	"context"
	"errors"

	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/store"
)

// Batch is one page of records from a resumable source.
type Batch struct {
	retrieve.Page
	// Cursor is the source's position after this page; the pipeline commits it with the
	// page. "" keeps the stored position (a full read that does not resume).
	Cursor string
	// Where says where each record came from ("contacts.csv row 17"), index for index
	// with Records; nil when the source has nothing to add. Quarantine reasons start
	// with it.
	Where []string
	// Rejected are rows the source could not turn into a record (a CSV line with the
	// wrong number of fields, a JSON Lines line that is not JSON), quarantined with
	// the page.
	Rejected []store.Quarantined
}

// At prefixes msg with where record i came from, when the source said.
func (b *Batch) At(i int, msg string) string {
	if i < len(b.Where) && b.Where[i] != "" {
		return b.Where[i] + ": " + msg
	}
	return msg
}

// Resumable is a source that keeps its own position.
type Resumable interface {
	// Resume reads an interaction type from cursor ("" reads from the start) and calls
	// fn with each batch in order. fn's error stops reading and is returned, except
	// retrieve.ErrStopPaging, which stops reading and returns nil.
	Resume(ctx context.Context, it *spec.InteractionType, cursor string, fn func(Batch) error) error
}

// Pages reads an interaction type of r from the start, handing fn the pages only: what
// preview needs, and how a resumable source satisfies pipeline.Client.
func Pages(ctx context.Context, r Resumable, it *spec.InteractionType, fn func(retrieve.Page) error) error {
	err := r.Resume(ctx, it, "", func(b Batch) error { return fn(b.Page) })
	if errors.Is(err, retrieve.ErrStopPaging) {
		return nil
	}
	return err
}
