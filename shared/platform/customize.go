package platform

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/plinth-ai/plinth/shared/auth"
	"github.com/plinth-ai/plinth/shared/customize"
	"github.com/plinth-ai/plinth/shared/customize/evalsuite"
	"github.com/plinth-ai/plinth/shared/customize/localjob"
	"github.com/plinth-ai/plinth/shared/customize/localtune"
	"github.com/plinth-ai/plinth/shared/customize/openaijob"
	"github.com/plinth-ai/plinth/shared/eval"
	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/gateway/routing"
	"github.com/plinth-ai/plinth/shared/guardrail"
	"github.com/plinth-ai/plinth/shared/humaneval"
	"github.com/plinth-ai/plinth/shared/platform/inprocess"
	"github.com/plinth-ai/plinth/shared/provider"
	"github.com/plinth-ai/plinth/shared/rag/chunk"
	"github.com/plinth-ai/plinth/shared/rag/extract"
	"github.com/plinth-ai/plinth/shared/registry"
	"github.com/plinth-ai/plinth/shared/tenant"
	"github.com/plinth-ai/plinth/statemachines"
)

// artifactResolver finds a fine-tuned local-tune model's weights through its registry
// lineage.
func artifactResolver(models *registry.Service) localjob.ArtifactResolver {
	return func(ctx context.Context, id string) (string, error) {
		m, err := models.Get(ctx, id)
		if err != nil {
			return "", err
		}
		if m.Lineage == nil || m.Lineage.Artifact == "" {
			return "", fmt.Errorf("model %s has no trained artefact", id)
		}
		return m.Lineage.Artifact, nil
	}
}

// localTuneModels serves local deployments of local-tune and of models fine-tuned
// locally ("ft:…") from the library; local-chat keeps serving the rest.
func localTuneModels(lib *localjob.Library) func(model string) provider.ChatModel {
	return func(model string) provider.ChatModel {
		if model == localtune.BaseModelID || strings.HasPrefix(model, "ft:") {
			return lib.Serve(model)
		}
		return nil
	}
}

// executorWorkflow starts and stops the customisation flow on the embedded executor.
type executorWorkflow struct{ exec *flow.Executor }

func (w executorWorkflow) Start(ctx context.Context, name string, input json.RawMessage) (string, error) {
	ex, err := w.exec.Start(ctx, statemachines.Customization, name, input)
	return ex.ID, err
}

func (w executorWorkflow) Stop(ctx context.Context, id, errName, cause string) error {
	_, err := w.exec.Stop(ctx, id, errName, cause)
	if errors.Is(err, flow.ErrNotRunning) {
		return nil
	}
	return err
}

// datasetPIIPolicy masks strong identifiers in training data when the tenant's own
// guardrail policy says nothing about personal data. Names and addresses are left
// alone: they are the subject matter of most question-answering data.
var datasetPIIPolicy = &guardrail.Policy{
	Name: "dataset-pii-default",
	SensitiveInformationPolicyConfig: &guardrail.SensitiveInformationPolicyConfig{PiiEntitiesConfig: []guardrail.PiiEntityConfig{
		{Type: "EMAIL", Action: "ANONYMIZE"}, {Type: "PHONE", Action: "ANONYMIZE"},
		{Type: "US_SOCIAL_SECURITY_NUMBER", Action: "ANONYMIZE"}, {Type: "CREDIT_DEBIT_CARD_NUMBER", Action: "ANONYMIZE"},
		{Type: "INTERNATIONAL_BANK_ACCOUNT_NUMBER", Action: "ANONYMIZE"},
		{Type: "AWS_ACCESS_KEY", Action: "BLOCK"}, {Type: "AWS_SECRET_KEY", Action: "BLOCK"},
	}},
}

// guardPII implements customize.PIIScanner with the guardrail engine: the personal-data
// part of the tenant's policy (block or anonymise per entity), or datasetPIIPolicy.
type guardPII struct{ svc *guardrail.Service }

func (g guardPII) ScanPII(ctx context.Context, tenantID string, texts []string) (customize.PIIVerdict, error) {
	policy := datasetPIIPolicy
	if p, err := g.svc.TenantPolicy(ctx, tenantID); err != nil {
		return customize.PIIVerdict{}, err
	} else if p != nil && p.SensitiveInformationPolicyConfig != nil {
		policy = &guardrail.Policy{Name: p.Name + "-pii", SensitiveInformationPolicyConfig: p.SensitiveInformationPolicyConfig}
	}
	v, err := g.svc.CheckWith(ctx, policy, guardrail.SourceInput, texts)
	if err != nil {
		return customize.PIIVerdict{}, err
	}
	return customize.PIIVerdict{Blocked: v.Blocked, Texts: v.Texts, Changed: v.Changed, Findings: v.Findings}, nil
}

// accessCheck applies the tenant's model-access policy to a base model.
func accessCheck(tenants *tenant.Service) customize.AccessCheck {
	return func(ctx context.Context, tenantID string, m *registry.Model) error {
		t, err := tenants.CachedTenant(ctx, tenantID)
		if err != nil {
			return err
		}
		if !m.VisibleTo(tenantID) {
			return registry.ErrNotFound
		}
		p := auth.Principal{TenantID: tenantID, Scopes: []auth.Scope{auth.ScopeInference}}
		return tenant.CanInvoke(p, t, auth.ScopeInference, tenant.ModelRef{Name: m.ID, Owned: m.Tenant == tenantID})
	}
}

// reviewedExamples reads a human-review ground-truth dataset (its chat form) as
// training examples.
func reviewedExamples(p *Platform) customize.ReviewSource {
	return func(ctx context.Context, tenantID, dataset string) ([]customize.Example, error) {
		h, err := HumanEval(p)
		if err != nil {
			return nil, err
		}
		rc, _, err := h.DatasetContent(ctx, tenantID, dataset, 0, humaneval.FormatChat)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		var out []customize.Example
		sc := bufio.NewScanner(rc)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			var line struct {
				Messages []customize.Message `json:"messages"`
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil || len(line.Messages) < 2 {
				continue
			}
			last := line.Messages[len(line.Messages)-1]
			var prompt []string
			for _, m := range line.Messages[:len(line.Messages)-1] {
				prompt = append(prompt, m.Content)
			}
			out = append(out, customize.Example{Prompt: strings.Join(prompt, "\n\n"), Completion: last.Content})
		}
		return out, sc.Err()
	}
}

// kbPassages returns passages of a knowledge base for synthesis: each indexed
// document's text, extracted and cut into recursive chunks of about 200 tokens, taken
// in turn from every document until limit.
func kbPassages(p *Platform) customize.PassageSource {
	return func(ctx context.Context, tenantID, kb string, limit int) ([]customize.Passage, error) {
		svc, err := RAG(p)
		if err != nil {
			return nil, err
		}
		blobs := p.b.Data.Blobs.Documents
		docs, err := svc.ListDocuments(ctx, tenantID, kb)
		if err != nil {
			return nil, err
		}
		var perDoc [][]customize.Passage
		for _, d := range docs {
			if d.Status != "indexed" {
				continue
			}
			key, err := eval.BlobKeyOf(d.SourceURI)
			if err != nil {
				return nil, err
			}
			rc, obj, err := blobs.Get(ctx, key)
			if err != nil {
				return nil, fmt.Errorf("read document %s: %w", d.ID, err)
			}
			data, err := io.ReadAll(io.LimitReader(rc, 64<<20))
			rc.Close()
			if err != nil {
				return nil, fmt.Errorf("read document %s: %w", d.ID, err)
			}
			secs, err := extract.Extract(d.Name, obj.ContentType, data)
			if err != nil {
				continue
			}
			chunks, err := chunk.Split(secs, chunk.Config{Strategy: chunk.Recursive, MaxTokens: 200})
			if err != nil {
				return nil, err
			}
			var ps []customize.Passage
			for i, c := range chunks {
				if strings.TrimSpace(c.Text) != "" {
					ps = append(ps, customize.Passage{ID: fmt.Sprintf("%s#%d", d.ID, i), Document: d.ID, Text: c.Text})
				}
			}
			perDoc = append(perDoc, ps)
		}
		var out []customize.Passage
		for i := 0; len(out) < limit; i++ {
			added := false
			for _, ps := range perDoc {
				if i < len(ps) && len(out) < limit {
					out = append(out, ps[i])
					added = true
				}
			}
			if !added {
				break
			}
		}
		return out, nil
	}
}

// tunedModels loads local-tune models (the base and those fine-tuned from it) for the
// router and the local trainer, from the customisation bucket.
func tunedModels(p *Platform) (*localjob.Library, error) {
	return part(p, partTunedModels, func() (*localjob.Library, error) {
		return localjob.NewLibrary(p.b.Data.Blobs.Customization, artifactResolver(p.Registry), 8), nil
	})
}

// Customize is fine-tuning: datasets and jobs on the customisation bucket, evaluation
// before approval on the evaluation service, and the registry's reviews resuming the
// flow. Where the flows run in this process (the embedded executor), local-tune trains
// here too and the flow can be stopped and resumed by approvals; on Step Functions the
// flow runs as the customisation state machine, Bedrock base models train through its
// .sync integration (with BedrockCustomization) and local-tune is not offered: a Lambda
// function does not live as long as a training job. OpenAI-compatible providers work on
// both. It needs the customisation bucket.
func Customize(p *Platform) (*customize.Service, error) {
	return part(p, partCustomize, func() (*customize.Service, error) {
		buckets := p.b.Data.Blobs
		blobs := buckets.Customization
		if blobs == nil {
			return nil, fmt.Errorf("fine-tuning needs the customisation bucket: %w", ErrMissingConfig)
		}
		gw, err := Gateway(p)
		if err != nil {
			return nil, err
		}
		guards, err := Guardrails(p)
		if err != nil {
			return nil, err
		}
		ev, err := Eval(p)
		if err != nil {
			return nil, err
		}
		st := p.b.Data.Store
		suites := evalsuite.New(ev, buckets.Eval)
		opts := []customize.Option{
			customize.WithCustomizer("openai", openaijob.New(p.b.Upstream, blobs)),
			customize.WithSuiteStore(suites), customize.WithEvalBlobs(buckets.Eval), customize.WithPIIScanner(guardPII{guards}),
			customize.WithAccessCheck(accessCheck(p.Tenants)),
			customize.WithSecrets(func(ctx context.Context, d registry.Deployment) (string, error) {
				return p.b.Secrets(ctx, routing.KeyOf(d))
			}),
			customize.WithClock(p.now), customize.WithLogger(p.log),
			customize.WithFeedbackSource(suites.Feedback), customize.WithSuiteSource(suites.SuiteItems),
			customize.WithSynthesis(kbPassages(p), synthesisChat(gw)),
			customize.WithReviewSource(reviewedExamples(p)),
			customize.WithJobObserver(auditJobStatus(p)),
		}
		if keys := customizationKeys(p); keys != nil {
			opts = append(opts, customize.WithKeyResolver(keys))
		}
		if bc := p.b.BedrockCustomization; bc != nil && buckets.CustomizationName != "" {
			settings := customize.BedrockSettings{RoleARN: bc.RoleARN, Bucket: buckets.CustomizationName}
			opts = append(opts, customize.WithBedrock(settings), customize.WithCustomizer(registry.ProviderBedrock, bc.Jobs(settings, blobs)))
			if cells := p.b.Cells; cells != nil {
				opts = append(opts, customize.WithBedrockTenants(bedrockTenants(cells, buckets.CustomizationName)))
			}
		}
		switch f := p.b.Flows.(type) {
		case inprocess.Flows:
			lib, err := tunedModels(p)
			if err != nil {
				return nil, err
			}
			runner := localjob.New(st, blobs, lib, localjob.WithLogger(p.log))
			p.onClose(runner.Close)
			opts = append(opts, customize.WithCustomizer(registry.ProviderLocal, runner),
				customize.WithWorkflow(executorWorkflow{f.Exec}), customize.WithTaskCompleter(f.Exec), customize.WithPollSeconds(1))
		case namedFlows:
			if f.Has(statemachines.Customization) {
				opts = append(opts, customize.WithWorkflow(namedWorkflow{f}))
			}
			opts = append(opts, customize.WithTaskCompleter(f))
		}
		svc, err := customize.NewService(st, blobs, p.Registry, opts...)
		if err != nil {
			return nil, fmt.Errorf("customisation service: %w", err)
		}
		p.Registry.ObserveReviews(svc.ObserveReview)
		return svc, nil
	})
}

// customizationKeys resolves the KMS key of a tenant's fine-tuning data and custom models:
// its cell's (a silo tenant's own), else the pool's; nil when no cell names one.
func customizationKeys(p *Platform) customize.KeyResolver {
	pool := p.b.Data.Blobs.CustomizationKey
	cells := p.b.Cells
	if pool == "" && cells == nil {
		return nil
	}
	return func(ctx context.Context, tenantID string) (string, error) {
		if cells != nil {
			c, err := cells.cell(ctx, tenantID)
			if err != nil {
				return "", err
			}
			if c != nil {
				return c.Blobs.CustomizationKey, nil
			}
		}
		return pool, nil
	}
}

// bedrockTenants refuses Bedrock fine-tuning to a tenant whose fine-tuning data is in a
// bucket other than the pool's (a silo tenant's own): Bedrock's jobs read and write the
// one bucket the job role and the flow are set up for, so such a job would train on
// nothing or put the tenant's output outside its own bucket.
func bedrockTenants(cells *TenantCells, poolBucket string) func(context.Context, string) error {
	return func(ctx context.Context, tenantID string) error {
		c, err := cells.cell(ctx, tenantID)
		if err != nil {
			return err
		}
		if c != nil && c.Blobs.CustomizationName != poolBucket {
			return errors.New("its fine-tuning data is in its own bucket, which Bedrock model customisation jobs are not yet " +
				"given; fine-tune an OpenAI-compatible base model instead")
		}
		return nil
	}
}

// namedFlows are flows that start executions by name, stop them and complete their
// waiting tasks (Step Functions).
type namedFlows interface {
	StartNamed(ctx context.Context, machine, name string, input json.RawMessage) (string, error)
	Stop(ctx context.Context, executionID, errName, cause string) error
	SendTaskSuccess(ctx context.Context, token string, output json.RawMessage) error
	SendTaskFailure(ctx context.Context, token, errName, cause string) error
	Has(machine string) bool
}

// namedWorkflow runs the customisation flow on named flows: each job's execution is
// named after the job, so a retried start cannot run a second flow for it.
type namedWorkflow struct{ f namedFlows }

func (w namedWorkflow) Start(ctx context.Context, name string, input json.RawMessage) (string, error) {
	return w.f.StartNamed(ctx, statemachines.Customization, name, input)
}

func (w namedWorkflow) Stop(ctx context.Context, id, errName, cause string) error {
	return w.f.Stop(ctx, id, errName, cause)
}

var _ customize.Workflow = namedWorkflow{}

// CustomizeTasks returns the customisation flow's tasks keyed by placeholder name, and
// the Bedrock job backstop (customize.TaskBedrockJobStateEvent), which EventBridge
// invokes with Bedrock's "Model Customization Job State Change" events.
func CustomizeTasks(p *Platform) (map[string]TaskFunc, error) {
	svc, err := Customize(p)
	if err != nil {
		return nil, err
	}
	tasks := svc.Tasks()
	tasks[customize.TaskBedrockJobStateEvent] = svc.BedrockEventTask()
	return tasks, nil
}

// runCustomization registers the customisation state machine on the embedded executor:
// its tasks, the nested evaluation executions (startExecution.sync:2) and Bedrock's .sync
// integration run in process.
func runCustomization(p *Platform, exec *flow.Executor) error {
	svc, err := Customize(p)
	if err != nil {
		return err
	}
	exec.Bind(flow.ResourceStartExecutionSync, exec.StartExecutionSync())
	exec.Bind(customize.ResourceBedrockSync, flow.TaskFunc(svc.BedrockSyncTask()))
	return registerMachineWith(exec, statemachines.Customization, svc.Tasks(), map[string]string{
		customize.PlaceholderEvaluationMachine: LocalStateMachineARN(statemachines.Evaluation),
	})
}

// FineTuningAPI serves OpenAI's files and fine-tuning endpoints (/v1/files,
// /v1/fine_tuning/jobs, …), dataset builders, and the admin routes for jobs and alias
// promotion and rollback. Approval is the registry's review route.
func FineTuningAPI(p *Platform, m *Muxes) error {
	svc, err := Customize(p)
	if err != nil {
		return err
	}
	customize.Routes(m.V1, svc)
	customize.AdminRoutes(m.Admin, svc)
	return nil
}
