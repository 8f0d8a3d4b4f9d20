// Package schemas embeds the JSON Schemas of intake: the connector spec format and the
// built-in interaction kinds. The spec loader validates every connector against
// connector.schema.json, so the schema editors autocomplete from is the one enforced.
package schemas

import "embed"

// FS holds every *.schema.json file of this folder.
//
//go:embed *.schema.json
var FS embed.FS

// ConnectorSchema is the file name of the connector spec schema inside FS.
const ConnectorSchema = "connector.schema.json"
