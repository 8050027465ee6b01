package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/tools/go/packages"
)

// A finding is one broken rule, at the place in a file that breaks it.
type finding struct {
	pos  token.Position
	pkg  string // the checked package's import path
	what string // what it does: `imports "os"`, `uses time.Now`
	why  string
}

// format writes the finding the way compilers do, its file relative to
// base when it lies below it.
func (f finding) format(base string) string {
	file := f.pos.Filename
	if rel, err := filepath.Rel(base, file); err == nil && !strings.HasPrefix(rel, "..") {
		file = rel
	}
	return fmt.Sprintf("%s:%d:%d: %s %s: %s", file, f.pos.Line, f.pos.Column, f.pkg, f.what, f.why)
}

// checkedPkgPrefix is where transitive checks stop: the domain's own
// packages are judged in their own right (the lint target checks all of
// ./domain/...), so a domain package importing a broken one is not
// reported twice.
const checkedPkgPrefix = "civicard/domain/"

// ourPkgPrefix marks this module's packages: what a domain package links in
// from them is held to the domain's rules, since they are part of what the
// domain is built from. Other modules' insides are theirs.
const ourPkgPrefix = "civicard/"

// check loads the packages that patterns name (relative to dir) with their
// tests and returns every rule they break, in file order.
func check(ctx context.Context, dir string, patterns []string) ([]finding, error) {
	// The import graph of the packages and their tests, with the module of
	// each package: a package without one is the standard library.
	graphCfg := &packages.Config{
		Context: ctx,
		Dir:     dir,
		Mode:    packages.NeedName | packages.NeedFiles | packages.NeedImports | packages.NeedDeps | packages.NeedModule,
		Tests:   true,
	}
	roots, err := packages.Load(graphCfg, patterns...)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", strings.Join(patterns, " "), err)
	}
	if err := loadErrors(roots); err != nil {
		return nil, err
	}
	c := &checker{fset: token.NewFileSet(), byPath: map[string]*packages.Package{}}
	packages.Visit(roots, nil, func(p *packages.Package) {
		if p.ID == p.PkgPath { // not a test variant
			c.byPath[p.PkgPath] = p
		}
	})

	// The code itself, type-checked, for the clock and for import positions.
	codeCfg := &packages.Config{
		Context: ctx,
		Dir:     dir,
		Fset:    c.fset,
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedImports |
			packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo,
	}
	code, err := packages.Load(codeCfg, patterns...)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", strings.Join(patterns, " "), err)
	}
	if err := loadErrors(code); err != nil {
		return nil, err
	}
	if len(code) == 0 {
		return nil, fmt.Errorf("no packages match %s", strings.Join(patterns, " "))
	}
	for _, p := range code {
		for _, f := range p.Syntax {
			c.imports(p.PkgPath, f, false)
		}
		c.clock(p)
	}

	// The tests, and files a build constraint leaves out here (another
	// system's, another tag's): their imports only.
	seen := map[string]bool{}
	for _, p := range roots {
		pkgPath := strings.TrimSuffix(p.PkgPath, "_test")
		files := slices.Concat(p.GoFiles, p.IgnoredFiles)
		for _, name := range files {
			isTest := strings.HasSuffix(name, "_test.go")
			isIgnored := slices.Contains(p.IgnoredFiles, name)
			if seen[name] || !(isTest || isIgnored) {
				continue
			}
			seen[name] = true
			f, err := parser.ParseFile(c.fset, name, nil, parser.ImportsOnly)
			if err != nil {
				return nil, fmt.Errorf("parse %s: %w", name, err)
			}
			c.imports(pkgPath, f, isTest)
		}
	}

	slices.SortFunc(c.findings, func(a, b finding) int {
		return cmp.Or(
			cmp.Compare(a.pos.Filename, b.pos.Filename),
			cmp.Compare(a.pos.Line, b.pos.Line),
			cmp.Compare(a.pos.Column, b.pos.Column),
			cmp.Compare(a.what, b.what),
		)
	})
	return c.findings, nil
}

type checker struct {
	fset     *token.FileSet
	byPath   map[string]*packages.Package // every package in the graph, test variants left out
	findings []finding
}

// isStd reports whether path is a standard library package: one without a
// module. A path the graph does not hold is judged by its first element.
func (c *checker) isStd(path string) bool {
	if p, ok := c.byPath[path]; ok {
		return p.Module == nil
	}
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".") && first != strings.TrimSuffix(ourPkgPrefix, "/")
}

// judge returns the rule that decides an import of path.
func (c *checker) judge(path string, isTest bool) rule {
	if isTest {
		if r, ok := decide(testRules, path); ok {
			return r
		}
	}
	if c.isStd(path) {
		r, _ := decide(stdRules, path)
		return r
	}
	r, _ := decide(moduleRules, path)
	return r
}

// imports checks the imports of one file of package pkgPath.
func (c *checker) imports(pkgPath string, f *ast.File, isTest bool) {
	for _, spec := range f.Imports {
		path, err := strconv.Unquote(spec.Path.Value)
		if err != nil {
			continue // the loader has refused such a file already
		}
		pos := c.fset.Position(spec.Path.Pos())
		what := fmt.Sprintf("imports %q", path)
		if isTest {
			what = "test " + what
		}
		r := c.judge(path, isTest)
		if !r.allowed {
			c.findings = append(c.findings, finding{pos: pos, pkg: pkgPath, what: what, why: r.why})
			continue
		}
		if !strings.HasPrefix(path, ourPkgPrefix) || strings.HasPrefix(path, checkedPkgPrefix) {
			continue
		}
		// One of our packages outside the domain (messages/): what it links
		// in is linked into the domain.
		for _, bad := range c.reach(path) {
			c.findings = append(c.findings, finding{
				pos:  pos,
				pkg:  pkgPath,
				what: fmt.Sprintf("%s, which %s", what, bad.what),
				why:  bad.why,
			})
		}
	}
}

// reach returns what the package at path imports, directly or through more
// of this module's packages, that a domain package may not.
func (c *checker) reach(path string) []finding {
	var found []finding
	seen := map[string]bool{}
	var walk func(path, via string)
	walk = func(path, via string) {
		if seen[path] {
			return
		}
		seen[path] = true
		p, ok := c.byPath[path]
		if !ok {
			return
		}
		for _, imp := range slices.Sorted(maps.Keys(p.Imports)) {
			r := c.judge(imp, false)
			chain := via + fmt.Sprintf("imports %q", imp)
			if !r.allowed {
				found = append(found, finding{what: chain, why: r.why})
				continue
			}
			if strings.HasPrefix(imp, ourPkgPrefix) && !strings.HasPrefix(imp, checkedPkgPrefix) {
				walk(imp, chain+", which ")
			}
		}
	}
	walk(path, "")
	return found
}

// clock reports every use in p of package time's clock and zone: calls,
// and function values too (a stored time.Now reads the clock later).
func (c *checker) clock(p *packages.Package) {
	for id, obj := range p.TypesInfo.Uses {
		if obj.Pkg() == nil || obj.Pkg().Path() != "time" {
			continue
		}
		var why string
		switch o := obj.(type) {
		case *types.Func:
			if recv := o.Type().(*types.Signature).Recv(); recv == nil {
				why = clockFuncs[o.Name()]
			} else {
				why = clockMethods[o.Name()]
			}
		case *types.Var:
			if o.Parent() == o.Pkg().Scope() { // package-level: time.Local, not a field
				why = clockFuncs[o.Name()]
			}
		}
		if why == "" {
			continue
		}
		c.findings = append(c.findings, finding{
			pos:  c.fset.Position(id.Pos()),
			pkg:  p.PkgPath,
			what: fmt.Sprintf("uses time.%s, which %s", clockName(obj), why),
			why:  whyClock,
		})
	}
}

// clockName names an identifier of package time as a reader writes it:
// Now, or Time.Local for a method.
func clockName(obj types.Object) string {
	if f, ok := obj.(*types.Func); ok {
		if recv := f.Type().(*types.Signature).Recv(); recv != nil {
			return types.TypeString(recv.Type(), func(*types.Package) string { return "" }) + "." + f.Name()
		}
	}
	return obj.Name()
}

// loadErrors joins the errors of every package the loader returned: a
// package that does not build cannot be judged.
func loadErrors(pkgs []*packages.Package) error {
	var errs []error
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		for _, e := range p.Errors {
			errs = append(errs, fmt.Errorf("%s: %s", p.ID, e))
		}
	})
	return errors.Join(errs...)
}
