// Package apicheck holds tests that read the repository's Go source and
// check the rules of docs/architecture.md and docs/conventions.md that the
// compiler does not: doc comments, documented errors, file sizes, citations,
// import rules and the size of the public API.
//
// They run with every `go test ./...`. Every failure lists each offending
// file:line.
package apicheck

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const modulePath = "github.com/sicher-go/sicher"

// Limits of the public API and of a source file.
const (
	maxExported  = 530 // exported identifiers of the protocol API (budgetedPackages), all together
	maxFileLines = 800 // lines of a non-test .go file
)

// repoRoot returns the repository root: the directory of the main module's
// go.mod, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(mod, []byte("module "+modulePath+"\n")) {
		t.Fatalf("%s/go.mod is not the module %s", root, modulePath)
	}
	return root
}

// goFile is one parsed non-test .go file of the main module.
type goFile struct {
	rel  string // slash-separated path from the repository root
	dir  string // slash-separated package directory from the root, "" for the root package
	fset *token.FileSet
	ast  *ast.File
}

var (
	parseOnce sync.Once
	parsed    []goFile
	parseErr  error
)

// moduleFiles parses every non-test .go file of the main module (not of the
// nested modules bench and testvectors/libolm, and nothing under testdata),
// with comments.
func moduleFiles(t *testing.T) []goFile {
	t.Helper()
	root := repoRoot(t)
	parseOnce.Do(func() {
		parseErr = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p == root {
					return nil
				}
				if skipDir(d.Name()) || exists(filepath.Join(p, "go.mod")) {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			rel := relSlash(root, p)
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, p, nil, parser.ParseComments)
			if err != nil {
				return err
			}
			dir := path.Dir(rel)
			if dir == "." {
				dir = ""
			}
			parsed = append(parsed, goFile{rel: rel, dir: dir, fset: fset, ast: f})
			return nil
		})
	})
	if parseErr != nil {
		t.Fatal(parseErr)
	}
	return parsed
}

func skipDir(name string) bool {
	return name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func relSlash(root, p string) string {
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return p
	}
	return filepath.ToSlash(rel)
}

// isPublic reports whether the package in dir (relative to the root) is part
// of the library's public API: not internal, not a command, not tests,
// benchmarks or examples.
func isPublic(dir string) bool {
	for _, elem := range strings.Split(dir, "/") {
		switch elem {
		case "internal", "cmd", "testvectors", "bench", "examples":
			return false
		}
	}
	return true
}

// isLibrary reports whether the package in dir is part of the library, the
// code a user's program links: everything but commands, test vectors,
// benchmarks and examples.
func isLibrary(dir string) bool {
	first, _, _ := strings.Cut(dir, "/")
	switch first {
	case "cmd", "testvectors", "bench", "examples":
		return false
	}
	return true
}

// publicFiles returns the files of the public packages, skipping main
// packages.
func publicFiles(t *testing.T) []goFile {
	var out []goFile
	for _, f := range moduleFiles(t) {
		if isPublic(f.dir) && f.ast.Name.Name != "main" {
			out = append(out, f)
		}
	}
	return out
}

func pos(f goFile, p token.Pos) string {
	return fmt.Sprintf("%s:%d", f.rel, f.fset.Position(p).Line)
}

// exportedDecl is one exported identifier of a public package.
type exportedDecl struct {
	name string    // Name, or Type.Method
	kind string    // func, method, type, const, var
	doc  string    // its doc comment, "" if none
	at   token.Pos // where it is declared
	// groupDoc is the doc comment of the parenthesised const, var or type
	// group the identifier sits in without a doc of its own.
	groupDoc string
}

// exportedDecls lists the exported identifiers of a file the way go doc
// shows them: functions, methods on exported types, types, consts and vars.
func exportedDecls(f *ast.File) []exportedDecl {
	var out []exportedDecl
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() {
				continue
			}
			e := exportedDecl{name: d.Name.Name, kind: "func", doc: d.Doc.Text(), at: d.Name.Pos()}
			if d.Recv != nil {
				recv := receiverType(d.Recv.List[0].Type)
				if recv == nil || !recv.IsExported() {
					continue
				}
				e.name, e.kind = recv.Name+"."+d.Name.Name, "method"
			}
			out = append(out, e)
		case *ast.GenDecl:
			grouped := d.Lparen.IsValid()
			for _, s := range d.Specs {
				var names []*ast.Ident
				var doc *ast.CommentGroup
				kind := d.Tok.String()
				switch s := s.(type) {
				case *ast.TypeSpec:
					names, doc = []*ast.Ident{s.Name}, s.Doc
				case *ast.ValueSpec:
					names, doc = s.Names, s.Doc
				}
				for _, n := range names {
					if !n.IsExported() {
						continue
					}
					e := exportedDecl{name: n.Name, kind: kind, at: n.Pos()}
					switch {
					case doc != nil:
						e.doc = doc.Text()
					case !grouped:
						e.doc = d.Doc.Text()
					default:
						e.groupDoc = d.Doc.Text()
					}
					out = append(out, e)
				}
			}
		}
	}
	return out
}

// receiverType returns the identifier of a method's receiver type.
func receiverType(x ast.Expr) *ast.Ident {
	for {
		switch t := x.(type) {
		case *ast.StarExpr:
			x = t.X
		case *ast.IndexExpr:
			x = t.X
		case *ast.IndexListExpr:
			x = t.X
		case *ast.ParenExpr:
			x = t.X
		case *ast.Ident:
			return t
		default:
			return nil
		}
	}
}

// startsWithName reports whether a doc comment starts with the identifier's
// name as a word ("Name is", "Name returns", "Name, the ..."). An article
// before the name ("A Name is") is accepted, as go doc's convention allows.
func startsWithName(doc, name string) bool {
	for _, article := range []string{"", "A ", "An ", "The "} {
		rest, ok := strings.CutPrefix(doc, article+name)
		if !ok {
			continue
		}
		if rest == "" {
			return true
		}
		if c := rest[0]; !(c == '_' || 'a' <= c|0x20 && c|0x20 <= 'z' || '0' <= c && c <= '9') {
			return true
		}
	}
	return false
}

func report(t *testing.T, what string, problems []string) {
	t.Helper()
	if len(problems) == 0 {
		return
	}
	sort.Strings(problems)
	t.Errorf("%d %s:\n\t%s", len(problems), what, strings.Join(problems, "\n\t"))
}

// TestDocComments checks that every exported identifier of a public package
// has a doc comment that starts with its name. A member of a parenthesised
// const or var group without a comment of its own is covered by the
// group's doc comment.
func TestDocComments(t *testing.T) {
	var problems []string
	for _, f := range publicFiles(t) {
		for _, e := range exportedDecls(f.ast) {
			simple := e.name[strings.LastIndexByte(e.name, '.')+1:]
			switch {
			case e.doc == "" && e.groupDoc != "" && e.kind != "type":
				// Covered by the group's comment.
			case e.doc == "":
				problems = append(problems, fmt.Sprintf("%s: %s %s has no doc comment", pos(f, e.at), e.kind, e.name))
			case !startsWithName(e.doc, simple):
				first, _, _ := strings.Cut(e.doc, "\n")
				problems = append(problems, fmt.Sprintf("%s: doc comment of %s %s does not start with %q: %q", pos(f, e.at), e.kind, e.name, simple, first))
			}
		}
	}
	report(t, "exported identifiers without a doc comment starting with their name", problems)
}

// TestErrorsDocumented checks that every exported Err* sentinel of a public
// package is named (ErrX or [ErrX]) in the doc comment of at least one
// exported function or method of its package, or in the package doc, so a
// caller learns which call returns it.
func TestErrorsDocumented(t *testing.T) {
	type sentinel struct {
		name, at string
	}
	sentinels := map[string][]sentinel{} // by package dir
	docs := map[string]*strings.Builder{}
	for _, f := range publicFiles(t) {
		b := docs[f.dir]
		if b == nil {
			b = new(strings.Builder)
			docs[f.dir] = b
		}
		b.WriteString(f.ast.Doc.Text())
		for _, d := range f.ast.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.IsExported() {
				b.WriteString(fd.Doc.Text())
			}
		}
		for _, e := range exportedDecls(f.ast) {
			if e.kind == "var" && strings.HasPrefix(e.name, "Err") {
				sentinels[f.dir] = append(sentinels[f.dir], sentinel{e.name, pos(f, e.at)})
			}
		}
	}
	var problems []string
	for dir, list := range sentinels {
		text := docs[dir].String()
		for _, s := range list {
			if !regexp.MustCompile(`\b` + s.name + `\b`).MatchString(text) {
				problems = append(problems, fmt.Sprintf("%s: %s.%s is named in no function's or method's doc comment", s.at, pkgName(dir), s.name))
			}
		}
	}
	report(t, "error sentinels that no function documents", problems)
}

func pkgName(dir string) string {
	if dir == "" {
		return "sicher"
	}
	return path.Base(dir)
}

// TestFileLength checks that no non-test .go file of the repository (any
// of its modules) is longer than maxFileLines lines; test data is exempt.
func TestFileLength(t *testing.T) {
	root := repoRoot(t)
	var problems []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if n := bytes.Count(b, []byte("\n")); n > maxFileLines {
			problems = append(problems, fmt.Sprintf("%s:%d: %d lines, over %d", relSlash(root, p), maxFileLines+1, n, maxFileLines))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	report(t, "source files too long", problems)
}

// forbiddenReference matches what code and docs must not cite: notes that
// live outside the repository, and issue numbers instead of the rule
// itself. A public address such as go.dev/issue/NNN is fine: it resolves.
var forbiddenReference = regexp.MustCompile(`(?i)` + strings.Join([]string{
	`\.\./shared`,
	`matrix-e2ee-formats\.md`,
	`libolm-and-vodozemac\.md`,
	`goolm-and-mautrix\.md`,
	`model-go-crypto-code\.md`,
	`client-layer-2026\.md`,
	`\bissues?\s*#?\d+`,
}, "|"))

// textExtensions are the files TestNoPrivateReferences reads, besides
// scripts that start with "#!".
var textExtensions = []string{".go", ".md", ".sh", ".txt", ".yml", ".yaml", ".toml", ".mod", ".json"}

// TestNoPrivateReferences checks that no file of the repository cites notes
// outside the repository or an issue number: code and docs cite public
// sources (the Matrix spec section, the libolm or vodozemac file, the RFC).
func TestNoPrivateReferences(t *testing.T) {
	root := repoRoot(t)
	self, err := filepath.Abs("apicheck_test.go")
	if err != nil {
		t.Fatal(err)
	}
	var problems []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && (skipDir(d.Name()) || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if p == self {
			return nil // it spells out the patterns
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !slices.Contains(textExtensions, filepath.Ext(p)) && !bytes.HasPrefix(b, []byte("#!")) {
			return nil
		}
		s := bufio.NewScanner(bytes.NewReader(b))
		s.Buffer(nil, len(b)+1)
		for line := 1; s.Scan(); line++ {
			for _, m := range forbiddenReference.FindAllString(s.Text(), -1) {
				problems = append(problems, fmt.Sprintf("%s:%d: %q", relSlash(root, p), line, m))
			}
		}
		return s.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	report(t, "references to notes outside the repository or to issue numbers", problems)
}

// Layers of docs/architecture.md.
var (
	// thirdParty are the modules the library may import besides the
	// standard library.
	thirdParty = []string{"golang.org/x/crypto", "filippo.io/edwards25519", "github.com/go-json-experiment/json"}
	// protocol are the protocol packages.
	protocol = []string{"attachment", "keybackup", "keyexport", "megolm", "olm", "sas", "secretstorage", "signing"}
	// protocolEdges are the only imports between protocol packages.
	protocolEdges = map[string][]string{"keyexport": {"megolm"}, "keybackup": {"megolm"}}
)

// isLayer0 reports whether the package in dir is in layer 0: key and every
// internal package.
func isLayer0(dir string) bool {
	return dir == "key" || dir == "internal" || strings.HasPrefix(dir, "internal/")
}

func isStd(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	return !strings.Contains(first, ".")
}

// isDatabaseDriver reports whether imp is one of the database drivers
// store/sqlstore links: modernc.org/sqlite (pure Go) and pgx.
func isDatabaseDriver(imp string) bool {
	for _, m := range []string{"modernc.org/sqlite", "github.com/jackc/pgx/v5"} {
		if imp == m || strings.HasPrefix(imp, m+"/") {
			return true
		}
	}
	return false
}

func isThirdPartyAllowed(imp string) bool {
	for _, m := range thirdParty {
		if imp == m || strings.HasPrefix(imp, m+"/") {
			return true
		}
	}
	return false
}

// TestImportRules checks the import rules of docs/architecture.md over the
// non-test files of the main module.
func TestImportRules(t *testing.T) {
	var problems []string
	for _, f := range moduleFiles(t) {
		for _, spec := range f.ast.Imports {
			imp, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				t.Fatal(err)
			}
			at := pos(f, spec.Pos())
			bad := func(rule string) {
				problems = append(problems, fmt.Sprintf("%s: %s imports %s: %s", at, pkgPath(f.dir), imp, rule))
			}
			inModule := imp == modulePath || strings.HasPrefix(imp, modulePath+"/")
			dep := strings.TrimPrefix(strings.TrimPrefix(imp, modulePath), "/")
			if !isLibrary(f.dir) {
				continue
			}
			if rule := ioRule(f.dir, imp); rule != "" {
				bad(rule)
				continue
			}
			switch {
			case isStd(imp):
				continue
			case !inModule:
				if f.dir == "store/sqlstore" && isDatabaseDriver(imp) {
					continue // the one package that links database drivers
				}
				if !isThirdPartyAllowed(imp) {
					bad("the library imports only the standard library, " + strings.Join(thirdParty, ", ") + " (and store/sqlstore its database drivers)")
				}
				continue
			case !isLibrary(dep):
				bad("the library imports nothing under cmd, testvectors, bench or examples")
				continue
			}
			switch {
			case isLayer0(f.dir):
				if !isLayer0(dep) {
					bad("layer 0 (key, internal/...) imports only the standard library, the allowed modules and layer 0")
				}
			case slices.Contains(protocol, f.dir):
				if !isLayer0(dep) && !slices.Contains(protocolEdges[f.dir], dep) {
					bad("a protocol package imports layer 0 only (and keyexport and keybackup import megolm)")
				}
			case f.dir == "event":
				if !isLayer0(dep) && !slices.Contains(protocol, dep) {
					bad("event imports layer 0 and the protocol packages only")
				}
			case f.dir == "store" || strings.HasPrefix(f.dir, "store/"):
				if !isLayer0(dep) && !slices.Contains(protocol, dep) && dep != "event" && dep != "store" && !strings.HasPrefix(dep, "store/") {
					bad("the store imports layers 0-2 and itself, never the client layer")
				}
			}
		}
	}
	report(t, "imports that break the rules of docs/architecture.md", problems)
}

func pkgPath(dir string) string {
	if dir == "" {
		return modulePath
	}
	return modulePath + "/" + dir
}

// budgetedPackages are the packages of the protocol API whose size
// maxExported bounds: the root and the eleven protocol and format packages
// of 0.9.0. Packages added later (store, store/sqlstore, ...) are not in
// this budget.
var budgetedPackages = map[string]bool{
	"": true, "key": true, "olm": true, "megolm": true, "sas": true, "keybackup": true,
	"attachment": true, "keyexport": true, "secretstorage": true, "signing": true, "event": true,
}

// TestExportedCount checks that the protocol API (budgetedPackages)
// exports at most maxExported identifiers: functions, methods on exported
// types, types, consts and vars of their non-test files.
func TestExportedCount(t *testing.T) {
	counts := map[string]int{}
	total := 0
	for _, f := range publicFiles(t) {
		if !budgetedPackages[f.dir] {
			continue
		}
		n := len(exportedDecls(f.ast))
		counts[pkgPath(f.dir)] += n
		total += n
	}
	if total <= maxExported {
		return
	}
	var lines []string
	for p, n := range counts {
		lines = append(lines, fmt.Sprintf("%4d %s", n, p))
	}
	sort.Sort(sort.Reverse(sort.StringSlice(lines)))
	t.Errorf("the public packages export %d identifiers, %d over the budget of %d:\n\t%s",
		total, total-maxExported, maxExported, strings.Join(lines, "\n\t"))
}

// TestMatchers checks the checks' own matchers; it always runs.
func TestMatchers(t *testing.T) {
	for _, c := range []struct {
		doc, name string
		want      bool
	}{
		{"Encrypt appends", "Encrypt", true},
		{"Encrypt.", "Encrypt", true},
		{"An Account holds", "Account", true},
		{"EncryptTo appends", "Encrypt", false},
		{"encrypt appends", "Encrypt", false},
		{"Appends", "Encrypt", false},
	} {
		if got := startsWithName(c.doc, c.name); got != c.want {
			t.Errorf("startsWithName(%q, %q) = %v", c.doc, c.name, got)
		}
	}
	for _, c := range []struct {
		line string
		want bool
	}{
		// The forbidden strings are built from parts, so that this file
		// does not itself contain them.
		{"see ../" + "shared/x", true},
		{"// Fuzz targets of the robustness work (Issue 8)", true},
		{"iss" + "ue 5's table", true},
		{"reference Matrix-E2EE-Formats.md §7", true},
		{"https://go.dev/issue/75804", false},
		{"the issue with 8 bytes", false},
	} {
		if got := forbiddenReference.MatchString(c.line); got != c.want {
			t.Errorf("forbiddenReference matches %q: %v, want %v", c.line, got, c.want)
		}
	}
}

// TestSecurityDocNamesRealTests checks that every test, fuzz target and
// example SECURITY.md names as pkg.Name exists in a _test.go file of a
// package of that name, so the security record cannot outlive a rename.
func TestSecurityDocNamesRealTests(t *testing.T) {
	root := repoRoot(t)
	doc, err := os.ReadFile(filepath.Join(root, "SECURITY.md"))
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]bool{} // "pkg.Name"
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && (skipDir(d.Name()) || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		pkg := strings.TrimSuffix(f.Name.Name, "_test")
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil {
				defined[pkg+"."+fn.Name.Name] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ref := regexp.MustCompile("`(?:[a-z0-9]+/)*([a-z0-9]+)\\.((?:Test|Fuzz|Example)[A-Za-z0-9_]*)`")
	var missing []string
	for _, m := range ref.FindAllStringSubmatch(string(doc), -1) {
		if name := m[1] + "." + m[2]; m[1] != "package" && !defined[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		t.Errorf("SECURITY.md names %d tests that do not exist:\n\t%s", len(missing), strings.Join(missing, "\n\t"))
	}
}
