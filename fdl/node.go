package fdl

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// Node returns the value node at a YAML path the model recorded: an entry's
// Path ("functions.oscar[0].my_cluster"), "storage_providers", "clusters",
// or a field below them. Aliases are followed; nil means nothing is there.
// The node belongs to d: read it, do not change it.
func (d *Document) Node(path string) *yaml.Node { return resolve(d.model.nodes[path]) }

// RenameCluster rewrites the cluster id of functions.oscar item i (the
// item's single key) in place and returns the edited document; d is
// unchanged.
func (d *Document) RenameCluster(i int, cluster string) (*Document, error) {
	if i < 0 || i >= len(d.model.Oscar) {
		return nil, fmt.Errorf("%s: there is no functions.oscar item %d", d.name, i)
	}
	k := d.model.keys[d.model.Oscar[i].Path]
	if k == nil {
		return nil, fmt.Errorf("%s: functions.oscar item %d has no key", d.name, i)
	}
	var probe yaml.Node
	if err := yaml.Unmarshal([]byte(cluster+": x"), &probe); err != nil || len(probe.Content) == 0 ||
		len(probe.Content[0].Content) != 2 || probe.Content[0].Content[0].Value != cluster {
		return nil, fmt.Errorf("%s: %q cannot be written as a plain key", d.name, cluster)
	}
	return d.renameKey(k, cluster)
}
