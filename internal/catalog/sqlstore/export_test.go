package sqlstore

// SetPGBulkRows sets the rows of one PostgreSQL bulk statement for a
// test; the returned function restores the default.
func SetPGBulkRows(n int) (restore func()) {
	old := pgBulkRows
	pgBulkRows = n
	return func() { pgBulkRows = old }
}
