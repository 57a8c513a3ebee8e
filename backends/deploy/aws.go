package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/backends/scar"
	"github.com/fdlstudio/fdlstudio/fdl"
)

// AWS functions (functions.aws) go through the same plan and apply as
// OSCAR services. Each entry becomes a service carrying the whole entry
// (scar.ServiceOf), under an FDL cluster id of its own, which the plan
// maps to a registered AWS account like any other cluster id: AWSCluster
// for entries that name no region, AWSCluster-REGION for those that do,
// so functions in two regions can go to two accounts.

// AWSCluster is the FDL cluster id of functions.aws entries without a
// lambda.region.
const AWSCluster = "aws"

// AWSClusterID is the FDL cluster id of one functions.aws entry.
func AWSClusterID(e *fdl.AWSEntry) string {
	if e.Lambda != nil && e.Lambda.Region != "" {
		return AWSCluster + "-" + e.Lambda.Region
	}
	return AWSCluster
}

// awsAccount is what an AWS account's backend offers beyond Services
// (scar.Backend): the plan checks that AWS functions go to one, in the
// region they name, and that OSCAR services do not, and asks it whether
// each function can be deployed there (image, role, Batch settings).
type awsAccount interface {
	Region() string
	Check(s *backends.Service) error
}

// AWSFunctions maps every functions.aws entry of doc to a service, in
// file order. An init_script given as a path is read from scripts (nil:
// kept as written). Path is the entry's lambda mapping, as the graph
// names the function.
func AWSFunctions(doc *fdl.Document, scripts fs.FS) ([]Function, error) {
	var out []Function
	for _, e := range doc.Model().AWS {
		if e.Lambda == nil || e.Lambda.Name == "" {
			return nil, fmt.Errorf("%s: the AWS function has no lambda.name", e.Path)
		}
		c := *e
		l := *e.Lambda
		c.Lambda = &l
		if scripts != nil && l.InitScript != "" && !fdl.IsInlineScript(l.InitScript) {
			b, err := fdl.ScriptContent(scripts, fdl.Script{YAMLPath: e.Path + ".lambda.init_script", Value: l.InitScript})
			if err != nil {
				return nil, err
			}
			l.InitScript = string(b)
		}
		svc, err := scar.ServiceOf(&c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Path, err)
		}
		out = append(out, Function{Cluster: AWSClusterID(e), Path: e.Path + ".lambda", Service: svc})
	}
	return out, nil
}

// awsComparable is an AWS function's service as the plan compares it:
// its name and entry only (the other fields are read from the entry).
func awsComparable(s *backends.Service) *backends.Service {
	return &backends.Service{Name: s.Name, Extra: map[string]json.RawMessage{scar.ExtraKey: s.Extra[scar.ExtraKey]}}
}

// checkKinds refuses a plan that sends AWS functions to anything but an
// AWS account (in the region the entry names), or OSCAR services to an
// AWS account. A cluster that cannot be reached is left to the reads
// that follow, which say so.
func checkKinds(ctx context.Context, cs *clusterSet, actions []Action) error {
	for i := range actions {
		a := &actions[i]
		if a.Service == nil || a.Cluster == "" {
			continue
		}
		c, err := cs.get(ctx, a.Cluster)
		if err != nil {
			continue
		}
		region := ""
		if e, _ := scar.EntryOf(a.Service); e != nil && e.Lambda != nil {
			region = e.Lambda.Region
		}
		if err := checkKind(a, c.svcs, region); err != nil {
			return err
		}
		if acct, ok := c.svcs.(awsAccount); ok {
			if err := acct.Check(a.Service); err != nil {
				a.Kind, a.Reason = ActionUnsupported, backends.MessageOf(err)
			}
		}
	}
	return nil
}

func checkKind(a *Action, svcs backends.Services, region string) error {
	acct, isAWS := svcs.(awsAccount)
	switch {
	case scar.IsFunction(a.Service) && !isAWS:
		return inputErr("%s: AWS function %q is mapped (FDL cluster %q) to %q, which is not an AWS account", a.Path, a.Name, a.FDLCluster, a.Cluster)
	case !scar.IsFunction(a.Service) && isAWS:
		return inputErr("%s: OSCAR service %q is mapped (FDL cluster %q) to %q, which is an AWS account", a.Path, a.Name, a.FDLCluster, a.Cluster)
	case isAWS && region != "" && acct.Region() != region:
		return inputErr("%s: AWS function %q asks for region %s, but the AWS account %q is in %s", a.Path, a.Name, region, a.Cluster, acct.Region())
	}
	return nil
}

// awsEffects lists what deploying an AWS function creates or changes
// besides the function: its input and output buckets (when the account
// does not have them), input folders, and the notification entry added
// to each input bucket (the bucket's other entries stay). existing is
// the account's buckets (nil: unknown).
func awsEffects(a *Action, existing map[string]bool, said map[string]bool) []Effect {
	e, err := scar.EntryOf(a.Service)
	if err != nil || e == nil || e.Lambda == nil {
		return nil
	}
	var had *fdl.AWSEntry
	if a.Deployed != nil {
		had, _ = scar.EntryOf(a.Deployed)
	}
	hadIO := func(in bool, path string) bool {
		if had == nil || had.Lambda == nil {
			return false
		}
		ios := had.Lambda.Output
		if in {
			ios = had.Lambda.Input
		}
		return slices.ContainsFunc(ios, func(io fdl.StorageIO) bool { return isS3(io) && strings.Trim(io.Path, "/") == path })
	}
	var out []Effect
	bucket := func(b string) {
		if b == "" || existing[b] || said[a.Cluster+"\x00"+b] {
			return
		}
		said[a.Cluster+"\x00"+b] = true
		msg := fmt.Sprintf("creates S3 bucket %q on %s", b, a.Cluster)
		if existing == nil {
			msg = fmt.Sprintf("creates S3 bucket %q on %s if it does not exist", b, a.Cluster)
		}
		out = append(out, Effect{Kind: EffectStorage, Cluster: a.Cluster, Function: a.Name, Bucket: b, Message: msg})
	}
	for _, io := range e.Lambda.Input {
		if !isS3(io) {
			continue
		}
		p := strings.Trim(io.Path, "/")
		b, folder, _ := strings.Cut(p, "/")
		bucket(b)
		if hadIO(true, p) {
			continue
		}
		if folder != "" {
			out = append(out, Effect{Kind: EffectStorage, Cluster: a.Cluster, Function: a.Name, Bucket: b,
				Message: fmt.Sprintf("creates folder %q on %s", p, a.Cluster)})
		}
		out = append(out, Effect{Kind: EffectTrigger, Cluster: a.Cluster, Function: a.Name, Bucket: b,
			Message: fmt.Sprintf("adds a notification to S3 bucket %q on %s: objects under %q invoke %s (the bucket's other notifications stay)", b, a.Cluster, folder+"/", a.Name)})
	}
	for _, io := range e.Lambda.Output {
		if isS3(io) {
			b, _, _ := strings.Cut(strings.Trim(io.Path, "/"), "/")
			bucket(b)
		}
	}
	return out
}

// awsDeleteEffect says what deleting an AWS function removes: its
// notification entries, permissions, log group, API and Batch resources;
// its buckets and their objects stay.
func awsDeleteEffect(a *Action) *Effect {
	if a.Deployed == nil || !scar.IsFunction(a.Deployed) {
		return nil
	}
	e, err := scar.EntryOf(a.Deployed)
	if err != nil || e == nil || e.Lambda == nil {
		return nil
	}
	var buckets []string
	for _, io := range e.Lambda.Input {
		if b, _, _ := strings.Cut(strings.Trim(io.Path, "/"), "/"); isS3(io) && b != "" && !slices.Contains(buckets, b) {
			buckets = append(buckets, b)
		}
	}
	msg := fmt.Sprintf("deleting %s on %s removes the function, its log group", a.Name, a.Cluster)
	if len(buckets) > 0 {
		msg += " and its notifications on S3 bucket(s) " + strings.Join(buckets, ", ") + "; the buckets and their objects stay"
	}
	return &Effect{Kind: EffectTrigger, Cluster: a.Cluster, Function: a.Name, Message: msg}
}

func isS3(io fdl.StorageIO) bool {
	typ, _ := fdl.ParseProvider(io.StorageProvider)
	return strings.EqualFold(typ, "s3")
}

// awsFDL writes an AWS function's entry as an FDL document holding it
// alone under functions.aws.
func awsFDL(s *backends.Service) ([]byte, error) {
	var entry any
	if err := json.Unmarshal(s.Extra[scar.ExtraKey], &entry); err != nil {
		return nil, fmt.Errorf("AWS function %q: %w", s.Name, err)
	}
	js, err := json.Marshal(map[string]any{"functions": map[string]any{"aws": []any{entry}}})
	if err != nil {
		return nil, err
	}
	n, err := valueNode(js)
	if err != nil {
		return nil, err
	}
	return encode(n)
}
