// Package connectors embeds the connector specs bundled with intake, so that the
// binary can run the demo and list bundled providers from any directory.
package connectors

import "embed"

// FS holds every bundled *.yaml spec.
//
//go:embed *.yaml
var FS embed.FS
