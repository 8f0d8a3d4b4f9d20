package retrieve

import (
	"time"

	"github.com/intakehq/intake/engine/spec"
)

// Now is the client's clock: the one behind .now in templates, which a sync also
// reads for the end of the range it asks for.
func (c *Client) Now() time.Time { return c.opts.Now() }

// Connector is the spec the client was built for.
func (c *Client) Connector() *spec.Connector { return c.conn }
