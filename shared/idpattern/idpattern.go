// Package idpattern matches identifiers against a regular expression of the shape
// ^[first][rest]{min,max}$ (or ^[rest]{min,max}$), checking the length bound by counting
// runes instead of compiling it into the expression: Go's regexp compiles x{0,127} into
// 127 copies of x, some 50 KB of program per pattern, held for the process's life by
// every package that validates IDs at package level.
package idpattern

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Pattern matches exactly what the expression it was compiled from matches.
type Pattern struct {
	expr     string
	re       *regexp.Regexp // the expression with the bound replaced by *
	min, max int            // rune counts
}

// MustCompile compiles expr, which must be "^", one or more single-character classes
// (or literals), the last followed by "{min,max}", then "$". It panics otherwise, as
// regexp.MustCompile does for a bad expression.
func MustCompile(expr string) *Pattern {
	p, err := compile(expr)
	if err != nil {
		panic(err)
	}
	return p
}

func compile(expr string) (*Pattern, error) {
	bad := func(why string) error { return fmt.Errorf("idpattern: %q: %s", expr, why) }
	i := strings.LastIndexByte(expr, '{')
	if !strings.HasPrefix(expr, "^") || !strings.HasSuffix(expr, "}$") || i < 2 {
		return nil, bad("not ^…{min,max}$")
	}
	lo, hi, ok := strings.Cut(expr[i+1:len(expr)-2], ",")
	minRep, err1 := strconv.Atoi(lo)
	maxRep, err2 := strconv.Atoi(hi)
	if !ok || err1 != nil || err2 != nil || minRep < 0 || maxRep < minRep {
		return nil, bad("bound is not {min,max}")
	}
	head := expr[1:i]
	tree, err := syntax.Parse(head, syntax.Perl)
	if err != nil {
		return nil, bad(err.Error())
	}
	parts := []*syntax.Regexp{tree}
	if tree.Op == syntax.OpConcat {
		parts = tree.Sub
	}
	for _, s := range parts {
		single := s.Op == syntax.OpCharClass || s.Op == syntax.OpAnyCharNotNL || s.Op == syntax.OpAnyChar ||
			(s.Op == syntax.OpLiteral && len(s.Rune) == 1)
		if !single {
			return nil, bad("only single-character classes may precede the bound")
		}
	}
	re, err := regexp.Compile("^" + head + "*$")
	if err != nil {
		return nil, bad(err.Error())
	}
	fixed := len(parts) - 1
	return &Pattern{expr: expr, re: re, min: fixed + minRep, max: fixed + maxRep}, nil
}

// MatchString reports whether s matches the pattern.
func (p *Pattern) MatchString(s string) bool {
	if len(s) < p.min || len(s) > p.max*utf8.UTFMax {
		return false
	}
	n := utf8.RuneCountInString(s)
	return n >= p.min && n <= p.max && p.re.MatchString(s)
}

// String returns the expression the pattern was compiled from.
func (p *Pattern) String() string { return p.expr }
