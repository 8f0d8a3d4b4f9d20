package sqlsource

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/intakehq/intake/engine/expr"
	"github.com/intakehq/intake/engine/spec"
)

// dialect is what differs between the servers: quoting, placeholders, how a statement
// gets its timeout, and whether row values compare.
type dialect struct {
	name      string // postgres, mysql or mariadb
	rowValues bool
}

func (d dialect) quote(ident string) string {
	if d.name == spec.DriverPostgres {
		return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"`
	}
	return "`" + strings.ReplaceAll(ident, "`", "``") + "`"
}

func (d dialect) placeholder(n int) string {
	if d.name == spec.DriverPostgres {
		return fmt.Sprintf("$%d", n)
	}
	return "?"
}

// withTimeout gives a MySQL or MariaDB statement its server-side timeout (PostgreSQL's
// is set on the transaction).
func (d dialect) withTimeout(text string, timeout time.Duration) string {
	switch d.name {
	case spec.DriverMySQL:
		return strings.Replace(text, "SELECT ", fmt.Sprintf("SELECT /*+ MAX_EXECUTION_TIME(%d) */ ", timeout.Milliseconds()), 1)
	case "mariadb":
		return fmt.Sprintf("SET STATEMENT max_statement_time=%g FOR %s", timeout.Seconds(), text)
	}
	return text
}

// plan is an interaction type's query, rendered for one integration.
type plan struct {
	d      dialect
	cols   string // the select list
	from   string // what FROM reads
	cursor string // quoted cursor column; "" without one
	tie    string // quoted tiebreaker column
	where  string // the spec's extra condition, "" without one
	limit  int
}

func (s *Source) plan(ctx context.Context, it *spec.InteractionType, d dialect) (*plan, error) {
	q := it.Query
	vars := map[string]any{"config": s.config}
	from, err := q.From.RenderString(ctx, vars)
	if err != nil {
		return nil, permanent("render query.from: %w", err)
	}
	from = strings.TrimSpace(from)
	if from == "" {
		return nil, permanent("query.from renders empty (%s): supply the config it reads", q.From.Src)
	}
	p := &plan{d: d, tie: d.quote(q.Tiebreaker), limit: q.Limit}
	if spec.IsTableName(from) {
		parts := strings.Split(from, ".")
		for i, part := range parts {
			parts[i] = d.quote(part)
		}
		p.from = strings.Join(parts, ".")
	} else {
		// A SELECT: read as a derived table, so that the keyset condition and the order
		// apply to its rows.
		p.from = "(" + strings.TrimRight(from, "; \n\t") + ") AS intake_src"
	}
	if q.Where != nil {
		w, err := q.Where.RenderString(ctx, vars)
		if err != nil {
			return nil, permanent("render query.where: %w", err)
		}
		p.where = strings.TrimSpace(w)
	}
	if q.Cursor != "" {
		p.cursor = d.quote(q.Cursor)
	}
	if len(q.Select) == 0 {
		p.cols = "*"
	} else {
		cols := make([]string, 0, len(q.Select)+2)
		has := map[string]bool{}
		for _, c := range q.Select {
			cols = append(cols, d.quote(c))
			has[strings.ToLower(c)] = true
		}
		// The position is read from the rows: cursor and tiebreaker are always selected.
		for _, c := range []string{q.Cursor, q.Tiebreaker} {
			if c != "" && !has[strings.ToLower(c)] {
				cols = append(cols, d.quote(c))
				has[strings.ToLower(c)] = true
			}
		}
		p.cols = strings.Join(cols, ", ")
	}
	return p, nil
}

// stmt is one page query with its arguments.
type stmt struct {
	text string
	args []any
}

// show prints the statement with its arguments, for traces and errors.
func (st stmt) show() string {
	if len(st.args) == 0 {
		return st.text
	}
	args := make([]string, len(st.args))
	for i, a := range st.args {
		switch x := a.(type) {
		case time.Time:
			args[i] = x.Format(time.RFC3339Nano)
		case []byte:
			args[i] = fmt.Sprintf("%d bytes", len(x))
		default:
			args[i] = expr.Text(a)
		}
	}
	return st.text + " [" + strings.Join(args, ", ") + "]"
}

// build assembles SELECT cols FROM from WHERE conds AND (where) ORDER BY order LIMIT n.
func (p *plan) build(conds []string, args []any, order string) stmt {
	if p.where != "" {
		conds = append(conds, "("+p.where+")")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT %s FROM %s", p.cols, p.from)
	if len(conds) > 0 {
		b.WriteString(" WHERE " + strings.Join(conds, " AND "))
	}
	fmt.Fprintf(&b, " ORDER BY %s LIMIT %d", order, p.limit)
	return stmt{text: b.String(), args: args}
}

// fullRead is a page of a type without cursor: by tiebreaker, after the last read.
func (p *plan) fullRead(after *value) stmt {
	var conds []string
	var args []any
	if after != nil {
		a, _ := after.arg() // checked when decoded or read
		conds = append(conds, fmt.Sprintf("%s > %s", p.tie, p.d.placeholder(1)))
		args = append(args, a)
	}
	return p.build(conds, args, p.tie)
}

// nulls is a page of the rows whose cursor is NULL, by tiebreaker.
func (p *plan) nulls(after *value) stmt {
	conds := []string{p.cursor + " IS NULL"}
	var args []any
	if after != nil {
		a, _ := after.arg()
		conds = append(conds, fmt.Sprintf("%s > %s", p.tie, p.d.placeholder(1)))
		args = append(args, a)
	}
	return p.build(conds, args, p.tie)
}

// after is a page of the rows after (cursor, tiebreaker) in keyset order; from the
// first row with a cursor when there is no position yet.
func (p *plan) after(c, t *value) (stmt, error) {
	order := p.cursor + ", " + p.tie
	if c == nil {
		return p.build([]string{p.cursor + " IS NOT NULL"}, nil, order), nil
	}
	ca, err := c.arg()
	if err != nil {
		return stmt{}, err
	}
	ta, err := t.arg()
	if err != nil {
		return stmt{}, err
	}
	if p.d.rowValues {
		cond := fmt.Sprintf("(%s, %s) > (%s, %s)", p.cursor, p.tie, p.d.placeholder(1), p.d.placeholder(2))
		return p.build([]string{cond}, []any{ca, ta}, order), nil
	}
	// Spelled out for servers that cannot compare row values.
	cond := fmt.Sprintf("(%s > %s OR (%s = %s AND %s > %s))", p.cursor, p.d.placeholder(1), p.cursor, p.d.placeholder(2), p.tie, p.d.placeholder(3))
	return p.build([]string{cond}, []any{ca, ca, ta}, order), nil
}

// since is the first page of a sync with lookback: every row whose cursor is at or
// after t, in keyset order.
func (p *plan) since(t time.Time) stmt {
	cond := fmt.Sprintf("%s >= %s", p.cursor, p.d.placeholder(1))
	return p.build([]string{cond}, []any{t}, p.cursor+", "+p.tie)
}
