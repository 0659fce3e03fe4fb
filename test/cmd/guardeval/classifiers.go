package main

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/plinth-ai/plinth/shared/guardrail"
	"github.com/plinth-ai/plinth/shared/guardrail/attack"
	"github.com/plinth-ai/plinth/shared/guardrail/content"
	"github.com/plinth-ai/plinth/shared/guardrail/eval"
	"github.com/plinth-ai/plinth/shared/guardrail/textclass"
	"github.com/plinth-ai/plinth/shared/guardrail/topics"
	"github.com/plinth-ai/plinth/shared/provider/local"
)

func classifierReport(dir string, cross bool) error {
	cm, err := content.Model()
	if err != nil {
		return err
	}
	am, err := attack.Model()
	if err != nil {
		return err
	}
	crows, err := eval.ContentRows(dir)
	if err != nil {
		return err
	}
	arows, err := eval.AttackRows(dir)
	if err != nil {
		return err
	}
	cs, as := eval.ContentSpec(), eval.AttackSpec()

	fmt.Println("\nHarmful content (embedded model), test split of every source (15%, never trained or calibrated on).")
	fmt.Println("Strength is the filter strength: HIGH blocks LOW confidence and above, LOW blocks HIGH confidence only.")
	fmt.Println("Per category, positives are that category's rows and negatives the benign rows; a source without benign rows has no precision.")
	printReport(cs.Measure(cm, eval.Only(crows, eval.Test)))
	fmt.Println("\nPrompt attack (embedded model), test split of every source; negatives are benign and harmful-but-direct prompts.")
	printReport(as.Measure(am, eval.Only(arows, eval.Test)))

	sq, err := eval.LoadSquad(dir)
	if err != nil {
		return err
	}
	benign := eval.OverRefusalSet(sq)
	fmt.Printf("\nOver-refusal on a benign set no classifier was trained or calibrated on: %d SQuAD v2 dev texts\n", len(benign))
	fmt.Println("(the questions and paragraphs of its first five articles); share of texts blocked with every category at one strength.")
	fmt.Printf("  %-14s %8s %8s %8s   budget: MEDIUM < 5%%, HIGH < 10%%\n", "detector", "LOW", "MEDIUM", "HIGH")
	for _, d := range []struct {
		name string
		m    *textclass.Model
	}{{"content", cm}, {"prompt attack", am}} {
		rate, per := eval.FlagRate(d.m, benign)
		fmt.Printf("  %-14s %7.2f%% %7.2f%% %7.2f%%   at HIGH by label %v\n", d.name, 100*rate["LOW"], 100*rate["MEDIUM"], 100*rate["HIGH"], per)
	}

	held := eval.HeldoutInstructions()
	fmt.Printf("\nOver-refusal on %d benign instruction-like prompts no classifier trains on (eval/prompts/instructions_heldout.txt:\n", len(held))
	fmt.Println("system prompts, role and \"act as\" requests, translation, summarisation, format and agent instructions, seven languages).")
	fmt.Printf("  %-14s %8s %8s %8s   budget: MEDIUM < 5%%, HIGH < 10%%\n", "detector", "LOW", "MEDIUM", "HIGH")
	for _, d := range []struct {
		name string
		m    *textclass.Model
	}{{"content", cm}, {"prompt attack", am}} {
		rate, _ := eval.FlagRate(d.m, held)
		fmt.Printf("  %-14s %7.2f%% %7.2f%% %7.2f%%\n", d.name, 100*rate["LOW"], 100*rate["MEDIUM"], 100*rate["HIGH"])
	}
	hh := eval.HeldoutHate()
	hc := eval.HateCounts(cm, hh)
	fmt.Printf("\nHATE on held-out statements about groups (eval/prompts/hate_heldout.txt, %d slur-free hateful, %d benign mentions; never trained on):\n", hc["HIGH"].TP+hc["HIGH"].FN, hc["HIGH"].FP+hc["HIGH"].TN)
	for _, st := range eval.Strengths {
		c := hc[st]
		fmt.Printf("  strength %-6s precision %s recall %s benign flagged %s\n", st, f3(c.Precision()), f3(c.Recall()), f3(c.FPR()))
	}

	if err := topicsReport(); err != nil {
		return err
	}

	fmt.Println("\nProbes (prompt attack confidence):")
	for _, p := range eval.AttackProbes {
		fmt.Printf("  %-6s want %-6s %q\n", eval.Confidence(am, 0, p.Text), p.Want, p.Text)
	}
	fmt.Println("\nProbes (harmful content, highest confidence over the categories):")
	for _, p := range eval.ContentProbes {
		conf, label := "NONE", ""
		for l := range cm.Labels {
			if c := eval.Confidence(cm, l, p.Text); rank(c) > rank(conf) {
				conf, label = c, cm.Labels[l]
			}
		}
		fmt.Printf("  %-6s %-10s want %-6s %q\n", conf, label, p.Want, p.Text)
	}

	if !cross {
		return nil
	}
	fmt.Println("\nCross-source, harmful content: a model fitted (and calibrated) without the source, measured on all of its rows.")
	printCross(cs.CrossSource(crows, []string{"advbench", "harmbench", "strongreject", "jailbreakbench", "simplesafetytests", "openai_moderation", "davidson_hate_offensive", eval.SyntheticContentSource, eval.SyntheticHateSource}))
	fmt.Println("\nCross-source, prompt attack: fitted without the source, measured on it (benign sources: false-positive rate).")
	fmt.Println("(held out deepset: a model of the synthetic attacks and the benign sources, measured on the real injections;")
	fmt.Println(" held out synthetic_attacks: a model of deepset and the benign sources, measured on the generated attacks and look-alikes)")
	printCross(as.CrossSource(arows, []string{"deepset", eval.SyntheticAttackSource, "alpaca", "system_prompts", "role_prompts", "fabric_patterns", "openai_moderation", "advbench"}))
	fmt.Println("\nCross-language, prompt attack: fitted on the deepset rows of one language (with every benign source), measured on the other's.")
	for _, r := range eval.CrossLanguage(as, arows) {
		printCross([]eval.CrossResult{r})
	}
	return nil
}

func rank(conf string) int {
	return map[string]int{"NONE": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3}[conf]
}

func f3(x float64) string {
	if math.IsNaN(x) {
		return "    -"
	}
	return fmt.Sprintf("%.3f", x)
}

func printReport(rep eval.Report) {
	srcs := make([]string, 0, len(rep.Table))
	for s := range rep.Table {
		if s != "all" {
			srcs = append(srcs, s)
		}
	}
	sort.Strings(srcs)
	srcs = append(srcs, "all")
	fmt.Printf("  %-24s %-14s %6s %6s | %-19s | %-19s | %-19s\n", "source", "label", "pos", "neg", "strength LOW P / R", "MEDIUM P / R", "HIGH P / R")
	for _, s := range srcs {
		for _, l := range rep.Labels {
			row := rep.Table[s][l]
			if row == nil {
				continue
			}
			c := row["HIGH"]
			if c.TP+c.FN == 0 && s != "all" && c.FP+c.TN == 0 {
				continue
			}
			fmt.Printf("  %-24s %-14s %6d %6d", s, l, c.TP+c.FN, c.FP+c.TN)
			for _, st := range eval.Strengths {
				c := row[st]
				fmt.Printf(" | %s / %s", pad(f3(c.Precision())), pad(f3(c.Recall())))
				if c.TP+c.FN == 0 {
					fmt.Printf(" fpr %s", f3(c.FPR()))
				}
			}
			fmt.Println()
		}
	}
}

func pad(s string) string { return fmt.Sprintf("%8s", strings.TrimSpace(s)) }

func printCross(rs []eval.CrossResult) {
	for _, r := range rs {
		for _, l := range r.Report.Labels {
			row := r.Report.Table["all"][l]
			if row == nil {
				continue
			}
			c := row["HIGH"]
			if c.TP+c.FN == 0 && c.FP+c.TN == 0 {
				continue
			}
			fmt.Printf("  held out %-24s %-14s pos %5d neg %5d", r.Source, l, c.TP+c.FN, c.FP+c.TN)
			for _, st := range eval.Strengths {
				c := row[st]
				if c.TP+c.FN > 0 {
					fmt.Printf(" | %s recall %s", st, f3(c.Recall()))
				}
				if c.FP+c.TN > 0 {
					fmt.Printf(" | %s fpr %s", st, f3(c.FPR()))
				}
			}
			fmt.Println()
		}
	}
}

func topicsReport() error {
	ctx := context.Background()
	for _, src := range []struct {
		title string
		load  func() (eval.TopicsSet, error)
	}{
		{"eval/prompts/topics.json (the matcher was developed on it)", eval.LoadTopicsSet},
		{"eval/prompts/topics_heldout.json (held out: written first, never tuned on)", eval.LoadHeldoutTopicsSet},
	} {
		set, err := src.load()
		if err != nil {
			return err
		}
		n := 0
		for _, t := range set.Topics {
			n += len(t.Paraphrases)
		}
		fmt.Printf("\nDenied topics on paraphrases, %s: %d topics, %d paraphrases, %d off-topic texts\n", src.title, len(set.Topics), n, len(set.OffTopic))
		for _, c := range []struct {
			name string
			opts []topics.Option
		}{
			{"lexical + WordNet semantics (default)", nil},
			{"+ local-embed (hashing embedder), calibrated", []topics.Option{topics.WithEmbedder(topics.ProviderEmbedder{Model: local.NewEmbed(256), Name: "local-embed"})}},
		} {
			for _, thr := range []float64{guardrail.DefaultTopicThreshold, 0.3, 0.5} {
				r, err := eval.MeasureTopics(ctx, set, thr, c.opts...)
				if err != nil {
					return err
				}
				fmt.Printf("  %-46s threshold %.2f: paraphrases matched %2d/%d, off-topic texts matched %2d/%d\n", c.name, thr, r.Matched, r.Paraphrases, r.FalseHits, r.OffTopic)
			}
		}
	}
	return nil
}
