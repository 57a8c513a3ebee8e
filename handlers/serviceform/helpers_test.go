package serviceform

import (
	"testing"

	"github.com/fdlstudio/fdlstudio/backends"
	"github.com/fdlstudio/fdlstudio/templates"
)

func mustParse(t *testing.T, y string) *backends.Service {
	t.Helper()
	_, svc, diags, err := ParseYAML([]byte(y))
	if err != nil {
		t.Fatalf("%v %v", err, diags)
	}
	return svc
}

func templatesForm() templates.ServiceForm {
	return templates.ServiceForm{Cluster: "edge", Name: "s", Image: "alpine", Script: "echo\n", Visibility: "private"}
}
