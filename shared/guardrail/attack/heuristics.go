package attack

import (
	"strings"

	"github.com/plinth-ai/plinth/shared/guardrail/textnorm"
)

// cue is a family of phrasings typical of prompt injection and jailbreaks, in English,
// German, French and Spanish. Each pattern is matched on the normalised text (lower-case
// ASCII, words separated by single spaces, padded with spaces).
type cueFamily struct {
	name     string
	weight   float64 // contribution to the heuristic score
	patterns [][]byte
}

func pats(list ...string) [][]byte {
	out := make([][]byte, len(list))
	for i, s := range list {
		out[i] = []byte(s)
	}
	return out
}

var cueFamilies = []cueFamily{
	{"override", 0.9, pats(
		" ignore all previous", " ignore the previous", " ignore previous", " ignore all prior", " ignore prior",
		" ignore the above", " ignore everything", " ignore all instructions", " ignore your instructions",
		" ignore all preceding", " ignore any previous", " ignore what i said", " disregard the above",
		" disregard all", " disregard previous", " disregard your", " forget everything", " forget all previous",
		" forget all instructions", " forget your instructions", " forget what i said", " forget the above",
		" forget about all", " forget all your", " override your", " new instructions", " stop following",
		" ignoriere alle", " ignoriere die", " ignorieren sie", " ignoriere alles", " vergiss alles", " vergiss alle",
		" vergessen sie alles", " vergessen sie alle", " alle vorherigen", " alle bisherigen", " alle vorangegangenen",
		" ignorieren", " vorherigen anweisungen", " neue aufgabe", " oubliez toutes",
		" oubliez tout", " ignorez toutes", " ignorez les", " olvida todo", " olvida todas", " ignora todas",
		" ignora las instrucciones", " dimentica tutto", " ignora tutte",
		" забудь", " забудьте", " игнорируй", " игнорируйте", " zaboravi sve", " ignoriraj", " zapomnij", " zignoruj",
		" vergeet alle", " negeer alle", " esqueca tudo", " ignore todas", " unut", " tum talimatlari",
		" vorherigen instruktionen", " abweichend zu vorherigen", " disregard any",
	)},
	{"roleplay", 0.6, pats(
		" pretend you are", " pretend to be", " pretend that you", " pretend you ", " you are the ", " act as ", " acting as ", " you are now ",
		" now you are ", " from now on you", " imagine you are", " you will act", " roleplay", " role play",
		" play the role", " stay in character", " you are a ", " you are an ", " tu so als", " du bist jetzt",
		" stell dir vor du", " stell dir vor, du", " nun bist du", " jetzt bist du", " agiere als", " spiele die rolle",
		" du bist ", " fungieren", " tu es maintenant", " fais comme si", " actua como", " finge que",
	)},
	{"jailbreak", 0.9, pats(
		" dan ", " do anything now", " jailbreak", " developer mode", " no restrictions", " without restrictions",
		" unfiltered", " uncensored", " no filter", " bypass ", " evil ai", " evil assistant", " without any rules",
		" ohne einschrankungen", " keine regeln", " sans restriction",
	)},
	{"exfiltrate", 0.8, pats(
		" system prompt", " your instructions", " your prompt", " initial prompt", " original prompt",
		" reveal your", " show me your", " print your", " repeat the words above", " repeat everything above",
		" what was written above", " password", " passwort", " dein prompt", " deine anweisungen",
		" die anweisungen", " geheim",
	)},
	{"output_control", 0.6, pats(
		" say the following", " just say", " only say", " output only", " just output",
		" respond with ", " answer with ", " write the following", " say that ", " state that ", " sage nur",
		" sag nur", " antworte nur", " antworte mit", " schreibe nur", " gib nur", " dites ce qui suit",
		" mir sagen", " sagen sie", " sag mir ",
	)},
	{"transition", 0.5, pats(
		" well done", " very good", " good job", " great job",
		" now we ask", " now i have a", " new task", " next task", " now help me", " now write", " now answer",
		" sehr gut", " gut gemacht", " das reicht", " nun bitten wir", " jetzt brauche ich",
		" neue herausforderung", " okay now", " ok now",
		" nun ", " jetzt ",
	)},
}

type cueRef struct {
	family int
	words  []string
}

// cueIndex maps a pattern's first word to the patterns starting with it, so cues are
// matched in one pass over the tokens.
var cueIndex = func() map[string][]cueRef {
	m := map[string][]cueRef{}
	for fi, f := range cueFamilies {
		for _, p := range f.patterns {
			ws := strings.Fields(strings.NewReplacer(",", " ", ".", " ").Replace(string(p)))
			if len(ws) == 0 {
				continue
			}
			m[ws[0]] = append(m[ws[0]], cueRef{family: fi, words: ws})
		}
	}
	return m
}()

// cueHits marks the cue families present in the token sequence.
func cueHits(toks []textnorm.Token, hits []bool) {
	for i := range hits {
		hits[i] = false
	}
	for i, t := range toks {
		refs, ok := cueIndex[t.Norm]
		if !ok {
			continue
		}
		for _, r := range refs {
			if hits[r.family] || i+len(r.words) > len(toks) {
				continue
			}
			match := true
			for k := 1; k < len(r.words); k++ {
				if toks[i+k].Norm != r.words[k] {
					match = false
					break
				}
			}
			if match {
				hits[r.family] = true
			}
		}
	}
}

// heuristicScore combines the weights of the families hit: 1 - Π(1 - w).
func heuristicScore(hits []bool) (float64, []string) {
	miss := 1.0
	var names []string
	for fi, h := range hits {
		if h {
			miss *= 1 - cueFamilies[fi].weight
			names = append(names, cueFamilies[fi].name)
		}
	}
	return 1 - miss, names
}
