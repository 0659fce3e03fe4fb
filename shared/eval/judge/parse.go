package judge

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

var (
	reScoreField     = regexp.MustCompile(`(?i)"?score"?\s*[:=]\s*"?\s*(-?\d+(?:\.\d+)?)`)
	reRationaleField = regexp.MustCompile(`(?is)"?rationale"?\s*[:=]\s*"((?:[^"\\]|\\.)*)"`)
)

// ParseVerdict extracts the score and rationale from a judge reply. It accepts a bare
// JSON object, one wrapped in a Markdown code fence or surrounded by prose, and a score
// given as a number or a numeric string; as a last resort it reads a `"score": N` field
// from malformed JSON. Scores must be whole numbers from 1 to 5.
func ParseVerdict(reply string) (int, string, error) {
	for _, obj := range jsonObjects(reply) {
		var m map[string]json.RawMessage
		if json.Unmarshal([]byte(obj), &m) != nil {
			continue
		}
		raw, ok := lookup(m, "score")
		if !ok {
			continue
		}
		score, err := parseScore(raw)
		if err != nil {
			return 0, "", err
		}
		var rationale string
		if r, ok := lookup(m, "rationale"); ok {
			if json.Unmarshal(r, &rationale) != nil {
				rationale = strings.TrimSpace(string(r))
			}
		}
		return score, rationale, nil
	}
	if m := reScoreField.FindStringSubmatch(reply); m != nil {
		score, err := parseScore(json.RawMessage(m[1]))
		if err != nil {
			return 0, "", err
		}
		var rationale string
		if r := reRationaleField.FindStringSubmatch(reply); r != nil {
			if json.Unmarshal([]byte(`"`+r[1]+`"`), &rationale) != nil {
				rationale = r[1]
			}
		}
		return score, rationale, nil
	}
	return 0, "", fmt.Errorf("reply %q: %w", truncate(reply, 120), ErrUnparseable)
}

func lookup(m map[string]json.RawMessage, key string) (json.RawMessage, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

func parseScore(raw json.RawMessage) (int, error) {
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, fmt.Errorf("score %s: %w", raw, ErrUnparseable)
		}
		s = strings.TrimSpace(s)
		if i := strings.IndexByte(s, '/'); i > 0 { // "4/5"
			s = strings.TrimSpace(s[:i])
		}
		f, err = strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("score %q: %w", s, ErrUnparseable)
		}
	}
	if f != math.Trunc(f) {
		return 0, fmt.Errorf("score %v is not a whole number: %w", f, ErrUnparseable)
	}
	if f < 1 || f > 5 {
		return 0, fmt.Errorf("score %v: %w", f, ErrScoreOutOfRange)
	}
	return int(f), nil
}

// jsonObjects returns every balanced {...} span of s, outermost first, skipping braces
// inside JSON strings. Code fences need no special handling: the object inside is found.
func jsonObjects(s string) []string {
	var out []string
	for start := strings.IndexByte(s, '{'); start >= 0; {
		depth, inStr, esc, end := 0, false, false, -1
		for i := start; i < len(s) && end < 0; i++ {
			c := s[i]
			switch {
			case esc:
				esc = false
			case inStr && c == '\\':
				esc = true
			case c == '"':
				inStr = !inStr
			case inStr:
			case c == '{':
				depth++
			case c == '}':
				depth--
				if depth == 0 {
					end = i
				}
			}
		}
		if end < 0 {
			break
		}
		out = append(out, s[start:end+1])
		next := strings.IndexByte(s[end+1:], '{')
		if next < 0 {
			break
		}
		start = end + 1 + next
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
