package sqlsource

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/intakehq/intake/engine/jsonx"
)

// category groups the database type names that pgx and go-sql-driver/mysql report
// (ColumnTypeDatabaseTypeName) by how their values become JSON.
type category int

const (
	catText category = iota
	catInt
	catDecimal // exact decimals: NUMERIC, DECIMAL
	catFloat
	catBool
	catTime
	catDate
	catJSON
	catBinary
	catBit
)

func categorize(typ string) category {
	t := strings.TrimPrefix(strings.ToUpper(typ), "UNSIGNED ")
	switch t {
	case "INT2", "INT4", "INT8", "OID", "TINYINT", "SMALLINT", "MEDIUMINT", "INT", "INTEGER", "BIGINT", "YEAR":
		return catInt
	case "NUMERIC", "DECIMAL":
		return catDecimal
	case "FLOAT4", "FLOAT8", "FLOAT", "DOUBLE", "REAL":
		return catFloat
	case "BOOL", "BOOLEAN":
		return catBool
	case "TIMESTAMP", "TIMESTAMPTZ", "DATETIME":
		return catTime
	case "DATE":
		return catDate
	case "JSON", "JSONB":
		return catJSON
	case "BYTEA", "BLOB", "TINYBLOB", "MEDIUMBLOB", "LONGBLOB", "BINARY", "VARBINARY", "GEOMETRY":
		return catBinary
	case "BIT":
		return catBit
	}
	return catText
}

var jsonNumberRe = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// normalize turns a driver value into the JSON value a record holds, as if it had
// been decoded from a JSON API: numbers as json.Number (exact: no float rounding of
// bigints or decimals), timestamps as RFC 3339 in UTC, dates as YYYY-MM-DD, JSON
// columns decoded, binary columns as base64, the rest as strings.
func normalize(cat category, v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case time.Time:
		if cat == catDate {
			return x.Format(time.DateOnly)
		}
		return x.UTC().Format(time.RFC3339Nano)
	case int64:
		return json.Number(strconv.FormatInt(x, 10))
	case uint64:
		return json.Number(strconv.FormatUint(x, 10))
	case int32:
		return json.Number(strconv.FormatInt(int64(x), 10))
	case float64:
		return floatValue(x)
	case float32:
		return floatValue(float64(x))
	case bool:
		return x
	case string:
		return textValue(cat, x, false)
	case []byte:
		switch cat {
		case catBinary:
			return base64.StdEncoding.EncodeToString(x)
		case catBit:
			return json.Number(new(big.Int).SetBytes(x).String())
		}
		return textValue(cat, string(x), true)
	}
	return fmt.Sprint(v)
}

func floatValue(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, 64) // JSON has no NaN
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
}

// textValue reads a value the driver delivered as text (every MySQL value of a query
// without arguments, PostgreSQL numerics and JSON).
func textValue(cat category, s string, fromBytes bool) any {
	switch cat {
	case catInt, catDecimal, catFloat:
		if jsonNumberRe.MatchString(s) {
			return json.Number(s)
		}
	case catJSON:
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) == nil && jsonx.AtEnd(dec) {
			return v
		}
	case catBool:
		if b, err := strconv.ParseBool(s); err == nil {
			return b
		}
	case catBinary:
		if fromBytes {
			return base64.StdEncoding.EncodeToString([]byte(s))
		}
	}
	return s
}

// value is one typed value of a stored position: a cursor or tiebreaker value, kept
// with its type so that it binds as the same type on the next sync.
type value struct {
	T string `json:"t"` // time, int, float, numeric, bool, bytes, text
	V string `json:"v"`
}

// positionValue encodes the driver value of a cursor or tiebreaker column.
func positionValue(cat category, v any) (*value, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case time.Time:
		return &value{"time", x.Format(time.RFC3339Nano)}, nil
	case int64:
		return &value{"int", strconv.FormatInt(x, 10)}, nil
	case uint64:
		return &value{"int", strconv.FormatUint(x, 10)}, nil
	case float64:
		return &value{"float", strconv.FormatFloat(x, 'g', -1, 64)}, nil
	case bool:
		return &value{"bool", strconv.FormatBool(x)}, nil
	case string:
		return textPosition(cat, x), nil
	case []byte:
		if cat == catBinary {
			return &value{"bytes", base64.StdEncoding.EncodeToString(x)}, nil
		}
		return textPosition(cat, string(x)), nil
	}
	return nil, fmt.Errorf("a %T value cannot be a cursor or tiebreaker", v)
}

func textPosition(cat category, s string) *value {
	switch cat {
	case catInt:
		return &value{"int", s}
	case catDecimal, catFloat:
		return &value{"numeric", s}
	}
	return &value{"text", s}
}

// arg is the value to bind as a query argument.
func (v *value) arg() (any, error) {
	switch v.T {
	case "time":
		return time.Parse(time.RFC3339Nano, v.V)
	case "int":
		if i, err := strconv.ParseInt(v.V, 10, 64); err == nil {
			return i, nil
		}
		return strconv.ParseUint(v.V, 10, 64)
	case "float":
		return strconv.ParseFloat(v.V, 64)
	case "bool":
		return strconv.ParseBool(v.V)
	case "bytes":
		return base64.StdEncoding.DecodeString(v.V)
	case "numeric", "text":
		return v.V, nil
	}
	return nil, fmt.Errorf("unknown value type %q", v.T)
}

func (v *value) String() string {
	if v == nil {
		return "NULL"
	}
	return v.V
}

// position is where a sync of a table stands, stored as the integration object's
// cursor (JSON). Rows whose cursor is NULL are read by tiebreaker in a pass of their
// own before the others, each sync from the highest tiebreaker read so far.
type position struct {
	// NullsAfter is the highest tiebreaker read among rows whose cursor is NULL.
	NullsAfter *value `json:"nulls_after,omitempty"`
	// Cursor and Tiebreaker are the last row read in (cursor, tiebreaker) order.
	Cursor     *value `json:"cursor,omitempty"`
	Tiebreaker *value `json:"tiebreaker,omitempty"`
}

func decodePosition(s string) (position, error) {
	var p position
	if s == "" {
		return p, nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("stored cursor %q is not a sql position: %w", s, err)
	}
	if (p.Cursor == nil) != (p.Tiebreaker == nil) {
		return p, fmt.Errorf("stored cursor %q has a cursor without a tiebreaker, or the reverse", s)
	}
	for _, v := range []*value{p.NullsAfter, p.Cursor, p.Tiebreaker} {
		if v == nil {
			continue
		}
		if _, err := v.arg(); err != nil {
			return p, fmt.Errorf("stored cursor %q: %w", s, err)
		}
	}
	return p, nil
}

func (p position) encode() string {
	if p.NullsAfter == nil && p.Cursor == nil {
		return ""
	}
	b, _ := json.Marshal(p)
	return string(b)
}
