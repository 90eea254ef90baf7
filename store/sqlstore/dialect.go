package sqlstore

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// dialect holds what differs between SQLite and PostgreSQL. Queries are written once with ?
// placeholders and SQLite's names; the dialect rewrites them.
type dialect struct {
	name string
	// forUpdate is appended to the reads of an Update transaction: PostgreSQL locks the rows
	// read (SELECT … FOR UPDATE); SQLite needs nothing, its Update transactions begin with
	// BEGIN IMMEDIATE and hold the database's write lock.
	forUpdate string
	ddlText   string
	ddlBlob   string
	numbered  bool // $1, $2 … instead of ?

	cache sync.Map // query → rewritten query
}

var (
	sqliteDialect   = &dialect{name: "SQLite", ddlText: "TEXT", ddlBlob: "BLOB"}
	postgresDialect = &dialect{name: "PostgreSQL", forUpdate: " FOR UPDATE", ddlText: `TEXT COLLATE "C"`, ddlBlob: "BYTEA", numbered: true}
)

var (
	reText = regexp.MustCompile(`\bTEXT\b`)
	reBlob = regexp.MustCompile(`\bBLOB\b`)
)

func (d *dialect) ddl(stmt string) string {
	stmt = reText.ReplaceAllLiteralString(stmt, d.ddlText)
	return reBlob.ReplaceAllLiteralString(stmt, d.ddlBlob)
}

// q rewrites the placeholders of a query (which holds no ? inside literals).
func (d *dialect) q(query string) string {
	if !d.numbered {
		return query
	}
	if v, ok := d.cache.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	d.cache.Store(query, b.String())
	return b.String()
}
