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
}

// Summarize builds the summary of a response.
func Summarize(r ApplyResponse) Summary {
	s := Summary{Action: r.Action}
	add := func(kind, action string) {
		if s.Counts == nil {
			s.Counts = map[string]int{}
		}
		s.Counts[kind]++
		if action == FindingBlocked {
			for _, b := range s.Blocked {
				if b == kind {
					return
				}
			}
			s.Blocked = append(s.Blocked, kind)
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
	return s
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
		found := false
		for _, x := range s.Blocked {
			found = found || x == b
		}
		if !found {
			s.Blocked = append(s.Blocked, b)
		}
	}
	sort.Strings(s.Blocked)
}
