package sqlstore

import (
	"database/sql"
	"fmt"
	"strings"
)

// bulk is a multi-row INSERT (with an optional ON CONFLICT clause) into
// one table: the accounting flush writes all its rows of a table with it.
//
// On SQLite the rows go in chunks of bulkRows through one statement that
// is prepared once in the transaction, and the rest through one more
// statement, so SQLite parses two statements per table and flush instead
// of one per chunk (with fresh multi-row statements, parsing cost as much
// as executing them). On PostgreSQL one statement takes all the rows,
// each column as an array parameter expanded by unnest(): one round trip,
// and a text that never changes, which pgx prepares once per connection
// and reuses (its statement cache); batches above pgBulkRows rows take a
// statement per pgBulkRows.
type bulk struct {
	cols     []string
	pgTypes  []string // PostgreSQL element type of each column
	head     string   // "INSERT INTO table (cols) VALUES "
	conflict string   // " ON CONFLICT ..." or ""
	chunk    string   // SQLite: the statement for bulkRows rows
	pg       string   // PostgreSQL: the unnest statement
}

// bulkRows is the number of rows of SQLite's prepared statement (the
// parameters stay far below SQLite's limit of 32766).
const bulkRows = 128

// pgBulkRows bounds the rows of one PostgreSQL statement (its arrays and
// the server's memory for them; the text is the same whatever the count).
// A variable for tests.
var pgBulkRows = 20000

// newBulk describes a bulk insert into table; cols are "name type" pairs
// with PostgreSQL types (bigint, bytea, text, boolean); conflict follows
// ON CONFLICT ("" for a plain insert).
func newBulk(table string, cols []string, conflict string) *bulk {
	b := &bulk{}
	for _, c := range cols {
		name, typ, _ := strings.Cut(c, " ")
		b.cols = append(b.cols, name)
		b.pgTypes = append(b.pgTypes, typ)
	}
	list := strings.Join(b.cols, ", ")
	b.head = "INSERT INTO " + table + " (" + list + ") VALUES "
	if conflict != "" {
		b.conflict = " ON CONFLICT " + conflict
	}
	b.chunk = b.sqlite(bulkRows)
	arrays := make([]string, len(cols))
	for i, typ := range b.pgTypes {
		arrays[i] = fmt.Sprintf("$%d::%s[]", i+1, typ)
	}
	b.pg = "INSERT INTO " + table + " (" + list + ") SELECT * FROM unnest(" + strings.Join(arrays, ", ") + ")" + b.conflict
	return b
}

// sqlite returns the SQLite statement for n rows.
func (b *bulk) sqlite(n int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(b.cols)), ", ") + ")"
	var s strings.Builder
	s.Grow(len(b.head) + n*(len(row)+2) + len(b.conflict))
	s.WriteString(b.head)
	for i := range n {
		if i > 0 {
			s.WriteString(", ")
		}
		s.WriteString(row)
	}
	s.WriteString(b.conflict)
	return s.String()
}

// write inserts the rows in vals: row after row, len(b.cols) values each,
// of the Go types int64, []byte, string and bool for the PostgreSQL types
// bigint, bytea, text and boolean. Rows must not repeat a conflict key
// (PostgreSQL refuses to update a row twice in one statement).
func (b *bulk) write(t *txn, vals []any) error {
	w := len(b.cols)
	if len(vals) == 0 {
		return nil
	}
	if len(vals)%w != 0 {
		return fmt.Errorf("bulk insert: %d values for %d columns", len(vals), w)
	}
	if t.s.dialect == postgresDialect {
		for len(vals) > 0 {
			n := min(len(vals), w*pgBulkRows)
			args, err := b.arrays(vals[:n])
			if err != nil {
				return err
			}
			if _, err := t.exec(b.pg, args...); err != nil {
				return err
			}
			vals = vals[n:]
		}
		return nil
	}
	var st *sql.Stmt // prepared when used more than once
	full := len(vals) / (w * bulkRows)
	if full > 1 {
		var err error
		if st, err = t.PrepareContext(t.ctx, b.chunk); err != nil {
			return err
		}
		defer st.Close()
	}
	for ; full > 0; full-- {
		var err error
		if st != nil {
			_, err = st.ExecContext(t.ctx, vals[:w*bulkRows]...)
		} else {
			_, err = t.exec(b.chunk, vals[:w*bulkRows]...)
		}
		if err != nil {
			return err
		}
		vals = vals[w*bulkRows:]
	}
	if len(vals) == 0 {
		return nil
	}
	_, err := t.exec(b.sqlite(len(vals)/w), vals...)
	return err
}

// arrays turns row-major vals into one typed slice per column.
func (b *bulk) arrays(vals []any) ([]any, error) {
	w := len(b.cols)
	n := len(vals) / w
	args := make([]any, w)
	for j, typ := range b.pgTypes {
		var ok bool
		switch typ {
		case "bigint":
			a := make([]int64, n)
			for i := range a {
				if a[i], ok = vals[i*w+j].(int64); !ok {
					break
				}
			}
			args[j] = a
		case "bytea":
			a := make([][]byte, n)
			for i := range a {
				if a[i], ok = vals[i*w+j].([]byte); !ok {
					break
				}
			}
			args[j] = a
		case "text":
			a := make([]string, n)
			for i := range a {
				if a[i], ok = vals[i*w+j].(string); !ok {
					break
				}
			}
			args[j] = a
		case "boolean":
			a := make([]bool, n)
			for i := range a {
				if a[i], ok = vals[i*w+j].(bool); !ok {
					break
				}
			}
			args[j] = a
		}
		if !ok {
			return nil, fmt.Errorf("bulk insert: column %s: want %s values", b.cols[j], typ)
		}
	}
	return args, nil
}
