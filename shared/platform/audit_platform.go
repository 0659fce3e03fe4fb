package platform

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/plinth-ai/plinth/shared/agent"
	"github.com/plinth-ai/plinth/shared/audit"
	"github.com/plinth-ai/plinth/shared/customize"
	"github.com/plinth-ai/plinth/shared/eval"
	"github.com/plinth-ai/plinth/shared/flow"
	"github.com/plinth-ai/plinth/shared/httpapi"
	"github.com/plinth-ai/plinth/shared/rag"
)

// What the platform does on its own is audited too, with the platform as the actor
// (actor "platform", actor_type "platform", the acting component in details): flows it
// starts and (on the embedded executor) their ends, evaluation runs its schedules start
// and every run's end, the ingestion of uploaded documents, fine-tuning jobs' status
// changes and agent runs parked for approval. Events hold identifiers only, never
// inputs, documents or prompts. The actions:
const (
	// ActionFlowStart: the platform started a state machine (details: machine,
	// trigger); the resource is the execution's ID.
	ActionFlowStart = "flow.start"
	// ActionFlowEnd: an execution on the embedded executor ended (details: machine,
	// status; error code: the execution's error name).
	ActionFlowEnd = "flow.end"
	// ActionIngested: a document was indexed; ActionIngestFailed: it ended failed (its
	// dead-letter record); ActionIngestRejected: the flow could not take the upload;
	// ActionDeindexed: a deleted document left the index.
	ActionIngested       = "ingestion.indexed"
	ActionIngestFailed   = "ingestion.failed"
	ActionIngestRejected = "ingestion.rejected"
	ActionDeindexed      = "ingestion.deindexed"
	// ActionScheduledRun: a schedule started an evaluation run; ActionRunFinished: an
	// evaluation run ended (details: status, suite, regressed).
	ActionScheduledRun = "evaluation.scheduled_run"
	ActionRunFinished  = "evaluation.run_finished"
	// ActionJobStatus: a fine-tuning job's status changed (details: from, to).
	ActionJobStatus = "fine_tuning.job_status"
	// ActionApprovalRequested: an agent run parked for reviewers' decisions (or went on
	// at once, its decisions already in); the decisions are decideAgentRunCall events.
	ActionApprovalRequested = "agent.approval_requested"
)

// recordPlatform appends an event the platform itself is the actor of; the request ID
// joins it to the request that set it off, when there was one.
func (p *Platform) recordPlatform(ctx context.Context, component string, e audit.Event) {
	e.Actor, e.ActorType = audit.ActorPlatform, audit.ActorPlatform
	if e.RequestID == "" {
		e.RequestID = httpapi.RequestID(ctx)
	}
	if e.Outcome == "" {
		e.Outcome = audit.OutcomeSuccess
	}
	if e.Details == nil {
		e.Details = map[string]string{}
	}
	e.Details["component"] = component
	if e.Time.IsZero() {
		e.Time = p.now()
	}
	p.Audit.Record(ctx, e)
}

// flowInput is what an execution input says about whom it is for: a "tenant" field, or
// (ingestion) the tenant the uploaded object's key is under.
type flowInput struct {
	Tenant  string `json:"tenant"`
	Trigger string `json:"trigger"`
	RunID   string `json:"run_id"`
	Detail  struct {
		Object struct {
			Key string `json:"key"`
		} `json:"object"`
	} `json:"detail"`
}

func readFlowInput(raw []byte) flowInput {
	var in flowInput
	_ = json.Unmarshal(raw, &in)
	if in.Tenant == "" && in.Detail.Object.Key != "" {
		in.Tenant, _, _, _ = rag.ParseKey(in.Detail.Object.Key)
	}
	return in
}

// startFlow starts machine on the Flows backend and records it.
func (p *Platform) startFlow(ctx context.Context, machine string, input json.RawMessage) (string, error) {
	id, err := p.b.Flows.Start(ctx, machine, input)
	in := readFlowInput(input)
	e := audit.Event{Action: ActionFlowStart, Tenant: in.Tenant, Resource: "executions/" + id,
		Details: map[string]string{"machine": machine}}
	if in.Trigger != "" {
		e.Details["trigger"] = in.Trigger
	}
	if err != nil {
		e.Resource, e.Outcome, e.ErrorCode = "state-machines/"+machine, audit.OutcomeFailed, "flow_unavailable"
	}
	p.recordPlatform(ctx, "flows", e)
	return id, err
}

// auditFlowEnds records the end of every execution on the embedded executor.
func auditFlowEnds(p *Platform, exec *flow.Executor) {
	exec.OnFinish(func(ex flow.Execution) {
		in := readFlowInput(ex.Input)
		e := audit.Event{Action: ActionFlowEnd, Tenant: in.Tenant, Resource: "executions/" + ex.ID,
			Details: map[string]string{"machine": ex.Machine, "status": ex.Status}}
		if ex.StopTime != nil {
			e.Time = *ex.StopTime
		}
		switch ex.Status {
		case flow.StatusSucceeded:
		case flow.StatusAborted:
			e.Outcome = audit.OutcomeRejected
		default:
			e.Outcome = audit.OutcomeFailed
		}
		e.ErrorCode = truncateCode(ex.Error)
		p.recordPlatform(context.Background(), "flows", e)
	})
}

// truncateCode keeps an error name short: names, never causes (which may quote data).
func truncateCode(s string) string {
	if len(s) > 128 {
		return s[:128]
	}
	return s
}

// auditedTask records what taskEvent makes of a task's run, after it ran.
func (p *Platform) auditedTask(component string, fn TaskFunc, ev func(ctx context.Context, in, out json.RawMessage, err error) (audit.Event, bool)) TaskFunc {
	return func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		out, err := fn(ctx, in)
		if e, ok := ev(ctx, in, out, err); ok {
			p.recordPlatform(ctx, component, e)
		}
		return out, err
	}
}

// auditIngestTasks records each document's ingestion outcome: the tasks that end the
// ingestion flow, in both runtimes (the ingest function's tasks are these).
func auditIngestTasks(p *Platform, tasks map[string]TaskFunc) map[string]TaskFunc {
	job := func(raw json.RawMessage) rag.Job {
		var j rag.Job
		_ = json.Unmarshal(raw, &j)
		return j
	}
	docEvent := func(action string, j rag.Job) audit.Event {
		return audit.Event{Action: action, Tenant: j.Tenant,
			Resource: "knowledge-bases/" + j.KB + "/documents/" + j.DocumentID,
			Details:  map[string]string{"chunks": strconv.Itoa(j.Chunks), "unchanged": strconv.FormatBool(j.Unchanged)}}
	}
	wrap := func(name, action string) {
		fn, ok := tasks[name]
		if !ok {
			return
		}
		tasks[name] = p.auditedTask("ingestion", fn, func(_ context.Context, in, out json.RawMessage, err error) (audit.Event, bool) {
			if err != nil {
				return audit.Event{}, false // retried by the flow; its end is the event
			}
			j := job(out)
			if j.DocumentID == "" {
				j = job(in)
			}
			if j.DocumentID == "" {
				return audit.Event{}, false // nothing identifies a document (FailDocument says so)
			}
			e := docEvent(action, j)
			if action == ActionIngestFailed {
				e.Outcome = audit.OutcomeFailed
				if f := job(in).Error; f != nil {
					e.ErrorCode = truncateCode(f.Error)
				}
			}
			if action == ActionDeindexed {
				e.Details = nil
			}
			return e, true
		})
	}
	wrap(rag.TaskMarkDocument, ActionIngested)
	wrap(rag.TaskFailDocument, ActionIngestFailed)
	wrap(rag.TaskDeleteDocument, ActionDeindexed)
	if fn, ok := tasks[rag.TaskPrepare]; ok {
		tasks[rag.TaskPrepare] = p.auditedTask("ingestion", fn, func(_ context.Context, in, _ json.RawMessage, err error) (audit.Event, bool) {
			var te *flow.TaskError
			if err == nil || !errors.As(err, &te) || te.Type != rag.ErrorDocument {
				return audit.Event{}, false // succeeded, or transient: retried
			}
			var ev rag.ObjectEvent
			_ = json.Unmarshal(in, &ev)
			tenant, kb, _, _ := rag.ParseKey(ev.Detail.Object.Key)
			e := audit.Event{Action: ActionIngestRejected, Tenant: tenant, Outcome: audit.OutcomeRejected, ErrorCode: te.Type}
			if kb != "" {
				e.Resource = "knowledge-bases/" + kb
			}
			return e, true
		})
	}
	return tasks
}

// auditEvalTasks records the runs schedules start and the end of every run.
func auditEvalTasks(p *Platform, svc *eval.Service, tasks map[string]TaskFunc) map[string]TaskFunc {
	if fn, ok := tasks[eval.TaskLoadDataset]; ok {
		tasks[eval.TaskLoadDataset] = p.auditedTask("scheduler", fn, func(_ context.Context, in, out json.RawMessage, err error) (audit.Event, bool) {
			fi := readFlowInput(in)
			if fi.Trigger != "schedule" || fi.RunID != "" || err != nil {
				return audit.Event{}, false // runs started through the API are startEvalRun events
			}
			var l eval.Loaded
			_ = json.Unmarshal(out, &l)
			return audit.Event{Action: ActionScheduledRun, Tenant: l.Tenant, Resource: "eval-runs/" + l.RunID,
				Details: map[string]string{"suite": l.SuiteID, "items": strconv.Itoa(l.ItemCount)}}, true
		})
	}
	if fn, ok := tasks[eval.TaskPublishEvent]; ok {
		tasks[eval.TaskPublishEvent] = p.auditedTask("evaluation", fn, func(ctx context.Context, _, out json.RawMessage, err error) (audit.Event, bool) {
			if err != nil {
				return audit.Event{}, false
			}
			var pub eval.Published
			_ = json.Unmarshal(out, &pub)
			e := audit.Event{Action: ActionRunFinished, Resource: "eval-runs/" + pub.RunID,
				Details: map[string]string{"status": pub.Status, "regressed": strconv.FormatBool(pub.Regressed)}}
			if r, err := svc.GetRun(ctx, pub.RunID); err == nil {
				e.Tenant, e.Details["suite"] = r.Tenant, r.SuiteID
			}
			if pub.Status != eval.StatusSucceeded {
				e.Outcome = audit.OutcomeFailed
			}
			return e, true
		})
	}
	return tasks
}

// auditAgentTasks records agent runs parking for approval.
func auditAgentTasks(p *Platform, tasks map[string]TaskFunc) map[string]TaskFunc {
	const name = "AgentRequestApprovalFunctionArn"
	if fn, ok := tasks[name]; ok {
		tasks[name] = p.auditedTask("agents", fn, func(_ context.Context, in, _ json.RawMessage, err error) (audit.Event, bool) {
			if err != nil {
				return audit.Event{}, false
			}
			var ti agent.TaskInput
			_ = json.Unmarshal(in, &ti)
			return audit.Event{Action: ActionApprovalRequested, Tenant: ti.Tenant, Resource: "agent-runs/" + ti.RunID}, true
		})
	}
	return tasks
}

// auditJobStatus records fine-tuning jobs' status changes.
func auditJobStatus(p *Platform) customize.JobObserver {
	return func(ctx context.Context, j customize.Job, from string) {
		e := audit.Event{Action: ActionJobStatus, Tenant: j.Tenant(), Resource: "fine_tuning/jobs/" + j.ID,
			Details: map[string]string{"from": from, "to": j.Status}}
		switch j.Status {
		case customize.StatusFailed:
			e.Outcome = audit.OutcomeFailed
			if j.Error != nil {
				e.ErrorCode = truncateCode(j.Error.Code)
			}
		case customize.StatusCancelled:
			e.Outcome = audit.OutcomeRejected
		}
		p.recordPlatform(ctx, "fine-tuning", e)
	}
}
