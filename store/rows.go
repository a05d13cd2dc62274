package store

import "database/sql"

// rowScanner is what both *sql.Row and *sql.Rows offer for reading a row.
type rowScanner interface{ Scan(dest ...any) error }

// collect reads every row of rows with scan and closes rows, returning what
// scan made of them (nil for none) or the first error: of a scan, or of
// the query as it ended. Multi-row reads go through it, so none keeps its
// rows open past its own return or closes them twice.
func collect[T any](rows *sql.Rows, scan func(rowScanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// scanString reads a row of one text column, such as an id.
func scanString(r rowScanner) (string, error) {
	var s string
	err := r.Scan(&s)
	return s, err
}
