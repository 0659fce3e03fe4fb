package guardrail

import (
	"errors"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Policy
		want string // substring of the error, "" for valid
	}{
		{"empty is valid", Policy{Name: "x"}, ""},
		{"unknown pii", Policy{SensitiveInformationPolicyConfig: &SensitiveInformationPolicyConfig{
			PiiEntitiesConfig: []PiiEntityConfig{{Type: "SHOE_SIZE", Action: ActionBlock}}}}, "piiEntitiesConfig[0].type"},
		{"bad action", Policy{SensitiveInformationPolicyConfig: &SensitiveInformationPolicyConfig{
			PiiEntitiesConfig: []PiiEntityConfig{{Type: "EMAIL", Action: "MASK"}}}}, "piiEntitiesConfig[0].action"},
		{"bad regex", Policy{SensitiveInformationPolicyConfig: &SensitiveInformationPolicyConfig{
			RegexesConfig: []RegexConfig{{Name: "r", Pattern: "(", Action: ActionBlock}}}}, "regexesConfig[0].pattern"},
		{"bad strength", Policy{ContentPolicyConfig: &ContentPolicyConfig{
			FiltersConfig: []ContentFilterConfig{{Type: FilterHate, InputStrength: "EXTREME", OutputStrength: "LOW"}}}}, "inputStrength"},
		{"prompt attack on output", Policy{ContentPolicyConfig: &ContentPolicyConfig{
			FiltersConfig: []ContentFilterConfig{{Type: FilterPromptAttack, InputStrength: "HIGH", OutputStrength: "HIGH"}}}}, "PROMPT_ATTACK applies to input only"},
		{"topic needs definition", Policy{TopicPolicyConfig: &TopicPolicyConfig{
			TopicsConfig: []TopicConfig{{Name: "t", Type: TopicDeny}}}}, "definition: required"},
		{"topic type", Policy{TopicPolicyConfig: &TopicPolicyConfig{
			TopicsConfig: []TopicConfig{{Name: "t", Definition: "d", Type: "ALLOW"}}}}, "must be DENY"},
		{"grounding threshold", Policy{ContextualGroundingPolicyConfig: &ContextualGroundingPolicyConfig{
			FiltersConfig: []GroundingFilterConfig{{Type: GroundingGrounding, Threshold: 1.5}}}}, "threshold"},
		{"managed list", Policy{WordPolicyConfig: &WordPolicyConfig{
			ManagedWordListsConfig: []ManagedWordListConfig{{Type: "SLANG"}}}}, "must be PROFANITY"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestStricterOnlyTightens(t *testing.T) {
	base := &Policy{ID: "p1", Version: 3, Name: "tenant",
		SensitiveInformationPolicyConfig: &SensitiveInformationPolicyConfig{PiiEntitiesConfig: []PiiEntityConfig{
			{Type: "EMAIL", Action: ActionBlock}, {Type: "PHONE", Action: ActionAnonymize}}},
		ContentPolicyConfig: &ContentPolicyConfig{FiltersConfig: []ContentFilterConfig{
			{Type: FilterHate, InputStrength: StrengthHigh, OutputStrength: StrengthMedium}}},
		ContextualGroundingPolicyConfig: &ContextualGroundingPolicyConfig{FiltersConfig: []GroundingFilterConfig{
			{Type: GroundingGrounding, Threshold: 0.7}}},
	}
	override := &Policy{
		SensitiveInformationPolicyConfig: &SensitiveInformationPolicyConfig{PiiEntitiesConfig: []PiiEntityConfig{
			{Type: "EMAIL", Action: ActionNone}, {Type: "PHONE", Action: ActionBlock}, {Type: "URL", Action: ActionAnonymize}}},
		ContentPolicyConfig: &ContentPolicyConfig{FiltersConfig: []ContentFilterConfig{
			{Type: FilterHate, InputStrength: StrengthLow, OutputStrength: StrengthHigh},
			{Type: FilterPromptAttack, InputStrength: StrengthHigh, OutputStrength: StrengthNone}}},
		ContextualGroundingPolicyConfig: &ContextualGroundingPolicyConfig{FiltersConfig: []GroundingFilterConfig{
			{Type: GroundingGrounding, Threshold: 0.2}}},
	}
	m := Stricter(base, override)
	if err := m.Validate(); err != nil {
		t.Fatalf("merged policy invalid: %v", err)
	}
	act := map[string]string{}
	for _, e := range m.SensitiveInformationPolicyConfig.PiiEntitiesConfig {
		act[e.Type] = sideAction(SourceInput, e.Action, e.InputAction, e.OutputAction, e.InputEnabled, e.OutputEnabled)
	}
	if act["EMAIL"] != ActionBlock || act["PHONE"] != ActionBlock || act["URL"] != ActionAnonymize {
		t.Errorf("pii actions = %v", act)
	}
	var hate, attack *ContentFilterConfig
	for i, f := range m.ContentPolicyConfig.FiltersConfig {
		switch f.Type {
		case FilterHate:
			hate = &m.ContentPolicyConfig.FiltersConfig[i]
		case FilterPromptAttack:
			attack = &m.ContentPolicyConfig.FiltersConfig[i]
		}
	}
	if hate == nil || hate.InputStrength != StrengthHigh || hate.OutputStrength != StrengthHigh {
		t.Errorf("hate = %+v", hate)
	}
	if attack == nil || attack.InputStrength != StrengthHigh {
		t.Errorf("prompt attack = %+v", attack)
	}
	if g := m.ContextualGroundingPolicyConfig.FiltersConfig[0].Threshold; g != 0.7 {
		t.Errorf("grounding threshold = %v, want 0.7 (override may not lower it)", g)
	}
	if m.Version != 0 || m.ID != "p1" {
		t.Errorf("merged policy id/version = %s/%d", m.ID, m.Version)
	}
	if base.SensitiveInformationPolicyConfig.PiiEntitiesConfig[1].Action != ActionAnonymize {
		t.Errorf("Stricter modified its base")
	}
	if Stricter(base, nil) != base || Stricter(nil, override) != override {
		t.Errorf("nil handling")
	}
}

func TestBlocksSemantics(t *testing.T) {
	tests := []struct {
		strength, conf string
		want           bool
	}{
		{StrengthHigh, StrengthLow, true}, {StrengthMedium, StrengthLow, false}, {StrengthMedium, StrengthMedium, true},
		{StrengthLow, StrengthMedium, false}, {StrengthLow, StrengthHigh, true}, {StrengthNone, StrengthHigh, false},
		{StrengthHigh, StrengthNone, false},
	}
	for _, tc := range tests {
		if got := blocks(tc.strength, tc.conf); got != tc.want {
			t.Errorf("blocks(%s, %s) = %v", tc.strength, tc.conf, got)
		}
	}
}
