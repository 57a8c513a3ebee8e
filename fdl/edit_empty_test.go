package fdl

import (
	"strings"
	"testing"
)

// TestSetOverEmptyStringDropsItsQuotes: an empty string is quoted because
// it must be; setting a value over it writes the value as it is given.
func TestSetOverEmptyStringDropsItsQuotes(t *testing.T) {
	src := "functions:\n  oscar:\n  - c:\n      name: a\n      image: \"\" # fill in\n      script: ''\n"
	d, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]string{"image": "      image: alpine # fill in\n", "script": "      script: run.sh\n"} {
		value := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(want), field+": "), " # fill in")
		nd, err := d.Set(Ref{Name: "a"}, field, value)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(nd.Bytes()), want) {
			t.Errorf("after Set %s:\n%s", field, nd.Bytes())
		}
	}
}
