package main

import (
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// Platform is the whole deployment: four stacks in dependency order.
type Platform struct {
	Data *DataStack
	// Network is the private network (privateNetwork context only).
	Network       *NetworkStack
	Workflows     *WorkflowsStack
	API           *APIStack
	Observability *ObservabilityStack
}

// NewPlatform adds Plinth's stacks to an app. env may be nil for
// environment-agnostic stacks.
func NewPlatform(app awscdk.App, cfg Config, env *awscdk.Environment) (*Platform, error) {
	props := func(description string) awscdk.StackProps {
		return awscdk.StackProps{Env: env, Description: jsii.String(description)}
	}
	app.Node().SetContext(jsii.String("@aws-cdk/core:defaultCrossStackReferences"), "strong")
	// Merge statements with equal actions or resources so roles stay readable
	// and under IAM's policy size limit.
	app.Node().SetContext(jsii.String("@aws-cdk/aws-iam:minimizePolicies"), true)
	p := &Platform{}
	p.Data = NewDataStack(app, "PlinthData", &DataStackProps{StackProps: props("Plinth data: key, table, buckets, secret"),
		Vectors: cfg.VectorBackend == VectorBackendS3Vectors, GuardrailEmbeddingModel: cfg.GuardrailEmbeddingModel,
		Tenants: cfg.Tenants})
	if cfg.PrivateNetwork {
		p.Network = NewNetworkStack(app, "PlinthNetwork", &NetworkStackProps{
			StackProps: props("Plinth private network: VPC, private subnets, VPC endpoints"),
			Data:       p.Data,
			Egress:     cfg.PrivateEgress,
		})
	}
	flows, err := NewWorkflowsStack(app, "PlinthWorkflows", &WorkflowsStackProps{
		StackProps:              props("Plinth workflows: ingestion, evaluation, agent and customisation state machines, triggers, schedules"),
		Data:                    p.Data,
		Network:                 p.Network,
		AssetDir:                cfg.AssetDir,
		IngestionDefinition:     filepath.Join(cfg.StateMachinesDir, "ingestion.asl.json"),
		EvaluationDefinition:    filepath.Join(cfg.StateMachinesDir, "evaluation.asl.json"),
		AgentDefinition:         filepath.Join(cfg.StateMachinesDir, "agent.asl.json"),
		CustomizationDefinition: filepath.Join(cfg.StateMachinesDir, "customization.asl.json"),
	})
	if err != nil {
		return nil, err
	}
	p.Workflows = flows
	p.API = NewAPIStack(app, "PlinthApi", &APIStackProps{
		StackProps: props("Plinth API: REST API, WAF, authorizer and functions"),
		Data:       p.Data,
		Network:    p.Network,
		Workflows:  p.Workflows,
		Config:     cfg,
	})
	p.Observability = NewObservabilityStack(app, "PlinthObservability", &ObservabilityStackProps{
		StackProps:    props("Plinth observability: dashboard, alarms, notifications"),
		Data:          p.Data,
		Workflows:     p.Workflows,
		API:           p.API,
		AlarmEmail:    cfg.AlarmEmail,
		HybridTenants: cfg.HybridTenants(),
	})
	if cfg.Nag {
		applyNag(app)
	}
	return p, nil
}
