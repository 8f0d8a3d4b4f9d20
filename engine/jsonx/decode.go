package jsonx

import (
	"encoding/json"
	"io"
)

// AtEnd reports whether nothing but whitespace follows the value dec has just
// decoded. It consumes the next token. dec.More, often used for this, is false
// before a stray '}' or ']', so `{"id":1}}` passed for one value.
func AtEnd(dec *json.Decoder) bool {
	_, err := dec.Token()
	return err == io.EOF
}
