package spec

import (
	"reflect"
	"testing"
)

// The mappings whose key names the connector schema constrains, as nameErrors
// looks for a refused name in them.
func TestNameContainers(t *testing.T) {
	_, _, err := connectorSchema()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][][]string{
		"/properties/interaction_types/propertyNames":          {{"interaction_types"}},
		"/properties/kinds/propertyNames":                      {{"kinds"}},
		"/$defs/fieldset/propertyNames":                        {{"config"}, {"credentials"}},
		"/$defs/rate_limit/properties/endpoints/propertyNames": {{"rate_limit", "endpoints"}},
	}
	if !reflect.DeepEqual(schemaNames, want) {
		t.Errorf("got %v\nwant %v", schemaNames, want)
	}
}

// Every propertyNames pattern of the connector schema has its rule in words, so a
// refused key is told what its name must be.
func TestNameRules(t *testing.T) {
	if _, _, err := connectorSchema(); err != nil {
		t.Fatal(err)
	}
	for frag := range schemaNames {
		pattern, ok := schemaAt(schemaRaw, frag+"/pattern").(string)
		if !ok {
			t.Errorf("%s: no pattern", frag)
			continue
		}
		if _, ok := nameRules[pattern]; !ok {
			t.Errorf("%s: pattern %q has no entry in nameRules", frag, pattern)
		}
	}
}
