package source_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/source"
	"github.com/intakehq/intake/engine/spec"
)

func TestBatchAt(t *testing.T) {
	b := source.Batch{Where: []string{"a.csv row 1 (line 2)", ""}}
	assert.Equal(t, "a.csv row 1 (line 2): bad", b.At(0, "bad"))
	assert.Equal(t, "bad", b.At(1, "bad"), "no location for this record")
	assert.Equal(t, "bad", b.At(5, "bad"), "none past the list")
	assert.Equal(t, "bad", (&source.Batch{}).At(0, "bad"))
}

// resumable hands out three pages and records the cursor it was asked from.
type resumable struct{ from string }

func (r *resumable) Resume(_ context.Context, _ *spec.InteractionType, cursor string, fn func(source.Batch) error) error {
	r.from = cursor
	for i := 1; i <= 3; i++ {
		if err := fn(source.Batch{Page: retrieve.Page{Number: i, Records: []any{i}}, Cursor: "after-page"}); err != nil {
			return err
		}
	}
	return nil
}

// Pages reads from the start and hands over pages only; ErrStopPaging ends it cleanly
// and any other error is returned.
func TestPages(t *testing.T) {
	r := &resumable{from: "unset"}
	var got []int
	err := source.Pages(context.Background(), r, &spec.InteractionType{}, func(pg retrieve.Page) error {
		got = append(got, pg.Number)
		if pg.Number == 2 {
			return retrieve.ErrStopPaging
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2}, got)
	assert.Equal(t, "", r.from, "preview reads from the start")
	boom := errors.New("boom")
	err = source.Pages(context.Background(), r, &spec.InteractionType{}, func(retrieve.Page) error { return boom })
	assert.ErrorIs(t, err, boom)
}
