package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/plinth-ai/plinth/shared/platform/apiroutes"
)

// Decentralised mode across accounts. A line of business deploys its own Plinth with
// context centralUrl, centralAccount and centralApiId (centralRegion, centralStage and
// centralSyncInterval optional): its admin function gets the central settings
// (PLINTH_CENTRAL_AUTH=sigv4), execute-api:Invoke on exactly the centre's GET
// /admin/sync/registry and /admin/sync/baseline, and an EventBridge rule that invokes it
// with {"plinth":"central-sync"} every centralSyncInterval. The centre deploys with
// context decentralisedPrincipals, the lines of business's accounts or admin function
// role ARNs: its API's resource policy admits them for GET /admin/sync/* only
// (cross-account IAM needs both sides), and the centre maps each role to a platform
// auditor (POST /admin/iam-principals {"arn":…,"role":"auditor"}).

// CentralConfig is the centre a decentralised deployment pulls from.
type CentralConfig struct {
	// URL is the centre's base URL: its PlinthApi output ApiURL (stage included) or its
	// custom domain.
	URL string
	// Account, Region and APIID locate the centre's API (the REST API serving /admin, the
	// PlinthApi output ApiURL's id); Stage is its stage.
	Account, Region, APIID, Stage string
	// SyncMinutes is how often the admin function pulls (context centralSyncInterval, a Go
	// duration of whole minutes, default 5m).
	SyncMinutes int
}

// CentralSyncPaths are the centre's exports a decentralised deployment reads.
var CentralSyncPaths = []string{"admin/sync/registry", "admin/sync/baseline"}

// executeAPIHost is an API Gateway default endpoint: {api id}.execute-api.{region}.amazonaws.com.
var executeAPIHost = regexp.MustCompile(`^([a-z0-9]{10})\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$`)

// roleARNPattern is an IAM role ARN (a decentralised line of business's admin function role).
var roleARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::([0-9]{12}):role/[\w+=,.@/-]+$`)

// centralConfig reads the centre of a decentralised deployment (nil without centralUrl).
func centralConfig(node constructs.Node, cfg Config) (*CentralConfig, error) {
	get := func(key string) string {
		v, _ := node.TryGetContext(jsii.String(key)).(string)
		return strings.TrimSpace(v)
	}
	c := &CentralConfig{URL: get("centralUrl"), Account: get("centralAccount"), APIID: get("centralApiId"),
		Region: get("centralRegion"), Stage: get("centralStage"), SyncMinutes: 5}
	if c.URL == "" {
		if v := get("centralSyncInterval"); v != "" {
			return nil, fmt.Errorf("context centralSyncInterval needs centralUrl (the central Plinth to pull from)")
		}
		return nil, nil
	}
	switch {
	case cfg.TenantStack != nil:
		return nil, fmt.Errorf("context centralUrl (a decentralised Plinth) and tenantStack (a hybrid tenant's stack) are different deployments; give one")
	case cfg.PrivateNetwork:
		return nil, fmt.Errorf("context centralUrl with privateNetwork: the private network's execute-api endpoint would take the calls to the centre's regional API; deploy the line of business's Plinth without privateNetwork")
	case !accountPattern.MatchString(c.Account):
		return nil, fmt.Errorf("context centralAccount=%q: the central platform's 12-digit AWS account id is required with centralUrl", c.Account)
	case !apiIDPattern.MatchString(c.APIID):
		return nil, fmt.Errorf("context centralApiId=%q: the id of the centre's API serving /admin (from the PlinthApi output ApiURL) is required with centralUrl", c.APIID)
	}
	u, err := url.Parse(c.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("context centralUrl=%q: want the centre's https base URL (the PlinthApi output ApiURL or its custom domain)", c.URL)
	}
	if m := executeAPIHost.FindStringSubmatch(u.Host); m != nil {
		if m[1] != c.APIID {
			return nil, fmt.Errorf("context centralUrl is API %s, centralApiId %s: they must name the same API", m[1], c.APIID)
		}
		if c.Region == "" {
			c.Region = m[2]
		} else if c.Region != m[2] {
			return nil, fmt.Errorf("context centralUrl is in %s, centralRegion %s", m[2], c.Region)
		}
		if c.Stage == "" {
			c.Stage = strings.Trim(u.Path, "/")
		}
	}
	if c.Region == "" {
		return nil, fmt.Errorf("context centralRegion: the centre's region is required when centralUrl is a custom domain")
	}
	if c.Stage == "" {
		c.Stage = cfg.StageName
	}
	if v := get("centralSyncInterval"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Minute || d%time.Minute != 0 {
			return nil, fmt.Errorf("context centralSyncInterval=%q: want whole minutes, at least 1m (an EventBridge rate), such as 5m", v)
		}
		c.SyncMinutes = int(d / time.Minute)
	}
	return c, nil
}

// decentralisedPrincipals reads the centre's context decentralisedPrincipals: a
// comma-separated list or a JSON list of account ids and IAM role ARNs.
func decentralisedPrincipals(node constructs.Node, cfg Config) ([]string, error) {
	var raw []string
	switch v := node.TryGetContext(jsii.String("decentralisedPrincipals")).(type) {
	case nil:
		return nil, nil
	case string:
		if strings.HasPrefix(strings.TrimSpace(v), "[") {
			if err := json.Unmarshal([]byte(v), &raw); err != nil {
				return nil, fmt.Errorf("context decentralisedPrincipals: want a JSON list of account ids and role ARNs: %w", err)
			}
		} else {
			raw = strings.Split(v, ",")
		}
	case []any:
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("context decentralisedPrincipals: %v is not a string", x)
			}
			raw = append(raw, s)
		}
	default:
		return nil, fmt.Errorf("context decentralisedPrincipals: unsupported type %T", v)
	}
	var out []string
	for _, p := range raw {
		p = strings.TrimSpace(p)
		switch {
		case p == "":
			continue
		case !accountPattern.MatchString(p) && !roleARNPattern.MatchString(p):
			return nil, fmt.Errorf("context decentralisedPrincipals: %q is neither a 12-digit account id nor an IAM role ARN", p)
		}
		out = append(out, p)
	}
	if len(out) > 0 && cfg.PrivateNetwork {
		return nil, fmt.Errorf("context decentralisedPrincipals with privateNetwork: a private API is reached only through its VPC endpoint, not from other accounts")
	}
	return out, nil
}

// syncARN is the execute-api ARN of one of the centre's exports.
func (c CentralConfig) syncARN(path string) *string {
	return awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("arn:"), awscdk.Aws_PARTITION(),
		jsii.String(fmt.Sprintf(":execute-api:%s:%s:%s/%s/GET/%s", c.Region, c.Account, c.APIID, c.Stage, path)),
	})
}

// decentralise makes the admin function pull from the centre: the central settings, the
// right to call the centre's exports and nothing else there, and the schedule.
func (s *APIStack) decentralise(c CentralConfig) {
	s.Central = &c
	admin := s.Functions["admin"]
	admin.AddEnvironment("PLINTH_CENTRAL_URL", jsii.String(c.URL))
	admin.AddEnvironment("PLINTH_CENTRAL_AUTH", jsii.String("sigv4"))
	admin.AddEnvironment("PLINTH_CENTRAL_REGION", jsii.String(c.Region))
	admin.AddEnvironment("PLINTH_CENTRAL_SYNC_INTERVAL", jsii.String(fmt.Sprintf("%dm", c.SyncMinutes)))
	var arns []*string
	for _, p := range CentralSyncPaths {
		arns = append(arns, c.syncARN(p))
	}
	allow(admin.Role, []string{"execute-api:Invoke"}, arns...)
	awsevents.NewRule(s.Stack, jsii.String("CentralSync"), &awsevents.RuleProps{
		Description: jsii.String("Pull the central Plinth's model registry and guardrail baseline"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(float64(c.SyncMinutes)))),
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(admin.Function, &awseventstargets.LambdaFunctionProps{
			Event: awsevents.RuleTargetInput_FromObject(map[string]any{"plinth": "central-sync"}),
		})},
	})
	output(s.Stack, "AdminFunctionRoleArn", admin.Role.RoleArn())
}

// centreAPIPolicy is the key API's resource policy on a centre with decentralised lines
// of business: their principals may call GET /admin/sync/* and nothing else of /admin,
// and the routes that are not IAM-authorised stay open to every caller (a resource
// policy that admits only AWS principals would refuse API-key and public callers).
// Callers of the account's own /admin are decided by their IAM policies, as before.
func centreAPIPolicy(stage string, principals []string) awsiam.PolicyDocument {
	if len(principals) == 0 {
		return nil
	}
	open := map[string]bool{}
	for _, rt := range apiroutes.All() {
		if rt.Auth == apiroutes.AuthIAM {
			continue
		}
		first := strings.SplitN(strings.TrimPrefix(rt.Path, "/"), "/", 2)[0]
		if first == "admin" {
			panic("a route under /admin is not IAM-authorised: " + rt.Path)
		}
		open[first] = true
	}
	var segs []string
	for seg := range open {
		segs = append(segs, seg)
	}
	sort.Strings(segs)
	var public []string
	for _, seg := range segs {
		public = append(public, fmt.Sprintf("execute-api:/%s/*/%s", stage, seg), fmt.Sprintf("execute-api:/%s/*/%s/*", stage, seg))
	}
	statements := []awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("TenantAndPublicRoutes"),
		Effect:     awsiam.Effect_ALLOW,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("execute-api:Invoke"),
		Resources:  jsii.Strings(public...),
	})}
	byAccount := map[string][]string{}
	var accounts []string
	for _, p := range principals {
		account := p
		if m := roleARNPattern.FindStringSubmatch(p); m != nil {
			account = m[1]
		}
		if _, seen := byAccount[account]; !seen {
			accounts = append(accounts, account)
		}
		if p != account {
			byAccount[account] = append(byAccount[account], p)
		} else {
			byAccount[account] = append(byAccount[account], "")
		}
	}
	sync := jsii.Strings(fmt.Sprintf("execute-api:/%s/GET/admin/sync/*", stage))
	for _, account := range accounts {
		st := &awsiam.PolicyStatementProps{
			Sid:        jsii.String("DecentralisedSync" + account),
			Effect:     awsiam.Effect_ALLOW,
			Principals: &[]awsiam.IPrincipal{awsiam.NewAccountPrincipal(jsii.String(account))},
			Actions:    jsii.Strings("execute-api:Invoke"),
			Resources:  sync,
		}
		var roles []string
		whole := false
		for _, r := range byAccount[account] {
			if r == "" {
				whole = true
			} else {
				roles = append(roles, r)
			}
		}
		if !whole {
			st.Conditions = &map[string]any{"ArnEquals": map[string]any{"aws:PrincipalArn": roles}}
		}
		statements = append(statements, awsiam.NewPolicyStatement(st))
	}
	return awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &statements})
}

// CentralSyncFailures is the metric the admin function writes after each pull (1 failed,
// 0 applied), averaged over at least one sync interval by the alarm.
func (c CentralConfig) CentralSyncFailures() awscloudwatch.IMetric {
	minutes := c.SyncMinutes
	if minutes < 5 {
		minutes = 5
	}
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace:     jsii.String("Plinth"),
		MetricName:    jsii.String("CentralSyncFailures"),
		DimensionsMap: &map[string]*string{"Operation": jsii.String("central-sync")},
		Statistic:     jsii.String("Maximum"),
		Period:        awscdk.Duration_Minutes(jsii.Number(float64(minutes))),
	})
}
