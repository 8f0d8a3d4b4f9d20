package bench

import "strconv"

// The chaos campaign (internal/chaos, docs/chaos.md) moves the mock's data between and
// during syncs, new records and deletions included, and compares the store with what
// the mock serves at the end.

// Add appends n new records, updated after every record so far (so an incremental
// sync finds them). It returns how many it added.
func (m *Mock) Add(n int) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n <= 0 {
		return 0
	}
	latest := baseTime
	if m.n > 0 {
		latest = m.updated[m.order[m.n-1]]
	}
	for k := range n {
		i := m.n
		m.updated = append(m.updated, latest+60+int64(k))
		m.version = append(m.version, 0)
		m.order = append(m.order, int32(i)) // the newest: already in (updated, index) order
		if m.deleted != nil {
			m.deleted = append(m.deleted, false)
		}
		m.n++
	}
	return n
}

// Delete marks up to n records that are not deleted yet as deleted at the source: they
// stay in the feed with "deleted":true, a new version and updated_at after every record
// so far, as a provider with soft deletes serves them. The records are spread over the
// whole set, from a different offset each call. It returns how many it deleted.
func (m *Mock) Delete(n int) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n <= 0 || m.n == 0 {
		return 0
	}
	if m.deleted == nil {
		m.deleted = make([]bool, m.n)
	}
	step := max(1, m.n/n)
	latest := m.updated[m.order[m.n-1]]
	m.gen++
	done := 0
	for i := m.gen % step; i < m.n && done < n; i += step {
		if m.deleted[i] {
			continue
		}
		m.deleted[i] = true
		m.version[i]++
		m.updated[i] = latest + 60 + int64(done)
		done++
	}
	m.sortOrder()
	return done
}

// TruthRecord is one record as the mock serves it now.
type TruthRecord struct {
	ID      string
	Raw     []byte // the record's JSON, as in a page
	Deleted bool
	// States is how many different contents the record has had (1 + its changes): a
	// store that kept every change has at most this many change-feed entries for it.
	States int
}

// Snapshot renders every record as the mock serves it now, in index order.
func (m *Mock) Snapshot() []TruthRecord {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]TruthRecord, m.n)
	for i := range m.n {
		out[i] = TruthRecord{
			ID:      "c_" + strconv.Itoa(i),
			Raw:     m.appendRecord(nil, i),
			Deleted: m.deleted != nil && m.deleted[i],
			States:  1 + int(m.version[i]),
		}
	}
	return out
}
