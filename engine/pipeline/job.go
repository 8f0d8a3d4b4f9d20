package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/intakehq/intake/engine/auth"
	"github.com/intakehq/intake/engine/filesource"
	"github.com/intakehq/intake/engine/process"
	"github.com/intakehq/intake/engine/retrieve"
	"github.com/intakehq/intake/engine/secret"
	"github.com/intakehq/intake/engine/source"
	"github.com/intakehq/intake/engine/spec"
	"github.com/intakehq/intake/engine/sqlsource"
	"github.com/intakehq/intake/engine/store"
)

// Integrations is what LoadJob reads an integration from, and where token-based auth
// keeps its refreshed tokens.
type Integrations interface {
	Integration(ctx context.Context, id string) (*store.Integration, error)
	Credentials(ctx context.Context, id string, box *secret.Box) (map[string]any, error)
	IntegrationOverride(ctx context.Context, id string) (string, error)
	auth.TokenDB
}

// LoadJob reads an integration, finds its connector, opens its credentials and builds
// a client for it.
func LoadJob(ctx context.Context, db Integrations, cat *spec.Catalog, box *secret.Box, id string, opts retrieve.Options) (Job, error) {
	in, err := db.Integration(ctx, id)
	if err != nil {
		return Job{}, err
	}
	if in.Status != store.StatusEnabled {
		return Job{}, fmt.Errorf("integration %s is %s", id, in.Status)
	}
	attached, err := db.IntegrationOverride(ctx, id)
	if err != nil {
		return Job{}, err
	}
	// Overrides are read on every load: an edited file takes effect on the next sync.
	conn, _, err := cat.Effective(in.CustomerID, in.Provider, attached, "integration "+id+" override")
	if err != nil {
		return Job{}, fmt.Errorf("integration %s: %w", id, err)
	}
	creds, err := db.Credentials(ctx, id, box)
	if err != nil {
		return Job{}, err
	}
	opts.Credentials = &auth.StoreCredentials{Store: db, Box: box, IntegrationID: id}
	client, err := NewClient(ctx, retrieve.Source{Connector: conn, Config: in.Config, Credentials: creds}, opts)
	if err != nil {
		return Job{}, fmt.Errorf("integration %s: %w", id, err)
	}
	return Job{IntegrationID: id, CustomerID: in.CustomerID, Connector: conn, Client: client}, nil
}

// NewClient returns the client of a connector's source: the HTTP retriever, a SQL
// database or files.
func NewClient(ctx context.Context, src retrieve.Source, opts retrieve.Options) (Client, error) {
	switch src.Connector.Source {
	case spec.SourceSQL:
		return sqlsource.New(ctx, src, sqlsource.Options{Trace: opts.Trace, Logger: opts.Logger})
	case spec.SourceFiles:
		return filesource.New(ctx, src, filesource.Options{Trace: opts.Trace, Logger: opts.Logger, Transport: opts.Transport, Now: opts.Now})
	}
	return retrieve.NewClient(ctx, src, opts)
}

// Preview retrieves and maps records of one interaction type without storing anything,
// calling fn with each mapped record (or the record's mapping error) until limit
// records have been seen (0: no limit). It reads what a first sync would: from
// incremental.start (or initial_window), window by window with step, but the newest
// window first, so that a preview with a limit shows recent records at once instead
// of paging through years of empty windows (nothing is committed, so the order of the
// windows does not matter). A child type
// fetches its parent's records from the provider (nothing is stored to read them
// from) and the children of each in turn.
//
// Rows a resumable source (sql, files) could not read are reported to fn as errors too.
func Preview(ctx context.Context, client Client, it *spec.InteractionType, limit int, fn func(*process.Mapped, error) error) error {
	n := 0
	errLimit := errors.New("limit reached")
	mapper := process.NewMapper(it)
	each := func(pg retrieve.Page, parent []process.Field, parentErr error, batch *source.Batch) error {
		for _, rej := range batch.Rejected {
			if err := fn(nil, &process.RecordError{ExternalID: rej.ExternalID, Reason: rej.Reason}); err != nil {
				return err
			}
		}
		for i, raw := range pg.Records {
			if limit > 0 && n >= limit {
				return errLimit
			}
			keep, err := mapper.Keep(ctx, raw)
			if err == nil && !keep {
				continue
			}
			n++
			var m *process.Mapped
			if err == nil && parentErr != nil {
				err = &process.RecordError{Reason: parentErr.Error()}
			}
			if err == nil {
				m, err = mapper.MapChild(ctx, raw, parent)
			}
			var re *process.RecordError
			if errors.As(err, &re) {
				err = &process.RecordError{ExternalID: re.ExternalID, Reason: batch.At(i, re.Reason)}
			}
			if err := fn(m, err); err != nil {
				return err
			}
		}
		if limit > 0 && n >= limit {
			return errLimit
		}
		return nil
	}
	err := previewRecords(ctx, client, it, func(pg retrieve.Page, parent any, batch *source.Batch) error {
		if it.Parent == nil {
			return each(pg, nil, nil, batch)
		}
		fields, ferr := mapper.ParentFields(ctx, parent)
		return each(pg, fields, ferr, batch)
	})
	if errors.Is(err, errLimit) {
		return nil
	}
	return err
}

// previewRecords calls fn with every page a first sync of it would read; for a child
// type, with the parent each page belongs to; for a resumable source, with its batch.
func previewRecords(ctx context.Context, client Client, it *spec.InteractionType, fn func(pg retrieve.Page, parent any, batch *source.Batch) error) error {
	if rs, ok := client.(source.Resumable); ok {
		return rs.Resume(ctx, it, "", func(b source.Batch) error { return fn(b.Page, nil, &b) })
	}
	req := requestType(it)
	if it.Parent != nil {
		hc, ok := client.(interface{ Connector() *spec.Connector })
		if !ok {
			return fmt.Errorf("%s: parent/child types need an HTTP connector", it.Name)
		}
		parentType, ok := hc.Connector().InteractionTypes.Get(it.Parent.Type)
		if !ok {
			return fmt.Errorf("%s: parent type %q not found", it.Name, it.Parent.Type)
		}
		return previewRecords(ctx, client, parentType, func(pg retrieve.Page, _ any, _ *source.Batch) error {
			for _, parent := range pg.Records {
				err := client.Pages(ctx, req, retrieve.Query{Vars: map[string]any{"parent": parent}}, func(child retrieve.Page) error {
					return fn(child, parent, &source.Batch{})
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	spans, err := plan(&store.Object{}, it, clientNow(client).UTC())
	if err != nil {
		return err
	}
	r := &run{it: it}
	for i := len(spans) - 1; i >= 0; i-- {
		if err := client.Pages(ctx, req, r.query(spans[i]), func(pg retrieve.Page) error { return fn(pg, nil, &source.Batch{}) }); err != nil {
			return err
		}
	}
	return nil
}
