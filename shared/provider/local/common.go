package local

// commonWords are frequent English content words (stems as stem() leaves them) that
// say little about a text's topic in any domain: reporting verbs, vague nouns and
// quantities. local-embed gives them a lower weight, a stand-in for the inverse
// document frequency a stateless embedder cannot know.
var commonWords = func() map[string]struct{} {
	m := make(map[string]struct{})
	for _, w := range []string{
		"use", "using", "used", "based", "show", "shown", "found", "find", "result", "results",
		"study", "studie", "report", "data", "method", "analysis", "effect", "level", "increase",
		"increased", "decrease", "high", "higher", "low", "lower", "new", "one", "two", "three",
		"first", "second", "time", "year", "day", "group", "number", "well", "many", "much",
		"make", "made", "way", "part", "case", "type", "form", "also", "like", "get", "know",
		"take", "see", "come", "think", "look", "want", "give", "go", "say", "said", "work",
		"however", "therefore", "including", "include", "associated", "associat", "related",
		"significant", "significantly", "compared", "different", "specific", "important",
		"total", "small", "large", "major", "common", "several", "various", "whether",
		"present", "provide", "suggest", "demonstrate", "observe", "observ", "identify",
		"identifi", "evidence", "role", "factor", "process", "system", "result", "change",
		"thing", "people", "person", "good", "great", "little", "long", "own", "old", "right",
		"big", "less", "least", "even", "still", "since", "although", "though", "ever", "never",
	} {
		m[string(stem([]byte(w)))] = struct{}{}
	}
	return m
}()

// commonWeight scales a common word's unigram weight.
const commonWeight = 0.4

func unigramWeightOf(w []byte) float32 {
	if _, ok := commonWords[string(w)]; ok {
		return unigramWeight * commonWeight
	}
	return unigramWeight
}
