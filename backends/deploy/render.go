package deploy

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// RenderPlan writes p as plain text: one line per function with the
// fields an update changes below it, then the side effects and a
// summary. Credentials are never in a plan, so never in the text.
func RenderPlan(w io.Writer, p *Plan) error {
	var b strings.Builder
	title := "Plan"
	if p.Workflow != "" {
		title += " for " + p.Workflow
		if p.Version > 0 {
			title += fmt.Sprintf(" (version %d)", p.Version)
		}
	}
	b.WriteString(title + ":\n")
	counts := map[ActionKind]int{}
	for _, a := range p.Actions {
		counts[a.Kind]++
		where := ""
		if a.Cluster != "" {
			where = " on " + a.Cluster
			if a.FDLCluster != "" && a.FDLCluster != a.Cluster {
				where += " (" + a.FDLCluster + ")"
			}
		}
		switch a.Kind {
		case ActionCreate:
			fmt.Fprintf(&b, "  + create     %s%s\n", a.Name, where)
		case ActionUpdate:
			fmt.Fprintf(&b, "  ~ update     %s%s\n", a.Name, where)
			for _, c := range a.Changes {
				fmt.Fprintf(&b, "      %s\n", renderChange(c))
			}
		case ActionUnchanged:
			fmt.Fprintf(&b, "  = unchanged  %s%s\n", a.Name, where)
		case ActionDelete:
			fmt.Fprintf(&b, "  - delete     %s%s\n", a.Name, where)
		case ActionNeedsCluster:
			fmt.Fprintf(&b, "  ? needs a cluster: %s (FDL cluster %q)\n", a.Name, a.FDLCluster)
		case ActionUnsupported:
			fmt.Fprintf(&b, "  ! cannot be deployed yet: %s (%s)\n", a.Name, a.Reason)
		}
	}
	if len(p.Effects) > 0 {
		b.WriteString("Side effects:\n")
		for _, e := range p.Effects {
			mark := "*"
			if e.Kind == EffectWipe || e.Kind == EffectLoop {
				mark = "!"
			}
			fmt.Fprintf(&b, "  %s %s\n", mark, e.Message)
		}
	}
	if len(p.NeedsCluster) > 0 {
		fmt.Fprintf(&b, "Map every FDL cluster to a registered cluster (--cluster ID=NAME): %s\n", strings.Join(p.NeedsCluster, ", "))
	}
	fmt.Fprintf(&b, "%d to create, %d to update, %d to delete, %d unchanged", counts[ActionCreate], counts[ActionUpdate], counts[ActionDelete], counts[ActionUnchanged])
	if n := counts[ActionNeedsCluster] + counts[ActionUnsupported]; n > 0 {
		fmt.Fprintf(&b, ", %d not deployable", n)
	}
	b.WriteString(".\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// renderChange writes one changed field; multi-line values (scripts) as
// a count of lines, long ones cut.
func renderChange(c Change) string {
	if strings.Contains(c.From, "\n") || strings.Contains(c.To, "\n") {
		return fmt.Sprintf("%s: changed (%d lines → %d lines)", c.Field, lines(c.From), lines(c.To))
	}
	switch {
	case c.From == "":
		return fmt.Sprintf("%s: + %s", c.Field, cut(c.To))
	case c.To == "":
		return fmt.Sprintf("%s: - %s", c.Field, cut(c.From))
	}
	return fmt.Sprintf("%s: %s → %s", c.Field, cut(c.From), cut(c.To))
}

func lines(s string) int {
	if s == "" {
		return 0
	}
	return strings.Count(strings.TrimSuffix(s, "\n"), "\n") + 1
}

func cut(s string) string {
	const max = 60
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max]) + "…"
}

// RenderEvent writes one progress event as a line.
func RenderEvent(w io.Writer, ev Event) {
	switch ev.State {
	case "started":
		fmt.Fprintf(w, "  … %s %s on %s\n", ev.Action, ev.Name, ev.Cluster)
	default:
		line := fmt.Sprintf("  [%d/%d] %s %s on %s: %s", ev.Done, ev.Total, ev.Action, ev.Name, ev.Cluster, ev.State)
		if ev.Message != "" {
			line += " (" + ev.Message + ")"
		}
		fmt.Fprintln(w, line)
	}
}
