package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awswafv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// APIFirewallProps configures APIFirewall.
type APIFirewallProps struct {
	// ResourceARN is the API Gateway stage to protect.
	ResourceARN *string
	// RateLimit is how many requests one IP may send in 5 minutes.
	RateLimit float64
}

// APIFirewall is a regional WAF WebACL with AWS's common and known-bad-inputs
// rule sets and a per-IP rate limit, associated with an API stage.
type APIFirewall struct {
	constructs.Construct
	// WebACL is the web ACL.
	WebACL awswafv2.CfnWebACL
}

// NewAPIFirewall creates an APIFirewall.
func NewAPIFirewall(scope constructs.Construct, id string, props *APIFirewallProps) *APIFirewall {
	c := constructs.NewConstruct(scope, &id)
	visibility := func(name string) *awswafv2.CfnWebACL_VisibilityConfigProperty {
		return &awswafv2.CfnWebACL_VisibilityConfigProperty{
			CloudWatchMetricsEnabled: jsii.Bool(true),
			MetricName:               jsii.String(name),
			SampledRequestsEnabled:   jsii.Bool(true),
		}
	}
	managed := func(priority float64, name string, overrides ...string) *awswafv2.CfnWebACL_RuleProperty {
		stmt := &awswafv2.CfnWebACL_ManagedRuleGroupStatementProperty{
			VendorName: jsii.String("AWS"),
			Name:       jsii.String(name),
		}
		if len(overrides) > 0 {
			list := []interface{}{}
			for _, o := range overrides {
				list = append(list, &awswafv2.CfnWebACL_RuleActionOverrideProperty{
					Name:        jsii.String(o),
					ActionToUse: &awswafv2.CfnWebACL_RuleActionProperty{Count: &awswafv2.CfnWebACL_CountActionProperty{}},
				})
			}
			stmt.RuleActionOverrides = &list
		}
		return &awswafv2.CfnWebACL_RuleProperty{
			Name:             jsii.String(name),
			Priority:         jsii.Number(priority),
			OverrideAction:   &awswafv2.CfnWebACL_OverrideActionProperty{None: map[string]interface{}{}},
			Statement:        &awswafv2.CfnWebACL_StatementProperty{ManagedRuleGroupStatement: stmt},
			VisibilityConfig: visibility(name),
		}
	}
	rules := []interface{}{
		&awswafv2.CfnWebACL_RuleProperty{
			Name:     jsii.String("RateLimitPerIP"),
			Priority: jsii.Number(0),
			Action:   &awswafv2.CfnWebACL_RuleActionProperty{Block: &awswafv2.CfnWebACL_BlockActionProperty{}},
			Statement: &awswafv2.CfnWebACL_StatementProperty{
				RateBasedStatement: &awswafv2.CfnWebACL_RateBasedStatementProperty{
					Limit:            jsii.Number(props.RateLimit),
					AggregateKeyType: jsii.String("IP"),
				},
			},
			VisibilityConfig: visibility("RateLimitPerIP"),
		},
		// Prompts and documents routinely exceed the common rule set's 8 KB body
		// limit; API Gateway's own 10 MB limit and the gateway's 413 bound them.
		managed(1, "AWSManagedRulesCommonRuleSet", "SizeRestrictions_BODY"),
		managed(2, "AWSManagedRulesKnownBadInputsRuleSet"),
	}
	acl := awswafv2.NewCfnWebACL(c, jsii.String("WebACL"), &awswafv2.CfnWebACLProps{
		Scope:            jsii.String("REGIONAL"),
		DefaultAction:    &awswafv2.CfnWebACL_DefaultActionProperty{Allow: &awswafv2.CfnWebACL_AllowActionProperty{}},
		VisibilityConfig: visibility("PlinthAPI"),
		Rules:            &rules,
	})
	awswafv2.NewCfnWebACLAssociation(c, jsii.String("Association"), &awswafv2.CfnWebACLAssociationProps{
		ResourceArn: props.ResourceARN,
		WebAclArn:   acl.AttrArn(),
	})
	return &APIFirewall{Construct: c, WebACL: acl}
}

// Protect associates the web ACL with another API stage.
func (f *APIFirewall) Protect(id string, resourceARN *string) {
	awswafv2.NewCfnWebACLAssociation(f.Construct, jsii.String(id), &awswafv2.CfnWebACLAssociationProps{
		ResourceArn: resourceARN,
		WebAclArn:   f.WebACL.AttrArn(),
	})
}
