package spec
import ("fmt"; "path/filepath"; "testing")
func TestScratch(t *testing.T){
  files,_ := filepath.Glob("testdata/bad/*.bad.yaml")
  for _, f := range files { _, err := LoadFile(f); fmt.Printf("=== %s\n%v\n", f, err) }
}
