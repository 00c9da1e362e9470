package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/pmpc-dev/pmpc/resource"
)

// View renders a plan. Computing a plan and rendering it are kept apart: a
// view only reads the plan.
type View interface {
	Render(w io.Writer, p *Plan) error
}

// ViewOptions tune how a view renders.
type ViewOptions struct {
	// Color adds ANSI colours to the text view. Set it only for a terminal
	// and never when NO_COLOR is set.
	Color bool
	// MarkdownLimit caps the markdown view in characters (bytes); 0 means
	// DefaultMarkdownLimit.
	MarkdownLimit int
}

// DefaultMarkdownLimit keeps a markdown plan under the 65,536-character
// limit of a GitHub comment, with room for a wrapper.
const DefaultMarkdownLimit = 60000

// Formats are the names NewView accepts.
var Formats = []string{"text", "markdown", "json"}

// NewView returns the view for format: "text", "markdown" or "json".
func NewView(format string, opts ViewOptions) (View, error) {
	switch format {
	case "text", "":
		return &textView{color: opts.Color}, nil
	case "markdown", "md":
		limit := opts.MarkdownLimit
		if limit <= 0 {
			limit = DefaultMarkdownLimit
		}
		return &markdownView{limit: limit}, nil
	case "json":
		return jsonView{}, nil
	}
	return nil, fmt.Errorf("output format %q: want one of %s", format, strings.Join(Formats, ", "))
}

// jsonView writes the documented JSON format (docs/plan-format.md).
type jsonView struct{}

func (jsonView) Render(w io.Writer, p *Plan) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// symbol is the marker of an action, as in Terraform.
func symbol(a Action) string {
	switch a {
	case ActionCreate:
		return "+"
	case ActionUpdate, ActionStart, ActionStop:
		return "~"
	case ActionReplace:
		return "-/+"
	case ActionDelete:
		return "-"
	}
	return "?"
}

// phrase is how the text view says what happens to a resource.
func phrase(a Action) string {
	switch a {
	case ActionCreate:
		return "will be created"
	case ActionUpdate:
		return "will be updated in place"
	case ActionReplace:
		return "must be replaced"
	case ActionDelete:
		return "will be destroyed"
	case ActionStart:
		return "will be started"
	case ActionStop:
		return "will be shut down"
	}
	return string(a)
}

// disruptionText explains a disruption class next to a field.
func disruptionText(d Disruption) string {
	switch d {
	case DisruptionLive:
		return "live"
	case DisruptionPending:
		return "pending until restart"
	case DisruptionRestart:
		return "restart"
	case DisruptionReplace:
		return "forces replacement"
	case DisruptionDestroy:
		return "destroys the guest"
	}
	return ""
}

// palette styles the text of a change: on adds ANSI colours (a terminal);
// split writes an in-place update as a "-" line with the old value and a
// "+" line with the new one, which diff highlighting (markdown) colours.
type palette struct{ on, split bool }

func (p palette) wrap(code, s string) string {
	if !p.on {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (p palette) action(a Action, s string) string {
	switch a {
	case ActionCreate:
		return p.wrap("32", s)
	case ActionUpdate, ActionStart, ActionStop:
		return p.wrap("33", s)
	case ActionReplace:
		return p.wrap("35", s)
	case ActionDelete:
		return p.wrap("31", s)
	}
	return s
}

func (p palette) sym(s string) string {
	switch s {
	case "+":
		return p.wrap("32", s)
	case "-":
		return p.wrap("31", s)
	case "~":
		return p.wrap("33", s)
	}
	return s
}

func (p palette) bold(s string) string { return p.wrap("1", s) }
func (p palette) dim(s string) string  { return p.wrap("2", s) }

// where describes a change's guest: "vmid 100 on pve1".
func where(c *Change) string {
	var parts []string
	if c.VMID != 0 {
		parts = append(parts, "vmid "+strconv.Itoa(c.VMID))
	}
	if c.Node != "" {
		parts = append(parts, "on "+c.Node)
	}
	return strings.Join(parts, " ")
}

// fieldName prints a field's key and sub-key: "net0.bridge".
func fieldName(f *FieldChange) string {
	if f.SubKey != "" {
		return f.Key + "." + f.SubKey
	}
	return f.Key
}

// writeChange renders one change the way the text view and the markdown
// details show it.
func writeChange(b *strings.Builder, c *Change, pal palette) {
	head := "  # " + pal.bold(c.Address.String()) + " " + phrase(c.Action)
	var info []string
	if w := where(c); w != "" {
		info = append(info, w)
	}
	if c.Disruption != "" && c.Disruption != DisruptionNone {
		info = append(info, "disruption: "+string(c.Disruption))
	}
	if len(info) > 0 {
		head += " (" + strings.Join(info, "; ") + ")"
	}
	b.WriteString(head + "\n")
	if c.Reason != "" {
		b.WriteString(pal.dim("  # "+c.Reason) + "\n")
	}
	sym := symbol(c.Action)
	pad := strings.Repeat(" ", max(0, 3-len(sym)))
	if len(c.Fields) == 0 {
		b.WriteString(pad + pal.action(c.Action, sym) + " " + c.Address.String() + "\n\n")
		return
	}
	b.WriteString(pad + pal.action(c.Action, sym) + " " + c.Address.String() + " {\n")
	width := 0
	for i := range c.Fields {
		if n := len(fieldName(&c.Fields[i])); n > width && !isLongText(c.Fields[i].Before, c.Fields[i].After) {
			width = n
		}
	}
	existing := c.Action != ActionCreate
	for i := range c.Fields {
		f := &c.Fields[i]
		name := fieldName(f)
		fs := "~"
		switch {
		case f.Before == "" && f.After != "":
			fs = "+"
		case f.After == "" && f.Before != "":
			fs = "-"
		}
		var comment []string
		if existing && f.Key != "state" {
			if f.ForcesReplace {
				comment = append(comment, "forces replacement")
			} else if t := disruptionText(f.Disruption); t != "" {
				comment = append(comment, t)
			}
		}
		if f.Note != "" {
			comment = append(comment, f.Note)
		}
		cm := ""
		if len(comment) > 0 {
			cm = "  " + pal.dim("# "+strings.Join(comment, "; "))
		}
		if isLongText(f.Before, f.After) && !f.Sensitive {
			b.WriteString("      " + pal.sym(fs) + " " + name + " = <<EOT" + cm + "\n")
			for _, l := range hunks(lineDiff(f.Before, f.After), 3) {
				switch {
				case strings.HasPrefix(l, "@@"):
					l = pal.dim(l)
				case strings.HasPrefix(l, "+"):
					l = pal.sym("+") + l[1:]
				case strings.HasPrefix(l, "-"):
					l = pal.sym("-") + l[1:]
				}
				b.WriteString("          " + l + "\n")
			}
			b.WriteString("        EOT\n")
			continue
		}
		quote := func(v string) string {
			if f.Sensitive && v == sensitiveText {
				return v
			}
			return strconv.Quote(v)
		}
		lhs := name + strings.Repeat(" ", width-len(name)) + " = "
		switch {
		case fs == "+":
			b.WriteString("      " + pal.sym(fs) + " " + lhs + quote(f.After) + cm + "\n")
		case fs == "-":
			b.WriteString("      " + pal.sym(fs) + " " + lhs + quote(f.Before) + cm + "\n")
		case pal.split:
			b.WriteString("      - " + lhs + quote(f.Before) + "\n")
			b.WriteString("      + " + lhs + quote(f.After) + cm + "\n")
		default:
			b.WriteString("      " + pal.sym(fs) + " " + lhs + quote(f.Before) + " -> " + quote(f.After) + cm + "\n")
		}
	}
	b.WriteString("    }\n\n")
}

// restartHint follows each guest listed as pending until restart.
const restartHint = "(pmpc apply --allow-restart restarts it, or restart it yourself)"

// pendingHeadline says how many guests run older values than their config.
func pendingHeadline(n int) string {
	if n == 1 {
		return "1 guest runs older values until it restarts"
	}
	return strconv.Itoa(n) + " guests run older values until they restart"
}

// pendingLine lists a guest's pending keys: "vm.web-01: memory 4096 → 8192".
// code wraps the address and keys (markdown's backquote).
func pendingLine(g *PendingGuest, code string) string {
	parts := make([]string, len(g.Keys))
	for i, k := range g.Keys {
		parts[i] = code + k.Key + code + " " + pendingValue(k.Running, "(unset)") + " → " + pendingValue(k.Pending, "(removed)")
	}
	return code + g.Address.String() + code + ": " + strings.Join(parts, ", ")
}

// pendingValue prints a value of a pending key, quoted when it would not
// read as one word; empty is printed as none.
func pendingValue(v, none string) string {
	switch {
	case v == "":
		return none
	case v == sensitiveText:
		return v
	case strings.ContainsAny(v, " \t\n\"") || len(v) > 80:
		if len(v) > 80 {
			v = strings.ToValidUTF8(v[:77], "") + "..."
		}
		return strconv.Quote(v)
	}
	return v
}

// summaryLine is the closing line of the text view.
func summaryLine(s Summary) string {
	return fmt.Sprintf("Plan: %d to create, %d to update, %d to replace, %d to delete, %d to start, %d to stop.",
		s.Create, s.Update, s.Replace, s.Delete, s.Start, s.Stop)
}

func unmanagedLine(u Unmanaged) string {
	if u.Kind == resource.KindPool {
		return fmt.Sprintf("pool %q", u.Name)
	}
	s := fmt.Sprintf("%s %d %q on %s", u.Kind, u.VMID, u.Name, u.Node)
	if u.Tagged {
		s += " (tagged pmpc: left the workspace; --prune deletes it)"
	}
	return s
}

// unmanagedListed is how many untagged unmanaged resources the text view
// lists by name; the rest are counted. Guests tagged pmpc (they left the
// workspace) are always listed: prune would delete them.
const unmanagedListed = 10

// writeUnmanaged lists the live resources no definition manages.
func writeUnmanaged(b *strings.Builder, us []Unmanaged) {
	if len(us) == 0 {
		return
	}
	b.WriteString("\nNot managed by this workspace (pmpc import to adopt):\n")
	listed, rest := 0, 0
	for _, u := range us {
		if !u.Tagged && listed >= unmanagedListed {
			rest++
			continue
		}
		if !u.Tagged {
			listed++
		}
		b.WriteString("  " + unmanagedLine(u) + "\n")
	}
	if rest > 0 {
		fmt.Fprintf(b, "  ... and %d more (pmpc plan -o json lists them all)\n", rest)
	}
}

// textView renders a plan for a terminal, in Terraform's style.
type textView struct{ color bool }

func (v *textView) Render(w io.Writer, p *Plan) error {
	pal := palette{on: v.color}
	var b strings.Builder
	s := p.Summary()
	switch {
	case len(p.Changes) == 0 && len(p.Errors) > 0:
		b.WriteString("No changes can be planned until the errors below are fixed.\n")
	case len(p.Changes) == 0 && len(p.Pending) > 0:
		b.WriteString("No changes. The configs match the workspace, but " + pendingHeadline(len(p.Pending)) + " (see below).\n")
	case len(p.Changes) == 0:
		b.WriteString("No changes. The cluster matches the workspace.\n")
	default:
		b.WriteString("pmpc will perform the following actions:\n\n")
		for i := range p.Changes {
			writeChange(&b, &p.Changes[i], pal)
		}
		b.WriteString(pal.bold(summaryLine(s)) + "\n")
	}
	if len(p.Pending) > 0 {
		b.WriteString("\n" + pal.bold("Pending until restart") + " (PVE applies these values when the guest restarts):\n")
		for i := range p.Pending {
			b.WriteString("  " + pendingLine(&p.Pending[i], "") + " " + pal.dim(restartHint) + "\n")
		}
	}
	writeUnmanaged(&b, p.Unmanaged)
	if len(p.Errors) > 0 {
		b.WriteString("\n" + pal.wrap("31", "Errors") + " (the plan cannot be applied until they are fixed):\n")
		for _, e := range p.Errors {
			b.WriteString("  - " + e + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// markdownView renders a plan for a pull-request comment: a summary table
// first, then each change in a collapsed block, capped at limit characters.
type markdownView struct{ limit int }

func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

func (v *markdownView) Render(w io.Writer, p *Plan) error {
	s := p.Summary()
	var head strings.Builder
	head.WriteString("### pmpc plan\n\n")
	switch {
	case len(p.Changes) == 0 && len(p.Errors) > 0:
		head.WriteString("**No changes can be planned until the errors below are fixed.**\n")
	case len(p.Changes) == 0 && len(p.Pending) > 0:
		head.WriteString("**No changes.** The configs match the workspace, but " + pendingHeadline(len(p.Pending)) + " (see below).\n")
	case len(p.Changes) == 0:
		head.WriteString("**No changes.** The cluster matches the workspace.\n")
	default:
		head.WriteString("**" + strings.TrimSuffix(strings.TrimPrefix(summaryLine(s), "Plan: "), ".") + "**\n")
	}
	if len(p.Errors) > 0 {
		fmt.Fprintf(&head, "\n**%s** (the plan cannot be applied until fixed):\n\n", plural(len(p.Errors), "error"))
		for _, e := range p.Errors {
			head.WriteString("- " + mdCell(e) + "\n")
		}
	}
	const noteRoom = 400
	budget := v.limit - noteRoom
	out := head.String()
	if len(p.Pending) > 0 {
		out += "\n**Pending until restart** (PVE applies these values when the guest restarts; " +
			"`pmpc apply --allow-restart` restarts it, or restart it yourself):\n\n"
		for i := range p.Pending {
			line := "- " + pendingLine(&p.Pending[i], "`") + "\n"
			if len(out)+len(line) > budget/2 {
				out += fmt.Sprintf("- ... and %d more (`pmpc plan -o json` lists them all)\n", len(p.Pending)-i)
				break
			}
			out += line
		}
	}
	shownRows, shownDetails := 0, 0
	truncated := false

	if len(p.Changes) > 0 {
		var t strings.Builder
		t.WriteString("\n| | Resource | Action | Disruption | VMID | Node | Reason |\n|---|---|---|---|---|---|---|\n")
		for i := range p.Changes {
			c := &p.Changes[i]
			vmid := ""
			if c.VMID != 0 {
				vmid = strconv.Itoa(c.VMID)
			}
			row := fmt.Sprintf("| `%s` | `%s` | %s | %s | %s | %s | %s |\n", symbol(c.Action), c.Address, c.Action,
				c.Disruption, vmid, mdCell(c.Node), mdCell(c.Reason))
			if len(out)+t.Len()+len(row) > budget {
				truncated = true
				break
			}
			t.WriteString(row)
			shownRows++
		}
		out += t.String()
	}
	if len(p.Unmanaged) > 0 && !truncated {
		var u strings.Builder
		fmt.Fprintf(&u, "\n<details><summary>%s not managed by this workspace (import to adopt)</summary>\n\n", plural(len(p.Unmanaged), "resource"))
		for _, x := range p.Unmanaged {
			u.WriteString("- " + mdCell(unmanagedLine(x)) + "\n")
		}
		u.WriteString("\n</details>\n")
		if len(out)+u.Len() <= budget {
			out += u.String()
		} else {
			truncated = true
		}
	}
	if !truncated && len(p.Changes) > 0 {
		out += "\n#### Changes\n"
		for i := range p.Changes {
			c := &p.Changes[i]
			var body strings.Builder
			writeChange(&body, c, palette{split: true})
			text := diffGutter(strings.TrimRight(body.String(), "\n"))
			fence := "```"
			for strings.Contains(text, fence) {
				fence += "`"
			}
			sum := fmt.Sprintf("<code>%s</code> %s", c.Address, c.Action)
			if c.Disruption != "" && c.Disruption != DisruptionNone && c.Disruption != DisruptionReplace && c.Disruption != DisruptionDestroy {
				sum += " (" + string(c.Disruption) + ")"
			}
			block := "\n<details><summary>" + sum + "</summary>\n\n" + fence + "diff\n" + text + "\n" + fence + "\n\n</details>\n"
			if len(out)+len(block) > budget {
				truncated = true
				break
			}
			out += block
			shownDetails++
		}
	}
	if truncated {
		out += fmt.Sprintf("\n> [!NOTE]\n> This plan is too long for a comment: %d of %d changes are listed and %d shown in detail. "+
			"Run `pmpc plan -o text` or `pmpc plan -o json` to see the whole plan.\n", shownRows, len(p.Changes), shownDetails)
	}
	_, err := io.WriteString(w, out)
	return err
}

// diffGutter moves each line's change marker to the first column, where
// GitHub's diff highlighting looks for it: "      + net1 = ..." becomes
// "+       net1 = ...". Lines of a description's line diff keep their own
// marker.
func diffGutter(text string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		trimmed := strings.TrimLeft(l, " ")
		indent := len(l) - len(trimmed)
		if indent == 0 || trimmed == "" {
			continue
		}
		switch trimmed[0] {
		case '+', '-', '~':
			lines[i] = trimmed[:1] + strings.Repeat(" ", indent) + trimmed[1:]
		default:
			lines[i] = " " + l
		}
	}
	return strings.Join(lines, "\n")
}
