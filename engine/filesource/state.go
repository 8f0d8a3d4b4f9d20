package filesource

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
)

// state is what a files source remembers between syncs, stored as the integration
// object's cursor (JSON) and committed with every page:
//
//   - Files: each file processed in full, by name, with its size and content hash.
//     A file whose name, size and hash match is skipped; any other is read (again).
//     Only files still present are kept, so the state stays as large as the listing.
//   - Current: the file being read and how many of its rows are committed, so an
//     interrupted sync resumes inside a large file rather than at its start.
//
// Keeping this in the cursor rather than a table of its own means a page's records and
// the checkpoint that covers them commit in one transaction: a file is never recorded
// as processed unless its rows are stored, and its rows are never stored twice.
type state struct {
	Files   map[string]fileEntry `json:"files,omitempty"`
	Current *progress            `json:"current,omitempty"`
}

type fileEntry struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// MTime (local files) lets an unchanged file be skipped without hashing it again:
	// same size and modification time as when it was hashed.
	MTime string `json:"mtime,omitempty"`
	// ETag (http files) is sent as If-None-Match: a 304 skips the download.
	ETag string `json:"etag,omitempty"`
}

type progress struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Rows   int64  `json:"rows"` // rows of the file committed (records and rejected rows)
}

func decodeState(s string) (state, error) {
	st := state{Files: map[string]fileEntry{}}
	if s == "" {
		return st, nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return st, fmt.Errorf("stored cursor is not a files checkpoint: %w", err)
	}
	if st.Files == nil {
		st.Files = map[string]fileEntry{}
	}
	return st, nil
}

func (st state) encode() string {
	if len(st.Files) == 0 && st.Current == nil {
		return ""
	}
	b, _ := json.Marshal(st)
	return string(b)
}

func (st state) clone() state {
	out := state{Files: maps.Clone(st.Files)}
	if st.Current != nil {
		c := *st.Current
		out.Current = &c
	}
	return out
}
