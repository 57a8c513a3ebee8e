package fdl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// The YAML parser reports a syntax error at the line where it was, not where
// the text went wrong: often the start of the enclosing block, sometimes a
// comment line far above the mistake. syntaxError finds the break itself:
//
//   - a quote or flow collection ([ or {) that is never closed is reported at
//     its opening character;
//   - otherwise the document is cut at line ends that are outside any quote
//     or flow collection, and the shortest prefix that no longer parses ends
//     at the line that broke the structure (bisection, so a few parses);
//   - on that line the column is the first character of its token, or the
//     tab in its indentation.
//
// A few common mistakes (tab indentation, a key without ':', a list item
// in a mapping, a line indented to match no block) get a plain-words message.

// syntaxError locates the yaml.v3 error err found in data.
func syntaxError(data []byte, err error) (line, col int, msg string) {
	ymsg := yamlMessage(err)
	lines := splitLines(data)
	sc := scanLexical(lines)
	if sc.open != nil && unclosedMessage(ymsg) {
		o := sc.open
		switch o.ch {
		case '"', '\'':
			return o.line, o.col, fmt.Sprintf("the quoted text opened here with %c is never closed", o.ch)
		case '[':
			return o.line, o.col, "the list opened here with [ is never closed (missing ']')"
		default:
			return o.line, o.col, "the mapping opened here with { is never closed (missing '}')"
		}
	}
	if len(data) > maxLocateBytes {
		// Bisection parses the document ~log2(lines) times; past this size
		// that is seconds, so take the parser's word for it.
		return yamlLine(err, len(lines)), 1, ymsg
	}
	// The shortest prefix, cut at a safe line end, that fails to parse.
	var cuts []int // prefix lengths in lines
	for i := range lines {
		if sc.safe[i] {
			cuts = append(cuts, i+1)
		}
	}
	if len(cuts) == 0 || cuts[len(cuts)-1] != len(lines) {
		cuts = append(cuts, len(lines))
	}
	lo, hi := 0, len(cuts)-1 // the answer is in cuts[lo..hi]; cuts[hi] fails
	for lo < hi {
		mid := (lo + hi) / 2
		if parsesOK(bytes.Join(lines[:cuts[mid]], nil)) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	n := cuts[hi] // 1-based number of the breaking line
	if n < 1 {
		return 1, 1, ymsg
	}
	if hi > 0 && cuts[hi-1] < n-1 || hi == 0 && n > 1 && !sc.safe[0] {
		// The failing prefix adds several lines at once: a quote or flow
		// collection opened on the first of them runs on until line n.
		start := 0
		if hi > 0 {
			start = cuts[hi-1]
		}
		if o := sc.openAt[start]; o != nil && o.line < n {
			what := "quoted text opened here with " + string(o.ch)
			if o.ch == '[' || o.ch == '{' {
				what = "collection opened here with " + string(o.ch)
			}
			return o.line, o.col, fmt.Sprintf("the %s is not closed before line %d, where the structure breaks", what, n)
		}
	}
	for n > 1 && isBlankOrComment(lines[n-1]) {
		n-- // a comment does not break anything; never point at one
	}
	text := strings.TrimRight(string(lines[n-1]), "\r\n")
	ind := indentOf(text)
	col = runeCol(text, ind)

	if t := strings.IndexByte(text[:leadingBlankLen(text)], '\t'); t >= 0 {
		return n, runeCol(text, t), "a tab in the indentation; YAML indents with spaces only"
	}
	prev := prevContent(lines, n-1)
	trimmed := strings.TrimSpace(text)
	if strings.Contains(ymsg, "cannot start any token") {
		if c, ch := badTokenStart(text); c >= 0 {
			if ch == '\t' {
				return n, runeCol(text, c), "a tab separates this token from the one before; YAML separates with spaces only"
			}
			return n, runeCol(text, c), fmt.Sprintf("a plain value cannot start with %q (reserved in YAML); quote the value", ch)
		}
	}
	if bare := strings.TrimSpace(stripComment(text)); strings.Contains(ymsg, "expected ':'") && isBareScalarLine(bare) {
		if c := strings.IndexByte(bare, ':'); c >= 0 && c+1 < len(bare) {
			return n, col, fmt.Sprintf("%q has no space after ':'; a mapping entry is written `key: value`", bare)
		}
		return n, col, fmt.Sprintf("%q has no ':'; a mapping entry is written `key: value`", bare)
	}
	if prev >= 0 {
		ptext := strings.TrimRight(string(lines[prev]), "\r\n")
		pind := indentOf(ptext)
		ptrim := strings.TrimSpace(stripComment(ptext))
		switch {
		case pind == ind && isBareScalarLine(ptrim) && (strings.Contains(ymsg, "mapping values") || strings.Contains(ymsg, "expected ':'")):
			return prev + 1, runeCol(ptext, pind), fmt.Sprintf("%q has no ':'; a mapping entry is written `key: value`", ptrim)
		case pind == ind && (strings.HasPrefix(trimmed, "- ") || trimmed == "-") && !strings.HasPrefix(ptrim, "-"):
			return n, col, "a list item `- ...` where this mapping expects a `key: value` entry"
		case pind != ind && (strings.Contains(ymsg, "mapping values") || strings.Contains(ymsg, "expected key") || strings.Contains(ymsg, "block")):
			at, fits := fitsBlock(lines, n-1, ind)
			if !fits {
				return n, col, fmt.Sprintf("this line is indented by %d spaces, which fits no block above it (the line above is indented by %d)", ind, pind)
			}
			if at >= 0 && (strings.HasPrefix(trimmed, "- ") || trimmed == "-") && !strings.HasPrefix(strings.TrimSpace(string(lines[at])), "-") {
				return n, col, fmt.Sprintf("a list item `- ...` where the mapping of line %d expects a `key: value` entry", at+1)
			}
		}
	}
	if strings.Contains(ymsg, "mapping values") {
		if c := secondMappingColon(text); c >= 0 {
			return n, runeCol(text, c), "a second ': ' on this line; quote the value if it contains ': '"
		}
	}
	return n, col, ymsg
}

// duplicateKey returns the first key (in document order) that appears twice
// in the same mapping, with a message naming the first occurrence.
func duplicateKey(n *yaml.Node) (line, col int, msg string, found bool) {
	var walk func(n *yaml.Node) bool
	walk = func(n *yaml.Node) bool {
		if n == nil {
			return false
		}
		if n.Kind == yaml.MappingNode {
			seen := map[string]*yaml.Node{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if k.Kind == yaml.ScalarNode && k.Value != "<<" {
					if first, ok := seen[k.Value]; ok {
						line, col = k.Line, k.Column
						msg = fmt.Sprintf("key %q appears twice in this mapping (first at line %d)", k.Value, first.Line)
						return true
					}
					seen[k.Value] = k
				}
				if walk(n.Content[i+1]) {
					return true
				}
			}
			return false
		}
		for _, c := range n.Content {
			if walk(c) {
				return true
			}
		}
		return false
	}
	found = walk(n)
	return line, col, msg, found
}

// maxLocateBytes bounds the documents whose syntax errors are located by
// re-parsing prefixes (FDL files are a few KB; the largest upstream 11 KB).
const maxLocateBytes = 256 << 10

// yamlLine is the line yaml.v3 names in err, clamped to the document.
func yamlLine(err error, lines int) int {
	var n int
	if m := yamlLinePrefix.FindStringSubmatch(err.Error()); m != nil && m[2] != "" {
		fmt.Sscanf(m[2], "line %d", &n)
	}
	return min(max(n, 1), max(lines, 1))
}

var yamlLinePrefix = regexp.MustCompile(`^(yaml: )?(line \d+: )?`)

// yamlMessage is the parser's message without its (unreliable) line.
func yamlMessage(err error) string {
	return yamlLinePrefix.ReplaceAllString(err.Error(), "")
}

func unclosedMessage(m string) bool {
	for _, s := range []string{"end of stream", "expected ','", "node content", "flow", "quoted scalar"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// parsesOK reports whether every YAML document in b parses.
func parsesOK(b []byte) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return false
		}
	}
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:i+1])
		b = b[i+1:]
	}
	return out
}

type opener struct {
	line, col int
	ch        byte
}

type lexical struct {
	safe []bool // a cut after line i leaves no quote or flow collection open
	// openAt[i] is the outermost quote or collection opened on line i
	// (0-based) that is still open at its end.
	openAt []*opener
	open   *opener // the outermost quote or bracket still open at the end
}

// scanLexical follows quotes, flow collections, comments and block scalars
// just well enough to know where a line end is outside all of them.
func scanLexical(lines [][]byte) lexical {
	res := lexical{safe: make([]bool, len(lines)), openAt: make([]*opener, len(lines))}
	var quote *opener
	var flow []opener
	inBlock, blockIndent := false, 0
	for i, raw := range lines {
		text := strings.TrimRight(string(raw), "\r\n")
		if inBlock {
			if strings.TrimSpace(text) == "" || indentOf(text) > blockIndent {
				res.safe[i] = true
				continue
			}
			inBlock = false
		}
		lastTok := byte(0) // last non-blank character outside quotes on this line
		for j := 0; j < len(text); j++ {
			c := text[j]
			if quote != nil {
				switch {
				case quote.ch == '"' && c == '\\':
					j++
				case quote.ch == '\'' && c == '\'' && j+1 < len(text) && text[j+1] == '\'':
					j++
				case c == quote.ch:
					quote = nil
					lastTok = c
				}
				continue
			}
			start := j == 0 || text[j-1] == ' ' || text[j-1] == '\t' || (len(flow) > 0 && strings.IndexByte("[{,", text[j-1]) >= 0)
			scalarStart := start && (lastTok == 0 || strings.IndexByte(":-[{,?", lastTok) >= 0)
			switch {
			case c == '#' && (j == 0 || text[j-1] == ' ' || text[j-1] == '\t'):
				j = len(text)
				continue
			case (c == '"' || c == '\'') && scalarStart:
				quote = &opener{i + 1, runeCol(text, j), c}
			case (c == '[' || c == '{') && scalarStart:
				flow = append(flow, opener{i + 1, runeCol(text, j), c})
			case (c == ']' || c == '}') && len(flow) > 0:
				flow = flow[:len(flow)-1]
			}
			if c != ' ' && c != '\t' {
				lastTok = c
			}
		}
		switch {
		case len(flow) > 0 && flow[0].line == i+1:
			res.openAt[i] = &flow[0]
		case len(flow) == 0 && quote != nil && quote.line == i+1:
			res.openAt[i] = quote
		}
		if quote == nil && len(flow) == 0 {
			res.safe[i] = true
			if blockIndicator.MatchString(stripComment(text)) {
				inBlock, blockIndent = true, indentOf(text)
			}
		}
	}
	switch {
	case len(flow) > 0:
		res.open = &flow[0]
	case quote != nil:
		res.open = quote
	}
	return res
}

var blockIndicator = regexp.MustCompile(`(^|[:\-]\s)\s*[|>][0-9+\-]*\s*$`)

func stripComment(s string) string {
	for j := 0; j < len(s); j++ {
		if s[j] == '#' && (j == 0 || s[j-1] == ' ' || s[j-1] == '\t') {
			return s[:j]
		}
	}
	return s
}

func indentOf(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }

func leadingBlankLen(s string) int { return len(s) - len(strings.TrimLeft(s, " \t")) }

// runeCol is the 1-based column of byte offset off in s.
func runeCol(s string, off int) int { return utf8.RuneCountInString(s[:off]) + 1 }

func isBlankOrComment(b []byte) bool {
	t := strings.TrimSpace(string(b))
	return t == "" || strings.HasPrefix(t, "#")
}

// prevContent is the index of the last line before i that is neither blank
// nor a comment, or -1.
func prevContent(lines [][]byte, i int) int {
	for j := i - 1; j >= 0; j-- {
		if !isBlankOrComment(lines[j]) {
			return j
		}
	}
	return -1
}

// isBareScalarLine: a line that is a plain value on its own, with no ':'
// separator, list dash, quote or flow collection.
func isBareScalarLine(t string) bool {
	if t == "" || strings.HasPrefix(t, "-") || strings.ContainsAny(t[:1], "\"'[{|>&*!%@`") {
		return false
	}
	return !strings.Contains(t, ": ") && !strings.HasSuffix(t, ":")
}

// fitsBlock reports whether a line i indented by ind sits where a block
// above it allows: under a line that opens a block (`key:` with no value,
// or a list dash) and indented more than its content, or at the indent
// of an enclosing block's entries (then at is the line of such an entry).
func fitsBlock(lines [][]byte, i, ind int) (at int, fits bool) {
	p := prevContent(lines, i)
	if p < 0 {
		return -1, ind == 0
	}
	ptext := stripComment(strings.TrimRight(string(lines[p]), "\r\n"))
	content := contentIndent(ptext)
	if t := strings.TrimSpace(ptext); ind > content && (strings.HasSuffix(t, ":") || strings.HasSuffix(t, "-")) {
		return -1, true
	}
	// The entries of the enclosing blocks: each line above that is less
	// indented than every line after it.
	limit := ind + 1
	for j := p; j >= 0 && limit > 0; j-- {
		if isBlankOrComment(lines[j]) {
			continue
		}
		t := strings.TrimRight(string(lines[j]), "\r\n")
		in, cin := indentOf(t), contentIndent(stripComment(t))
		if in == ind || cin == ind {
			return j, true
		}
		if in < limit {
			limit = in
		}
		if limit < ind {
			return -1, false
		}
	}
	return -1, false
}

// contentIndent is the column (0-based) of a line's content after its
// indentation and any list dashes: 4 for "  - key: v".
func contentIndent(s string) int {
	i := indentOf(s)
	for i < len(s) && s[i] == '-' && (i+1 == len(s) || s[i+1] == ' ') {
		i++
		for i < len(s) && s[i] == ' ' {
			i++
		}
	}
	return i
}

// badTokenStart is the offset of a character that cannot start a token
// where one starts on the line (after the indentation, a list dash or a
// mapping ': '), and that character, or -1.
func badTokenStart(s string) (int, byte) {
	s = strings.TrimRight(s, "\r\n")
	i := indentOf(s)
	for i < len(s) {
		switch c := s[i]; {
		case c == '\t':
			return i, c
		case c == '@' || c == '`':
			return i, c
		case c == '-' && (i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\t'):
			i++
			for i < len(s) && s[i] == ' ' {
				i++
			}
			continue
		}
		// Skip the token to the next ': ' (a mapping value follows).
		k := strings.Index(s[i:], ": ")
		if k < 0 || strings.ContainsAny(s[i:i+k], "\"'#[{") {
			return -1, 0
		}
		i += k + 1
		for i < len(s) && s[i] == ' ' {
			i++
		}
	}
	return -1, 0
}

// secondMappingColon is the offset of a second ": " in a plain `key: value`
// line, or -1.
func secondMappingColon(s string) int {
	s = stripComment(s)
	first := strings.Index(s, ": ")
	if first < 0 {
		return -1
	}
	rest := s[first+2:]
	if t := strings.TrimSpace(rest); t == "" || strings.ContainsAny(t[:1], "\"'[{|>") {
		return -1
	}
	if k := strings.Index(rest, ": "); k >= 0 {
		return first + 2 + k
	}
	if strings.HasSuffix(rest, ":") {
		return len(s) - 1
	}
	return -1
}
