package main

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// A decentralised deployment in the line of business's account, pulling from the centre
// (centralAccount, centralAPIID in eu-west-1), and the lines of business a centre admits.
const (
	lobAccount   = "222222222222"
	lobRoleARN   = "arn:aws:iam::333333333333:role/plinth-lob-admin"
	centreAPIURL = "https://" + centralAPIID + ".execute-api." + centralRegion + ".amazonaws.com/prod/"
)

// hubPlatform synthesizes, once and with cdk-nag, a platform that is both: a line of
// business pulling from its centre every 10 minutes, and a centre for two lines of
// business of its own (a whole account and one role of another), as a regional hub is.
func hubPlatform(t *testing.T) *synthesized {
	t.Helper()
	return variant(t, "decentral", map[string]any{"centralUrl": centreAPIURL, "centralAccount": centralAccount,
		"centralApiId": centralAPIID, "centralSyncInterval": "10m", "decentralisedPrincipals": lobAccount + "," + lobRoleARN})
}

// TestDecentralisedAdminFunctionPulls: the line of business's side. The admin function
// gets the central settings, may invoke exactly the centre's two exports, and is invoked
// by a schedule rule every 10 minutes with the event it recognises.
func TestDecentralisedAdminFunctionPulls(t *testing.T) {
	s := hubPlatform(t)
	api := s.platform.API
	raw := s.raw["api"]
	admin := api.Functions["admin"]
	fnID := logicalID(api.Stack, admin.Function.FunctionArn())
	env := jsonText(props(raw["Resources"].(map[string]any)[fnID].(map[string]any))["Environment"])
	for k, v := range map[string]string{"PLINTH_CENTRAL_URL": centreAPIURL, "PLINTH_CENTRAL_AUTH": "sigv4",
		"PLINTH_CENTRAL_REGION": centralRegion, "PLINTH_CENTRAL_SYNC_INTERVAL": "10m"} {
		if !strings.Contains(env, `"`+k+`":"`+v+`"`) {
			t.Errorf("admin environment lacks %s=%s: %s", k, v, env)
		}
	}
	if strings.Contains(env, "PLINTH_CENTRAL_KEY") {
		t.Errorf("admin environment carries a key: %s", env)
	}

	roleID := logicalID(api.Stack, admin.Role.RoleArn())
	var invoke []string
	for _, st := range policyOfRole(raw, roleID) {
		if !hasAction(st, "execute-api:Invoke") {
			continue
		}
		for _, r := range list(st["Resource"]) {
			invoke = append(invoke, jsonText(r))
		}
	}
	want := []string{"/prod/GET/admin/sync/registry", "/prod/GET/admin/sync/baseline"}
	if len(invoke) != len(want) {
		t.Fatalf("admin role may invoke %v, want exactly the centre's two exports", invoke)
	}
	for _, w := range want {
		n := 0
		for _, r := range invoke {
			if strings.HasSuffix(r, ":execute-api:"+centralRegion+":"+centralAccount+":"+centralAPIID+w+`"]]}`) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("admin role's execute-api resources %v, want %s once", invoke, w)
		}
	}

	var rules int
	for _, r := range resources(raw, "AWS::Events::Rule") {
		p := props(r)
		if p["ScheduleExpression"] != "rate(10 minutes)" {
			continue
		}
		rules++
		for _, target := range list(p["Targets"]) {
			tg := target.(map[string]any)
			if getAttTarget(tg["Arn"]) != fnID || tg["Input"] != `{"plinth":"central-sync"}` {
				t.Errorf("schedule target %s, want the admin function with {\"plinth\":\"central-sync\"}", jsonText(tg))
			}
		}
	}
	if rules != 1 {
		t.Errorf("%d schedule rules at rate(10 minutes), want 1", rules)
	}
	has(t, "events may invoke the admin function", func() {
		s.templates["api"].HasResourceProperties(jsii.String("AWS::Lambda::Permission"), map[string]any{
			"Action": "lambda:InvokeFunction", "Principal": "events.amazonaws.com",
			"FunctionName": map[string]any{"Fn::GetAtt": []any{fnID, "Arn"}},
		})
	})
	// Failed pulls raise an alarm to the alarm topic.
	var alarmed bool
	for _, a := range resources(s.raw["observability"], "AWS::CloudWatch::Alarm") {
		p := props(a)
		if p["MetricName"] == "CentralSyncFailures" {
			alarmed = p["Namespace"] == "Plinth" && p["Statistic"] == "Maximum" && p["Period"] == float64(600) &&
				strings.Contains(jsonText(p["Dimensions"]), `"Name":"Operation","Value":"central-sync"`) && len(list(p["AlarmActions"])) == 1
			if !alarmed {
				t.Errorf("sync alarm %s", jsonText(p))
			}
		}
	}
	if !alarmed {
		t.Errorf("no alarm on CentralSyncFailures")
	}
	// The plain platform neither pulls nor may call another API.
	plain := platform(t)
	if env := jsonText(plain.raw["api"]); strings.Contains(env, "PLINTH_CENTRAL_URL") || strings.Contains(env, "admin/sync") ||
		strings.Contains(jsonText(plain.raw["observability"]), "CentralSyncFailures") {
		t.Errorf("a platform without centralUrl is decentralised")
	}
}

// TestCentreAdmitsDecentralisedPlinths: the centre's side. The key API's resource policy
// admits the lines of business for GET /admin/sync/* only (a whole account, and a
// single role of another), and keeps the tenant and public routes open to everyone and
// no other part of /admin to anyone by the resource policy.
func TestCentreAdmitsDecentralisedPlinths(t *testing.T) {
	s := hubPlatform(t)
	api := s.platform.API
	keyAPI := props(resources(s.raw["api"], "AWS::ApiGateway::RestApi")[logicalID(api.Stack, api.API.RestApiId())])
	policy, ok := keyAPI["Policy"].(map[string]any)
	if !ok {
		t.Fatalf("the key API has no resource policy: %v", keyAPI["Policy"])
	}
	var sync, open int
	for _, st := range list(policy["Statement"]) {
		st := st.(map[string]any)
		res := jsonText(st["Resource"])
		if st["Effect"] != "Allow" || !hasAction(st, "execute-api:Invoke") {
			t.Errorf("statement %s", jsonText(st))
		}
		switch principal := jsonText(st["Principal"]); {
		case principal == `{"AWS":"*"}` || principal == `"*"`:
			open++
			if strings.Contains(res, "admin") || !containsAll(res, "/prod/*/v1/*", "/prod/*/healthz", "/prod/*/mcp", "/prod/*/console/*") {
				t.Errorf("open statement %s: want the tenant and public routes and nothing of /admin", res)
			}
		case strings.Contains(principal, ":iam::"+lobAccount+":root"):
			sync++
			if res != `"execute-api:/prod/GET/admin/sync/*"` || st["Condition"] != nil {
				t.Errorf("account %s: %s (condition %v), want GET /admin/sync/* for the whole account", lobAccount, res, st["Condition"])
			}
		case strings.Contains(principal, ":iam::333333333333:root"):
			sync++
			if res != `"execute-api:/prod/GET/admin/sync/*"` || !containsAll(jsonText(st["Condition"]), "ArnEquals", "aws:PrincipalArn", lobRoleARN) {
				t.Errorf("role %s: %s %v, want GET /admin/sync/* for that role only", lobRoleARN, res, st["Condition"])
			}
		default:
			t.Errorf("unexpected principal %s", principal)
		}
	}
	if sync != 2 || open != 1 {
		t.Errorf("%d sync statements and %d open ones, want 2 and 1: %s", sync, open, jsonText(policy))
	}
	// API Gateway applies a changed resource policy with the next deployment of the stage:
	// admitting lines of business must make a new one.
	deployments := func(raw map[string]any, restAPI string) []string {
		var ids []string
		for id, d := range resources(raw, "AWS::ApiGateway::Deployment") {
			if getAttTarget(props(d)["RestApiId"]) == restAPI {
				ids = append(ids, id)
			}
		}
		return ids
	}
	plain := platform(t)
	hubDeploy := deployments(s.raw["api"], logicalID(api.Stack, api.API.RestApiId()))
	plainDeploy := deployments(plain.raw["api"], logicalID(plain.platform.API.Stack, plain.platform.API.API.RestApiId()))
	if len(hubDeploy) != 1 || len(plainDeploy) != 1 || hubDeploy[0] == plainDeploy[0] {
		t.Errorf("key API deployments %v (centre) and %v (plain): the policy change must give a new deployment", hubDeploy, plainDeploy)
	}
	// The IAM API is not opened to them.
	iamAPI := props(resources(s.raw["api"], "AWS::ApiGateway::RestApi")[logicalID(api.Stack, api.IAMAPI.RestApiId())])
	if strings.Contains(jsonText(iamAPI["Policy"]), lobAccount) {
		t.Errorf("the IAM API admits a decentralised line of business: %s", jsonText(iamAPI["Policy"]))
	}
}

func TestDecentralisedPassesNag(t *testing.T) {
	s := hubPlatform(t)
	for name, stack := range s.platform.stacks() {
		ann := assertions.Annotations_FromStack(stack)
		for _, e := range *ann.FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))) {
			//lint:ignore SA1019 the assertions API still returns this type in CDK 2.275
			t.Errorf("%s: unsuppressed cdk-nag error at %s: %v", name, *e.Id, e.Entry.Data)
		}
		for _, w := range *ann.FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))) {
			//lint:ignore SA1019 the assertions API still returns this type in CDK 2.275
			t.Errorf("%s: unsuppressed cdk-nag warning at %s: %v", name, *w.Id, w.Entry.Data)
		}
	}
}

// TestDecentralisedContext: the settings are checked before anything is synthesized.
func TestDecentralisedContext(t *testing.T) {
	good := map[string]any{"centralUrl": centreAPIURL, "centralAccount": centralAccount, "centralApiId": centralAPIID}
	with := func(extra map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range good {
			out[k] = v
		}
		for k, v := range extra {
			if v == nil {
				delete(out, k)
			} else {
				out[k] = v
			}
		}
		return out
	}
	app := awscdk.NewApp(&awscdk.AppProps{Context: &good})
	cfg, err := ConfigFromContext(app)
	if err != nil || cfg.Central == nil || cfg.Central.Region != centralRegion || cfg.Central.Stage != "prod" || cfg.Central.SyncMinutes != 5 {
		t.Fatalf("centre from its ApiURL: %+v %v", cfg.Central, err)
	}
	custom := with(map[string]any{"centralUrl": "https://plinth.example.com", "centralRegion": "eu-central-1", "centralStage": "v2"})
	app = awscdk.NewApp(&awscdk.AppProps{Context: &custom})
	if cfg, err := ConfigFromContext(app); err != nil || cfg.Central.Region != "eu-central-1" || cfg.Central.Stage != "v2" {
		t.Errorf("centre on a custom domain: %+v %v", cfg.Central, err)
	}
	for _, c := range []struct {
		name string
		ctx  map[string]any
		want string
	}{
		{"no account", with(map[string]any{"centralAccount": nil}), "centralAccount"},
		{"no api id", with(map[string]any{"centralApiId": "nope"}), "centralApiId"},
		{"another API's URL", with(map[string]any{"centralApiId": "z9y8x7w6v5"}), "must name the same API"},
		{"plain http", with(map[string]any{"centralUrl": "http://plinth.example.com", "centralRegion": "eu-west-1"}), "https"},
		{"custom domain without a region", with(map[string]any{"centralUrl": "https://plinth.example.com"}), "centralRegion"},
		{"seconds", with(map[string]any{"centralSyncInterval": "90s"}), "whole minutes"},
		{"private network", with(map[string]any{"privateNetwork": "true"}), "privateNetwork"},
		{"and a tenant stack", with(map[string]any{"tenantStack": "initech", "centralSinkArn": centralSinkARN}), "tenantStack"},
		{"interval alone", map[string]any{"centralSyncInterval": "5m"}, "needs centralUrl"},
		{"bad principal", map[string]any{"decentralisedPrincipals": "222222222222,role/x"}, "neither a 12-digit account"},
		{"private centre", map[string]any{"decentralisedPrincipals": lobAccount, "privateNetwork": true}, "privateNetwork"},
	} {
		app := awscdk.NewApp(&awscdk.AppProps{Context: &c.ctx})
		if _, err := ConfigFromContext(app); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %q", c.name, err, c.want)
		}
	}
	list := map[string]any{"decentralisedPrincipals": `["` + lobAccount + `", "` + lobRoleARN + `"]`}
	app = awscdk.NewApp(&awscdk.AppProps{Context: &list})
	if cfg, err := ConfigFromContext(app); err != nil || strings.Join(cfg.DecentralisedPrincipals, " ") != lobAccount+" "+lobRoleARN {
		t.Errorf("JSON list of principals: %v %v", cfg.DecentralisedPrincipals, err)
	}
}
