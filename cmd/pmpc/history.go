package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pmpc-dev/pmpc/apply"
	"github.com/pmpc-dev/pmpc/workspace"
)

func init() { register(newHistoryCmd) }

type historyOptions struct {
	output string
	limit  int
}

func newHistoryCmd(g *globals) *cobra.Command {
	o := &historyOptions{}
	cmd := &cobra.Command{
		Use:   "history [RUNID]",
		Short: "List past applies from the audit trail",
		Long: `History lists the applies recorded on the audit branch (audit.branch in
pmpc.cue, default pmpc/audit), newest first: when, who, what happened and the
run id. With RUNID (or a unique prefix of it) it shows that apply: every
change with its result, vmid, tasks (UPIDs), timing and error.

The trail is plain git: git log pmpc/audit and git show work as well.

Examples:
  pmpc history
  pmpc history 20261126T101500Z-1a2b3c4d
  pmpc history 20261126T1015 -o json
` + exitCodeHelp,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				return runHistoryShow(g, o, args[0])
			}
			return runHistoryList(g, o)
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	cmd.Flags().IntVarP(&o.limit, "limit", "n", 0, "list at most `N` applies (0: all)")
	return cmd
}

func runHistoryList(g *globals, o *historyOptions) error {
	ws, err := g.workspace()
	if err != nil {
		return err
	}
	entries, err := workspace.AuditLog(ws.Root, ws.Config.Audit.Branch)
	if err != nil {
		return withCode(exitError, err)
	}
	if o.limit > 0 && len(entries) > o.limit {
		entries = entries[:o.limit]
	}
	if o.output == "json" {
		type row struct {
			Time    time.Time `json:"time"`
			Who     string    `json:"who"`
			Summary string    `json:"summary"`
			RunID   string    `json:"run_id"`
			Commit  string    `json:"commit"`
		}
		rows := []row{}
		for _, e := range entries {
			rows = append(rows, row{e.When.UTC(), e.Who, e.Summary, e.RunID, e.Commit})
		}
		return writeJSON(g, rows)
	}
	if len(entries) == 0 {
		fmt.Fprintf(g.stdout, "No applies recorded on %s yet.\n", ws.Config.Audit.Branch)
		return nil
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tWHO\tSUMMARY\tRUN")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.When.UTC().Format("2006-01-02 15:04:05Z"), e.Who, recordSummary(e.Summary), e.RunID)
	}
	return tw.Flush()
}

func runHistoryShow(g *globals, o *historyOptions, runID string) error {
	ws, err := g.workspace()
	if err != nil {
		return err
	}
	e, data, err := workspace.AuditRecord(ws.Root, ws.Config.Audit.Branch, runID)
	if err != nil {
		return withCode(exitError, err)
	}
	if o.output == "json" {
		_, err := g.stdout.Write(data)
		return err
	}
	var rec apply.Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return withCode(exitError, fmt.Errorf("run %s: record %s: %w", e.RunID, e.Path, err))
	}
	w := g.stdout
	fmt.Fprintf(w, "Run %s\n", rec.RunID)
	fmt.Fprintf(w, "  %s\n", strings.TrimPrefix(e.Summary, "pmpc apply: "))
	fmt.Fprintf(w, "  by %s on %s, %s (took %s)\n", rec.Who, rec.Host, rec.Started.UTC().Format("2006-01-02 15:04:05Z"),
		rec.Finished.Sub(rec.Started).Round(100*time.Millisecond))
	if rec.Workspace != "" {
		dirty := ""
		if rec.Dirty {
			dirty = " (with uncommitted changes)"
		}
		fmt.Fprintf(w, "  workspace commit %s%s\n", rec.Workspace, dirty)
	}
	if rec.Endpoint != "" {
		fmt.Fprintf(w, "  cluster %s\n", rec.Endpoint)
	}
	fmt.Fprintf(w, "  audit commit %s (%s)\n", e.Commit, e.Path)
	if rec.Interrupted {
		fmt.Fprintln(w, "  the run was interrupted; its record was completed afterwards")
	}
	fmt.Fprintln(w)
	for _, c := range rec.Changes {
		where := ""
		if c.VMID != 0 {
			where = fmt.Sprintf(" (vmid %d", c.VMID)
			if c.Node != "" {
				where += " on " + c.Node
			}
			where += ")"
		}
		took := ""
		if c.Elapsed > 0 {
			took = " in " + time.Duration(c.Elapsed).Round(100*time.Millisecond).String()
		}
		fmt.Fprintf(w, "%s %s%s: %s%s\n", c.Action, c.Address, where, c.Result, took)
		for _, u := range c.UPIDs {
			fmt.Fprintf(w, "    task %s\n", u)
		}
		if c.Error != "" {
			for _, l := range strings.Split(c.Error, "\n") {
				fmt.Fprintf(w, "    %s\n", l)
			}
		}
		if c.Recovered != "" {
			fmt.Fprintf(w, "    recovered: %s\n", c.Recovered)
		}
	}
	return nil
}

// recordSummary is an audit record's summary line (apply.Record.Line)
// without what its context already says: the "pmpc apply: " prefix and
// the "(run ID)" suffix.
func recordSummary(line string) string {
	line = strings.TrimPrefix(line, "pmpc apply: ")
	if i := strings.LastIndex(line, " (run "); i >= 0 {
		line = line[:i]
	}
	return line
}

func writeJSON(g *globals, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return withCode(exitError, err)
	}
	_, err = g.stdout.Write(append(b, '\n'))
	return err
}
