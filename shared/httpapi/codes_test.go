package httpapi_test

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/plinth-ai/plinth/shared/fault"
	"github.com/plinth-ai/plinth/shared/httpapi"
)

func TestCatalogueIsOneWordPerSituation(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range httpapi.Codes {
		if seen[c.Code] {
			t.Errorf("code %s listed twice", c.Code)
		}
		seen[c.Code] = true
		if c.Status < 400 || c.Status > 599 || c.Meaning == "" {
			t.Errorf("code %s: status %d, meaning %q", c.Code, c.Status, c.Meaning)
		}
	}
	for _, dup := range []string{"conflict", "model_exists", "guardrail_policy_exists", "execution_already_exists", "knowledge_base_not_found", "model_error"} {
		if seen[dup] {
			t.Errorf("%s duplicates a word the catalogue already has", dup)
		}
	}
}

var errThingNotFound = fault.Sentinel("things: not found", fault.ErrNotFound)

func TestFromErrorMapsTheKinds(t *testing.T) {
	for _, c := range []struct {
		err         error
		status      int
		code, param string
		message     string
	}{
		{fmt.Errorf("get: %w", fault.New(errThingNotFound, "tenant", "tenant %q does not exist", "zzz")), http.StatusNotFound, httpapi.CodeNotFound, "tenant", `tenant "zzz" does not exist`},
		{fmt.Errorf("suite qa of acme: %w", fault.ErrExists), http.StatusConflict, httpapi.CodeAlreadyExists, "", "suite qa of acme"},
		{fault.New(fault.ErrInvalid, "top_k", "top_k must be 1-100"), http.StatusBadRequest, httpapi.CodeInvalidRequest, "top_k", "top_k must be 1-100"},
		{fmt.Errorf("update: %w", fault.ErrConflict), http.StatusConflict, httpapi.CodeConcurrentUpdate, "", "update"},
	} {
		var he *httpapi.Error
		if !errors.As(httpapi.FromError(c.err), &he) {
			t.Fatalf("%v: not mapped", c.err)
		}
		if he.Status != c.status || he.Code != c.code || he.Param != c.param || he.Message != c.message {
			t.Errorf("%v → %+v", c.err, he)
		}
	}
	plain := errors.New("disk on fire")
	if got := httpapi.FromError(plain); got != plain {
		t.Errorf("an unclassified error was mapped: %v", got)
	}
}

// TestEveryCodeInTheCodeIsCatalogued reads every non-test Go file of the module: a code
// written as a literal where an *httpapi.Error is built must be one of the catalogue's,
// so the vocabulary the OpenAPI document lists is the one the API speaks.
func TestEveryCodeInTheCodeIsCatalogued(t *testing.T) {
	root := moduleRoot(t)
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == "node_modules" || name == "testdata" || strings.HasPrefix(name, ".") || name == "cdk.out" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			for _, e := range codeExprs(n, f.Name.Name == "httpapi") {
				checked++
				lit, ok := e.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue // a constant or a computed code
				}
				code, _ := strconv.Unquote(lit.Value)
				if !httpapi.KnownCode(code) {
					t.Errorf("%s: error code %q is not in httpapi.Codes (add it there and to the OpenAPI document, or use an existing one)", fset.Position(lit.Pos()), code)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("found no error codes at all: the scan is broken")
	}
}

// codeExprs returns the expressions n uses as an error code: Code in an Error composite
// literal, the code argument of Errorf.
func codeExprs(n ast.Node, inHTTPAPI bool) []ast.Expr {
	isHTTPAPI := func(e ast.Expr, name string) bool {
		switch x := e.(type) {
		case *ast.SelectorExpr:
			id, ok := x.X.(*ast.Ident)
			return ok && id.Name == "httpapi" && x.Sel.Name == name
		case *ast.Ident:
			return inHTTPAPI && x.Name == name
		}
		return false
	}
	var out []ast.Expr
	switch x := n.(type) {
	case *ast.CompositeLit:
		if arr, ok := x.Type.(*ast.ArrayType); ok {
			// A table of an inline struct type with a code field: {kind, status, code}.
			if st, ok := arr.Elt.(*ast.StructType); ok {
				return tableCodes(st, x.Elts)
			}
		}
		if !isHTTPAPI(x.Type, "Error") {
			return nil
		}
		for _, el := range x.Elts {
			if kv, ok := el.(*ast.KeyValueExpr); ok {
				if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Code" {
					out = append(out, kv.Value)
				}
			}
		}
	case *ast.CallExpr:
		if isHTTPAPI(x.Fun, "Errorf") && len(x.Args) >= 2 {
			out = append(out, x.Args[1])
		}
	}
	return out
}

// tableCodes returns the code field of each row of a table literal whose rows are of the
// inline struct type st, if st has a field named code or Code.
func tableCodes(st *ast.StructType, rows []ast.Expr) []ast.Expr {
	idx, i := -1, 0
	for _, f := range st.Fields.List {
		for _, name := range f.Names {
			if name.Name == "code" || name.Name == "Code" {
				idx = i
			}
			i++
		}
	}
	if idx < 0 {
		return nil
	}
	var out []ast.Expr
	for _, r := range rows {
		row, ok := r.(*ast.CompositeLit)
		if !ok {
			continue
		}
		for j, el := range row.Elts {
			if kv, ok := el.(*ast.KeyValueExpr); ok {
				if k, ok := kv.Key.(*ast.Ident); ok && (k.Name == "code" || k.Name == "Code") {
					out = append(out, kv.Value)
				}
			} else if j == idx {
				out = append(out, el)
			}
		}
	}
	return out
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}
