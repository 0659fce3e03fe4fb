package guardrail

import "sort"

// Summary describes an evaluation for logs and usage records: the action and how many
// findings of each kind, never the matched text.
type Summary struct {
	Action string `json:"action"`
	// Counts maps a finding kind to its count: "pii.EMAIL", "regex.<name>", "word.custom",
	// "word.profanity", "topic.<name>", "content.<TYPE>", "grounding.<TYPE>".
	Counts map[string]int `json:"counts,omitempty"`
	// Blocked lists the kinds that blocked (sorted).
	Blocked []string `json:"blocked,omitempty"`
	// Anonymized lists the kinds that masked text (sorted).
	Anonymized []string `json:"anonymized,omitempty"`
}

// Summarize builds the summary of a response.
func Summarize(r ApplyResponse) Summary {
	s := Summary{Action: r.Action}
	add := func(kind, action string) {
		if s.Counts == nil {
			s.Counts = map[string]int{}
		}
		s.Counts[kind]++
		switch action {
		case FindingBlocked:
			s.Blocked = addKind(s.Blocked, kind)
		case FindingAnonymized:
			s.Anonymized = addKind(s.Anonymized, kind)
		}
	}
	for _, a := range r.Assessments {
		if p := a.SensitiveInformationPolicy; p != nil {
			for _, f := range p.PiiEntities {
				add("pii."+f.Type, f.Action)
			}
			for _, f := range p.Regexes {
				add("regex."+f.Name, f.Action)
			}
		}
		if p := a.WordPolicy; p != nil {
			for _, f := range p.CustomWords {
				add("word.custom", f.Action)
			}
			for _, f := range p.ManagedWordLists {
				add("word.profanity", f.Action)
			}
		}
		if p := a.TopicPolicy; p != nil {
			for _, f := range p.Topics {
				add("topic."+f.Name, f.Action)
			}
		}
		if p := a.ContentPolicy; p != nil {
			for _, f := range p.Filters {
				add("content."+f.Type, f.Action)
			}
		}
		if p := a.ContextualGroundingPolicy; p != nil {
			for _, f := range p.Filters {
				if f.Detected {
					add("grounding."+f.Type, f.Action)
				}
			}
		}
	}
	sort.Strings(s.Blocked)
	sort.Strings(s.Anonymized)
	return s
}

// addKind adds kind to the set kinds.
func addKind(kinds []string, kind string) []string {
	for _, k := range kinds {
		if k == kind {
			return kinds
		}
	}
	return append(kinds, kind)
}

// Merge adds o's counts to s (for a stream evaluated in windows).
func (s *Summary) Merge(o Summary) {
	if o.Action == ActionIntervened {
		s.Action = ActionIntervened
	} else if s.Action == "" {
		s.Action = o.Action
	}
	for k, v := range o.Counts {
		if s.Counts == nil {
			s.Counts = map[string]int{}
		}
		s.Counts[k] += v
	}
	for _, b := range o.Blocked {
		s.Blocked = addKind(s.Blocked, b)
	}
	for _, a := range o.Anonymized {
		s.Anonymized = addKind(s.Anonymized, a)
	}
	sort.Strings(s.Blocked)
	sort.Strings(s.Anonymized)
}

// Acted returns the kinds that acted: those that blocked when anything blocked, else
// those that masked text.
func (s Summary) Acted() []string {
	if len(s.Blocked) > 0 {
		return s.Blocked
	}
	return s.Anonymized
}
