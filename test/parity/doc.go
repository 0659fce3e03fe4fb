// Package parity proves the two runtimes do the same thing: one end-to-end contract
// suite runs against the local platform (functions/local's handler) and against the AWS
// Lambda handlers, driven in process by API Gateway proxy events over emulated backends
// (DynamoDB on minidyn, S3 on gofakes3, Bedrock on the fake Bedrock Runtime), with API
// Gateway's routing and key authorizer as the stack deploys them (the route table of
// shared/platform/apiroutes, which the CDK app builds the API from), S3 "Object
// Created"/"Object Deleted" events starting ingestion and Step Functions executions
// running the state machines' definitions with the ingest and evaluation functions'
// task handlers.
//
// TestScenario walks a tenant through the platform on both runtimes with the same
// checks; TestEveryRouteOnBothRuntimes probes every operation of the OpenAPI document on
// both and requires the same answer, except where awsDifferences names the route and
// why.
package parity
