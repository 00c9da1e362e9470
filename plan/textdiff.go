package plan

import (
	"fmt"
	"strings"

	"github.com/sergi/go-diff/diffmatchpatch"
)

// lineOp is one line of a line diff: ' ' kept, '-' removed, '+' added.
type lineOp struct {
	op   byte
	text string // without its newline
}

// isLongText reports values shown as a line diff rather than before -> after.
func isLongText(before, after string) bool {
	return strings.Contains(before, "\n") || strings.Contains(after, "\n")
}

// lineDiff diffs two texts line by line. DiffTimeout is 0 so the diff is
// always minimal and the output deterministic (golibs.md §5).
func lineDiff(a, b string) []lineOp {
	dmp := diffmatchpatch.New()
	dmp.DiffTimeout = 0
	ra, rb, lines := dmp.DiffLinesToRunes(a, b)
	diffs := dmp.DiffCharsToLines(dmp.DiffMainRunes(ra, rb, false), lines)
	var out []lineOp
	for _, d := range diffs {
		op := byte(' ')
		switch d.Type {
		case diffmatchpatch.DiffDelete:
			op = '-'
		case diffmatchpatch.DiffInsert:
			op = '+'
		}
		text := strings.TrimSuffix(d.Text, "\n")
		for _, l := range strings.Split(text, "\n") {
			out = append(out, lineOp{op, l})
		}
	}
	return out
}

// hunks renders a line diff as unified hunks ("@@ -a,b +c,d @@") with
// context lines of unchanged text around each change.
func hunks(ops []lineOp, context int) []string {
	type span struct{ lo, hi int } // indexes into ops, hi exclusive
	var spans []span
	for i, o := range ops {
		if o.op == ' ' {
			continue
		}
		lo, hi := max(i-context, 0), min(i+context+1, len(ops))
		if n := len(spans); n > 0 && lo <= spans[n-1].hi {
			spans[n-1].hi = max(spans[n-1].hi, hi)
			continue
		}
		spans = append(spans, span{lo, hi})
	}
	var out []string
	// Line numbers (1-based) of each op in the old and new text.
	oldAt, newAt := make([]int, len(ops)+1), make([]int, len(ops)+1)
	o, n := 1, 1
	for i, op := range ops {
		oldAt[i], newAt[i] = o, n
		if op.op != '+' {
			o++
		}
		if op.op != '-' {
			n++
		}
	}
	oldAt[len(ops)], newAt[len(ops)] = o, n
	for _, s := range spans {
		var oc, nc int
		for _, op := range ops[s.lo:s.hi] {
			if op.op != '+' {
				oc++
			}
			if op.op != '-' {
				nc++
			}
		}
		out = append(out, fmt.Sprintf("@@ -%s +%s @@", hunkRange(oldAt[s.lo], oc), hunkRange(newAt[s.lo], nc)))
		for _, op := range ops[s.lo:s.hi] {
			out = append(out, string(op.op)+op.text)
		}
	}
	return out
}

func hunkRange(start, count int) string {
	if count == 0 {
		start--
	}
	if count == 1 {
		return itoa(start)
	}
	return fmt.Sprintf("%d,%d", start, count)
}
