package spec

// YAMLLines is yamlLines, for the fuzz tests' position checks: they check errors
// against the lines the loader itself numbers.
var YAMLLines = yamlLines
