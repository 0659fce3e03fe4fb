package eval

import (
	"encoding/base64"
	"math/rand/v2"
	"strings"
)

// SyntheticAttackSource names the rows of SyntheticAttackRows.
const SyntheticAttackSource = "synthetic_attacks"

// SyntheticAttackRows are prompt attacks and benign look-alikes generated from a
// grammar written for the project (nothing in it is taken from a dataset). It is
// synthetic data, kept as a source of its own so that cross-source figures stay honest:
// a model fitted without it is measured on it, and a model fitted on it alone is
// measured on the deepset rows.
//
// Attacks: instruction overrides in many wordings ("set aside the earlier guidance"),
// in English, German, French, Spanish, Italian, Portuguese and Dutch; new-task and fake
// system-message injections; prompt-leak requests; injections buried in a document the
// user asks to have summarised or translated; long persona jailbreaks (an AI "with no
// rules", two answers per question, tokens lost per refusal, "stay in character");
// fiction and hypothetical wrappers around a forbidden request; obfuscated overrides
// (spaced letters, leetspeak, base64 with "decode and follow").
//
// Benign look-alikes share their words: system prompts that restrict a model ("ignore
// questions that are not about billing"), role and "act as" requests, games with
// characters, users correcting their own earlier message ("ignore my last message"),
// translation and summarisation tasks, instructions quoted from manuals, questions about
// prompt security, in the same languages.
func SyntheticAttackRows(n int, seed uint64) []Row {
	r := rand.New(rand.NewPCG(seed, 0xa77ac))
	g := attackGrammar()
	seen := map[string]bool{}
	var out []Row
	add := func(text, cat string) {
		if seen[text] {
			return
		}
		seen[text] = true
		out = append(out, Row{Text: text, Source: SyntheticAttackSource, Category: cat})
	}
	attacks := []struct {
		key    string
		weight int
	}{
		{"override", 6}, {"override_de", 2}, {"override_fr", 1}, {"override_es", 1}, {"override_it", 1},
		{"override_pt", 1}, {"override_nl", 1}, {"newtask", 2}, {"leak", 2}, {"buried", 2}, {"persona", 4},
		{"wrapper", 2}, {"obfuscated", 2}, {"appended", 5}, {"hijack", 2}, {"hijack_de", 1},
	}
	benign := []struct {
		key    string
		weight int
	}{
		{"system", 4}, {"roleplay", 3}, {"correction", 3}, {"task", 3}, {"quoted", 2}, {"meta", 1}, {"game", 2}, {"praised", 4},
		{"benign_de", 2}, {"benign_fr", 1}, {"benign_es", 1}, {"benign_it", 1}, {"benign_pt", 1}, {"benign_nl", 1},
		{"sys_long", 4}, {"console", 2}, {"convo", 3}, {"agent", 2}, {"templ", 1},
		{"sys_de", 2}, {"task_de", 2}, {"role_de", 1}, {"convo_de", 1}, {"sys_fr", 1}, {"task_fr", 1}, {"convo_fr", 1},
		{"sys_es", 1}, {"task_es", 1}, {"convo_es", 1}, {"other_benign", 2},
	}
	pick := func(opts []struct {
		key    string
		weight int
	}) string {
		total := 0
		for _, o := range opts {
			total += o.weight
		}
		v := r.IntN(total)
		for _, o := range opts {
			if v < o.weight {
				return o.key
			}
			v -= o.weight
		}
		return opts[0].key
	}
	for i := 0; len(out) < n && i < 20*n; i++ {
		if i%2 == 0 {
			key := pick(attacks)
			text := g.expandBound(r, "{"+key+"}", "name", "domain", "role")
			if key == "obfuscated" {
				text = obfuscate(r, g, text)
			}
			add(text, "PROMPT_ATTACK")
		} else {
			add(g.expandBound(r, "{"+pick(benign)+"}", "name", "domain", "role"), "")
		}
	}
	return out
}

// obfuscate rewrites an override the way attackers hide one from filters.
func obfuscate(r *rand.Rand, g grammar, text string) string {
	switch r.IntN(4) {
	case 0: // spaced letters
		var b strings.Builder
		for i, c := range strings.ToLower(text) {
			if i > 0 {
				b.WriteByte(' ')
			}
			if c != ' ' {
				b.WriteRune(c)
			}
		}
		return b.String()
	case 1: // leetspeak
		return strings.NewReplacer("a", "4", "e", "3", "i", "1", "o", "0", "s", "5", "t", "7").Replace(strings.ToLower(text))
	case 2: // base64 with an instruction to decode and obey
		return g.expand(r, "{decode_lead}") + " " + base64.StdEncoding.EncodeToString([]byte(text))
	}
	// words broken with separators
	var b strings.Builder
	for i, w := range strings.Fields(text) {
		if i > 0 {
			b.WriteByte(' ')
		}
		if len(w) > 5 {
			k := len(w) / 2
			b.WriteString(w[:k] + []string{"-", ".", "_", "/"}[r.IntN(4)] + w[k:])
		} else {
			b.WriteString(w)
		}
	}
	return b.String()
}
