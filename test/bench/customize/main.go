// Command customize measures fine-tuning's two hot paths and prints the figures: how
// fast the streaming validator reads a dataset (MB/s, with and without the PII scan of
// the guardrail engine), and how long local-tune takes per training epoch on SQuAD.
//
//	go run ./test/bench/customize [-mb 32] [-epochs 3]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/plinth-ai/plinth/shared/customize"
	"github.com/plinth-ai/plinth/shared/customize/localtune"
	"github.com/plinth-ai/plinth/shared/guardrail"
	"github.com/plinth-ai/plinth/shared/store/memstore"
	"github.com/plinth-ai/plinth/test/datasets"
)

func main() {
	mb := flag.Int("mb", 32, "size of the dataset the validator reads, in MB")
	epochs := flag.Int("epochs", 3, "local-tune epochs to time")
	flag.Parse()
	if err := run(*mb, *epochs); err != nil {
		fmt.Fprintln(os.Stderr, "bench customize:", err)
		os.Exit(1)
	}
}

type qa struct{ prompt, answer string }

func squad() ([]qa, error) {
	path, err := datasets.Path("squad", "dev-v2.0-first5articles.json")
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct {
		Data []struct {
			Paragraphs []struct {
				Context string `json:"context"`
				QAs     []struct {
					Question     string `json:"question"`
					IsImpossible bool   `json:"is_impossible"`
					Answers      []struct {
						Text string `json:"text"`
					} `json:"answers"`
				} `json:"qas"`
			} `json:"paragraphs"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	var out []qa
	for _, a := range f.Data {
		for _, p := range a.Paragraphs {
			for _, q := range p.QAs {
				if !q.IsImpossible && len(q.Answers) > 0 {
					out = append(out, qa{"Context:\n" + p.Context + "\n\nQuestion: " + q.Question, q.Answers[0].Text})
				}
			}
		}
	}
	return out, nil
}

// dataset writes SQuAD records, each made distinct, until about mb megabytes; one record
// in ten carries an email address and a phone number for the PII scan to mask.
func dataset(qas []qa, mb int) []byte {
	var buf bytes.Buffer
	for i := 0; buf.Len() < mb<<20; i++ {
		q := qas[i%len(qas)]
		prompt := fmt.Sprintf("%s (%d)", q.prompt, i)
		if i%10 == 0 {
			prompt += fmt.Sprintf(" Ask reader%d@example.com or call 415-555-%04d.", i, i%10000)
		}
		line, _ := json.Marshal(map[string]string{"prompt": prompt, "completion": q.answer})
		buf.Write(line)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// lines returns the first complete lines of data up to about n bytes.
func lines(data []byte, n int) []byte {
	if len(data) <= n {
		return data
	}
	if i := bytes.LastIndexByte(data[:n], '\n'); i >= 0 {
		return data[:i+1]
	}
	return data
}

// cpuTime is the process's user and system CPU time so far, in seconds: the figures per
// CPU-second hold when other work shares the machine, the wall-clock ones do not.
func cpuTime() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

type piiScanner struct {
	svc    *guardrail.Service
	policy *guardrail.Policy
}

func (s piiScanner) ScanPII(ctx context.Context, _ string, texts []string) (customize.PIIVerdict, error) {
	v, err := s.svc.CheckWith(ctx, s.policy, guardrail.SourceInput, texts)
	return customize.PIIVerdict{Blocked: v.Blocked, Texts: v.Texts, Changed: v.Changed, Findings: v.Findings}, err
}

func run(mb, epochs int) error {
	qas, err := squad()
	if err != nil {
		return err
	}
	data := dataset(qas, mb)
	family, _ := customize.FamilyOf("local", localtune.BaseModelID)
	family.Limits.MaxRecords = 0
	engine, err := guardrail.New()
	if err != nil {
		return err
	}
	scanner := piiScanner{svc: guardrail.NewService(engine, guardrail.NewRepository(memstore.New())), policy: &guardrail.Policy{Name: "pii",
		SensitiveInformationPolicyConfig: &guardrail.SensitiveInformationPolicyConfig{PiiEntitiesConfig: []guardrail.PiiEntityConfig{
			{Type: "EMAIL", Action: "ANONYMIZE"}, {Type: "PHONE", Action: "ANONYMIZE"}, {Type: "CREDIT_DEBIT_CARD_NUMBER", Action: "ANONYMIZE"},
			{Type: "US_SOCIAL_SECURITY_NUMBER", Action: "ANONYMIZE"}, {Type: "AWS_ACCESS_KEY", Action: "BLOCK"}}}}}
	fmt.Printf("Fine-tuning benchmarks (local-tune, SQuAD v2.0 dev, first five articles)\n\n")
	for _, c := range []struct {
		name string
		pii  customize.PIIScanner
		size []byte
	}{{"validator, format and limit checks", nil, data}, {"validator with the PII scan (guardrail engine)", scanner, lines(data, 4<<20)}} {
		start, cpu0 := time.Now(), cpuTime()
		rep, err := customize.Validate(context.Background(), bytes.NewReader(c.size), customize.ValidateOptions{Family: family, PII: c.pii, Tenant: "bench", Out: io.Discard})
		if err != nil {
			return err
		}
		secs, cpu := time.Since(start).Seconds(), cpuTime()-cpu0
		if err := rep.Err(); err != nil {
			return err
		}
		size := float64(len(c.size)) / (1 << 20)
		fmt.Printf("  %-48s %7.1f MB/s  %7.1f MB per CPU-second  (%d records, %.1f MB, %.2f s)\n", c.name, size/secs, size/cpu, rep.Records, size, secs)
		if rep.PII != nil {
			fmt.Printf("  %-48s %d records masked, findings %v\n", "", rep.PII.MaskedRecords, rep.PII.Findings)
		}
	}
	var train []localtune.Example
	for _, q := range qas {
		train = append(train, localtune.Example{Prompt: q.prompt, Completion: q.answer})
	}
	hp := localtune.DefaultHyperparameters()
	hp.EpochCount = epochs
	var marks []time.Time
	start, cpu0 := time.Now(), cpuTime()
	_, rep, err := localtune.Train(context.Background(), localtune.NewBase(), train, hp,
		localtune.WithEpochHook(func(int, float64, *localtune.ValidationMetric) { marks = append(marks, time.Now()) }))
	if err != nil {
		return err
	}
	total, cpu := time.Since(start).Seconds(), cpuTime()-cpu0
	fmt.Printf("\n  local-tune training: %d examples, %d epochs, batch %d: %.2f s per epoch, %.2f CPU-seconds per epoch (%.2f s in all, %d steps, %.0f trained tokens/s)\n",
		len(train), epochs, hp.BatchSize, total/float64(epochs), cpu/float64(epochs), total, len(rep.Steps), float64(rep.TrainedTokens)/total)
	prev := start
	for i, m := range marks {
		fmt.Printf("    epoch %d: %.2f s\n", i+1, m.Sub(prev).Seconds())
		prev = m
	}
	return nil
}
